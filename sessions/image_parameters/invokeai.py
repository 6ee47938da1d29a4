"""InvokeAI's three formats, newest first.

- ``invokeai_metadata`` (3.0 and later, ``image_files_disk.py``): the core metadata as JSON,
  ``positive_prompt``, ``negative_prompt``, ``seed``, ``steps``, ``cfg_scale``, ``scheduler``
  (InvokeAI's name for the sampler: ``euler``, ``dpmpp_2m_k``...), ``width``, ``height`` and
  ``model`` (``{"name": ...}``; 3.x wrote ``{"model_name": ...}``).
- ``sd-metadata`` (2.x, ``ldm/invoke/pngwriter.py``): JSON with ``model_weights`` and an
  ``image`` object (``prompt`` as a list of ``{"prompt", "weight"}``, ``steps``, ``cfg_scale``,
  ``seed``, ``width``, ``height``, ``sampler``).
- ``Dream`` (the oldest, the same file): the command line that makes the image again,
  ``"prompt [negative]" -s 50 -S 2980747362 -W 512 -H 768 -C 7.5 -A k_lms``; switches may be
  written without a space before their value (``-s50``).

In 2.x, text in square brackets inside the prompt is the negative prompt.
"""

from __future__ import annotations

import re
from typing import Any

from .result import ImageParameters, build, json_object, merged

_BRACKETS = re.compile(r"\[([^\[\]]*)\]")
_QUOTED_PROMPT = re.compile(r'\s*"((?:[^"\\]|\\.)*)"(.*)', re.DOTALL)
_SWITCHES = {
    "-s": "steps", "--steps": "steps", "-S": "seed", "--seed": "seed", "-W": "width", "--width": "width",
    "-H": "height", "--height": "height", "-C": "cfg_scale", "--cfg_scale": "cfg_scale",
    "-A": "sampler_name", "--sampler": "sampler_name",
}


def parse_invokeai(texts: dict[str, str]) -> ImageParameters | None:
    found = [parsed for parsed in (
        _from_core_metadata(json_object(texts.get("invokeai_metadata"))),
        _from_sd_metadata(json_object(texts.get("sd-metadata"))),
        _from_dream(texts.get("Dream")),
    ) if parsed is not None]
    if not found:
        return None
    result = found[0]
    for fallback in found[1:]:
        result = merged(result, fallback)
    return result


def _from_core_metadata(metadata: dict[str, Any] | None) -> ImageParameters | None:
    if metadata is None:
        return None
    model = metadata.get("model")
    if isinstance(model, dict):
        model = model.get("name") or model.get("model_name")
    return build(
        "InvokeAI",
        prompt=metadata.get("positive_prompt"),
        negative_prompt=metadata.get("negative_prompt"),
        seed=metadata.get("seed"),
        sd_model=model,
        sampler_name=metadata.get("scheduler"),
        steps=metadata.get("steps"),
        cfg_scale=metadata.get("cfg_scale"),
        width=metadata.get("width"),
        height=metadata.get("height"),
    )


def _from_sd_metadata(metadata: dict[str, Any] | None) -> ImageParameters | None:
    if metadata is None:
        return None
    image = metadata.get("image")
    if not isinstance(image, dict):
        image = {}
    prompt = image.get("prompt")
    if isinstance(prompt, list):
        prompt = ", ".join(part["prompt"] for part in prompt
                           if isinstance(part, dict) and isinstance(part.get("prompt"), str))
    prompt, negative = _split_negative(prompt) if isinstance(prompt, str) else (None, None)
    return build(
        "InvokeAI",
        prompt=prompt,
        negative_prompt=negative,
        seed=image.get("seed"),
        sd_model=metadata.get("model_weights"),
        sampler_name=image.get("sampler"),
        steps=image.get("steps"),
        cfg_scale=image.get("cfg_scale"),
        width=image.get("width"),
        height=image.get("height"),
    )


def _from_dream(command: str | None) -> ImageParameters | None:
    if not command or not command.strip():
        return None
    quoted = _QUOTED_PROMPT.match(command)
    if quoted:
        prompt, rest = quoted.group(1).replace('\\"', '"'), quoted.group(2)
    else:
        # Unquoted: the prompt runs up to the first switch.
        prompt, _, rest = command.partition(" -")
        rest = "-" + rest if rest else ""
    values: dict[str, str] = {}
    tokens = rest.split()
    for index, token in enumerate(tokens):
        if token in _SWITCHES and index + 1 < len(tokens):
            values.setdefault(_SWITCHES[token], tokens[index + 1])
        elif token[:2] in _SWITCHES and len(token) > 2 and not token.startswith("--"):
            values.setdefault(_SWITCHES[token[:2]], token[2:])
    prompt, negative = _split_negative(prompt)
    return build("InvokeAI", prompt=prompt, negative_prompt=negative, **values)


def _split_negative(prompt: str) -> tuple[str, str | None]:
    negatives = [part.strip() for part in _BRACKETS.findall(prompt) if part.strip()]
    if not negatives:
        return prompt, None
    return " ".join(_BRACKETS.sub(" ", prompt).split()), ", ".join(negatives)

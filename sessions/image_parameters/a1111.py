"""AUTOMATIC1111/Forge "infotext": the ``parameters`` text chunk or EXIF UserComment.

The format, as ``modules/infotext_utils.py`` (``parse_generation_parameters``) of
stable-diffusion-webui reads it::

    prompt lines
    Negative prompt: negative lines
    Steps: 20, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7, Seed: 1, Size: 512x768, Model: x

The last line holds the parameters when at least three ``Key: value`` pairs are found on it;
values holding a comma, colon or line break are written JSON-quoted.
"""

from __future__ import annotations

import json
import re

from .result import Generator, ImageParameters, build

# Anchored at the start of the line or a comma so that a long line costs linear time.
_PAIR = re.compile(r'(?:^|,)\s*(\w[\w \-/]*?):\s*("(?:[^"\\]|\\.)*"|[^,]*)')
_SIZE = re.compile(r"(\d+)x(\d+)")
_NEGATIVE = "Negative prompt:"


def parse_infotext(text: str, generator: Generator = "AUTOMATIC1111") -> ImageParameters | None:
    """The parameters of an infotext; None when it holds neither a prompt nor parameters."""
    *lines, last = [line.rstrip("\r") for line in text.strip().split("\n")]
    pairs = _PAIR.findall(last)
    if len(pairs) < 3:
        lines.append(last)
        pairs = []
    prompt: list[str] = []
    negative: list[str] | None = None
    for line in lines:
        if negative is None and line.startswith(_NEGATIVE):
            negative = [line[len(_NEGATIVE):]]
        elif negative is None:
            prompt.append(line)
        else:
            negative.append(line)
    values = {key.strip(): _unquote(value.strip()) for key, value in pairs}
    if not values and not any(line.strip() for line in prompt):
        return None
    if generator == "AUTOMATIC1111" and values.get("Version", "").startswith("Fooocus"):
        generator = "Fooocus"
    size = _SIZE.fullmatch(values.get("Size", ""))
    return build(
        generator,
        prompt="\n".join(prompt),
        negative_prompt=None if negative is None else "\n".join(negative),
        seed=values.get("Seed"),
        # Infotexts older than the model name (autumn 2022) carry only its hash.
        sd_model=values.get("Model") or values.get("Model hash"),
        sampler_name=values.get("Sampler"),
        scheduler=values.get("Schedule type"),
        steps=values.get("Steps"),
        cfg_scale=values.get("CFG scale"),
        width=size.group(1) if size else None,
        height=size.group(2) if size else None,
    )


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        try:
            unquoted = json.loads(value)
        except ValueError:
            return value
        if isinstance(unquoted, str):
            return unquoted
    return value

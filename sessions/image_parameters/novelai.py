"""NovelAI: PNG text chunks ``Software`` ("NovelAI"), ``Description`` (the prompt), ``Source``
(the model, "Stable Diffusion XL C1E1DE52", "NovelAI Diffusion V4.5 4BDE2A90") and ``Comment``,
a JSON object with ``steps``, ``sampler``, ``seed``, ``scale`` (the CFG scale), ``uc`` (the
negative prompt) and, from V3 on, ``prompt``, ``width``, ``height``, ``noise_schedule`` and the
V4 ``v4_prompt``/``v4_negative_prompt`` captions.

As stable-diffusion-webui's ``modules/images.py`` (``read_info_from_image``) reads it.
"""

from __future__ import annotations

from typing import Any

from .result import ImageParameters, build, json_object


def parse_novelai(texts: dict[str, str]) -> ImageParameters | None:
    comment = json_object(texts.get("Comment"))
    software = (texts.get("Software") or "").strip()
    if software != "NovelAI" and not (comment and "uc" in comment and ("scale" in comment or "sampler" in comment)):
        return None
    comment = comment or {}
    prompt = comment.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        prompt = _caption(comment.get("v4_prompt")) or texts.get("Description")
    negative = comment.get("uc")
    if not isinstance(negative, str) or not negative.strip():
        negative = _caption(comment.get("v4_negative_prompt"))
    return build(
        "NovelAI",
        prompt=prompt,
        negative_prompt=negative,
        seed=comment.get("seed"),
        sd_model=texts.get("Source"),
        sampler_name=comment.get("sampler"),
        scheduler=comment.get("noise_schedule"),
        steps=comment.get("steps"),
        cfg_scale=comment.get("scale"),
        width=comment.get("width"),
        height=comment.get("height"),
    )


def _caption(value: Any) -> str | None:
    if isinstance(value, dict) and isinstance(value.get("caption"), dict):
        caption = value["caption"].get("base_caption")
        return caption if isinstance(caption, str) else None
    return None

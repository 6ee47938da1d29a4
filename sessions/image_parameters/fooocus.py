"""Fooocus: the ``parameters`` text chunk (JPEG/WebP: EXIF UserComment) holds JSON, next to a
``fooocus_scheme`` chunk (EXIF MakerNote) naming the scheme (``modules/meta_parser.py``).

The "fooocus" scheme writes ``prompt``, ``negative_prompt``, ``seed`` (as a string),
``steps``, ``guidance_scale``, ``sampler``, ``scheduler``, ``base_model`` and ``resolution``
("(768, 1280)"); the older log style wrote the same under ``Prompt``, ``Negative Prompt``,
``Seed``, ``Guidance Scale``, ``Base Model``, ``Resolution``... With the "a1111" scheme the
text is an AUTOMATIC1111 infotext whose ``Version`` starts with "Fooocus".
"""

from __future__ import annotations

import re
from typing import Any

from .result import ImageParameters, build

_FOOOCUS_KEYS = frozenset({
    "base_model", "guidance_scale", "performance", "sharpness", "adm_guidance", "fooocus_v2_expansion",
    "prompt_expansion", "metadata_scheme", "refiner_model",
})
_PAIR_OF_NUMBERS = re.compile(r"\D*(\d+)\D+(\d+)\D*")


def is_fooocus(document: dict[str, Any], scheme: str | None = None) -> bool:
    keys = {_key(name) for name in document}
    version = document.get("version") or document.get("Version")
    return (scheme is not None or not _FOOOCUS_KEYS.isdisjoint(keys)
            or (isinstance(version, str) and version.startswith("Fooocus")))


def parse_fooocus(document: dict[str, Any]) -> ImageParameters:
    values = {_key(name): value for name, value in document.items()}
    width = height = None
    resolution = values.get("resolution")
    if isinstance(resolution, (list, tuple)) and len(resolution) == 2:
        width, height = resolution
    elif isinstance(resolution, str):
        numbers = _PAIR_OF_NUMBERS.fullmatch(resolution)
        if numbers:
            width, height = numbers.groups()
    return build(
        "Fooocus",
        prompt=values.get("prompt"),
        negative_prompt=values.get("negative_prompt"),
        seed=values.get("seed"),
        sd_model=values.get("base_model"),
        sampler_name=values.get("sampler"),
        scheduler=values.get("scheduler"),
        steps=values.get("steps"),
        cfg_scale=values.get("guidance_scale", values.get("cfg_scale")),
        width=width,
        height=height,
    )


def _key(name: str) -> str:
    return name.strip().lower().replace(" ", "_")

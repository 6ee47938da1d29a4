"""What reading an image's parameters can answer, and the value rules every format shares."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any, Literal

Generator = Literal["AUTOMATIC1111", "ComfyUI", "InvokeAI", "NovelAI", "Fooocus"]

PARAM_KEYS = ("sd_model", "sampler_name", "scheduler", "steps", "cfg_scale", "width", "height")


@dataclass(frozen=True)
class ImageParameters:
    """Generation parameters embedded in one image file.

    ``params`` always has exactly the keys of ``PARAM_KEYS``; ``steps``, ``width`` and
    ``height`` are ints, ``cfg_scale`` a float, the rest text, each None when unknown.
    """

    generator: Generator | None
    prompt: str | None
    negative_prompt: str | None
    seed: int | None
    params: dict[str, Any]


@dataclass(frozen=True)
class UnreadableImage:
    """The file is not a readable image: count it and log ``reason``; nothing was raised."""

    reason: str

    def __bool__(self) -> bool:
        # Reads as "no parameters" in a plain truth test, like None.
        return False


def build(
    generator: Generator | None,
    *,
    prompt: Any = None,
    negative_prompt: Any = None,
    seed: Any = None,
    sd_model: Any = None,
    sampler_name: Any = None,
    scheduler: Any = None,
    steps: Any = None,
    cfg_scale: Any = None,
    width: Any = None,
    height: Any = None,
) -> ImageParameters:
    """An ``ImageParameters`` whose values are brought to their types (None when they do not fit)."""
    return ImageParameters(
        generator=generator,
        prompt=as_text(prompt),
        negative_prompt=as_text(negative_prompt),
        seed=as_int(seed),
        params={
            "sd_model": as_text(sd_model),
            "sampler_name": as_text(sampler_name),
            "scheduler": as_text(scheduler),
            "steps": as_int(steps),
            "cfg_scale": as_float(cfg_scale),
            "width": as_int(width),
            "height": as_int(height),
        },
    )


def merged(first: ImageParameters, fallback: ImageParameters) -> ImageParameters:
    """``first`` with each unknown value taken from ``fallback`` (the generator stays ``first``'s)."""
    return ImageParameters(
        generator=first.generator,
        prompt=first.prompt if first.prompt is not None else fallback.prompt,
        negative_prompt=first.negative_prompt if first.negative_prompt is not None else fallback.negative_prompt,
        seed=first.seed if first.seed is not None else fallback.seed,
        params={key: first.params[key] if first.params[key] is not None else fallback.params[key]
                for key in PARAM_KEYS},
    )


_INTEGER = re.compile(r"[+-]?\d{1,40}")
_NUMBER = re.compile(r"[+-]?(\d{1,40}(\.\d*)?|\.\d+)([eE][+-]?\d{1,3})?")


def as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    if isinstance(value, str):
        text = value.strip()
        if _INTEGER.fullmatch(text):
            return int(text)
        number = as_float(text)
        return int(number) if number is not None and number.is_integer() else None
    return None


def as_float(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        number = float(value) if abs(value) < 1e300 else math.inf
    elif isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
        number = float(value)
    else:
        return None
    return number if math.isfinite(number) else None


def as_text(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    text = value.strip()
    return text or None


def json_object(text: str | None) -> dict[str, Any] | None:
    """``text`` read as a JSON object; None when it is not one (or nests too deep to read)."""
    if not text or text.lstrip()[:1] != "{":
        return None
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return document if isinstance(document, dict) else None

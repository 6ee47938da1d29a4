"""Generation parameters embedded in image files by other generators (SPEC §3).

One entry point, ``read_image_parameters(path)``, answers one of three things and never raises:

- an ``ImageParameters`` (generator, prompt, negative prompt, seed, params) when the file
  carries parameters a generator wrote; whatever could not be read in them is None;
- ``None`` when the file is a readable image without recognisable parameters;
- an ``UnreadableImage(reason)`` when the file is not a readable PNG, JPEG or WebP image at
  all (empty, not an image, not a regular file, unreadable): the caller counts and logs it.
  It is falsy, so ``if parameters:`` treats it like None.

Only the signature, the PNG header and the metadata are judged: a file cut short or damaged
after them keeps the complete metadata before the cut (generators write their text chunks
before the image data, so a PNG still being written has them once they are there), and damage
to the image data itself is for whatever decodes the pixels (the thumbnails) to find.

Formats: AUTOMATIC1111/Forge (PNG ``parameters``; JPEG/WebP EXIF UserComment), ComfyUI (PNG
``prompt`` graph; WebP EXIF ``Model``), InvokeAI (``invokeai_metadata``, ``sd-metadata``,
``Dream``), NovelAI (``Comment``/``Description``/``Software``), Fooocus (``parameters`` JSON or
infotext, ``fooocus_scheme``). Only metadata is read, never pixels: see ``containers`` for the
limits (``MAX_TEXT_CHUNK``). AUTOMATIC1111's "stealth" parameters, hidden in the low bits of
the alpha channel, are not read: even checking for their marker means inflating the first 152
rows of every RGBA PNG without text (about 1.6 ms for a noisy 512x768 image, some 40 times the
cost of reading a file's metadata).

These readers are ours rather than the ``sd-parsers`` package's (0.6, March 2025): on the inputs
a library meets, it decoded whole images when their metadata was missing or came after the
image data (6 ms a file instead of a few tens of µs), read a 50 MB text chunk whole (3.6 s,
160 MB of memory), raised on cut-short, empty and corrupt files, blocked on a FIFO, found
nothing in ComfyUI images without the editor's ``workflow`` chunk (images saved through the
API), missed the SDXL text encoders' prompts, and read UserComments only as big-endian UTF-16.
"""

from __future__ import annotations

import logging
import os

from .a1111 import parse_infotext
from .comfyui import parse_graph
from .containers import MAX_TEXT_CHUNK, NotAnImage, PngImage, read_container
from .exif import read_exif
from .fooocus import is_fooocus, parse_fooocus
from .invokeai import parse_invokeai
from .novelai import parse_novelai
from .result import PARAM_KEYS, Generator, ImageParameters, UnreadableImage, build, json_object, merged

__all__ = ["MAX_TEXT_CHUNK", "PARAM_KEYS", "Generator", "ImageParameters", "UnreadableImage", "read_image_parameters"]

logger = logging.getLogger(__name__)


def read_image_parameters(path: str | os.PathLike[str]) -> ImageParameters | UnreadableImage | None:
    """The generation parameters embedded in the image at ``path`` (see the module's docstring)."""
    try:
        container = read_container(path)
    except NotAnImage as error:
        return UnreadableImage(str(error))
    try:
        if isinstance(container, PngImage):
            return _from_png(container)
        return _from_exif(container.exif) if container.exif else None
    except Exception:
        # The readers are written not to raise; should one still do, one image must not stop a sync.
        logger.exception("Reading the parameters of %s failed", os.fsdecode(path))
        return None


def _from_png(png: PngImage) -> ImageParameters | None:
    texts = png.texts
    comfy = parse_graph(json_object(texts.get("prompt"))) if "prompt" in texts else None
    written = _from_parameters(texts.get("parameters"), texts.get("fooocus_scheme"))
    if comfy is not None:
        # Custom save nodes write an infotext beside the graph: it fills what the graph hides.
        return merged(comfy, written) if written is not None else comfy
    if written is not None:
        return written
    if "workflow" in texts:
        return build("ComfyUI")
    found = parse_invokeai(texts) or parse_novelai(texts)
    if found is None and png.exif:
        found = _from_exif(png.exif)
    return found


def _from_parameters(text: str | None, fooocus_scheme: str | None) -> ImageParameters | None:
    if not text:
        return None
    document = json_object(text)
    if document is not None:
        return parse_fooocus(document) if is_fooocus(document, fooocus_scheme) else None
    return parse_infotext(text, "Fooocus" if fooocus_scheme else "AUTOMATIC1111")


def _from_exif(tiff: bytes) -> ImageParameters | None:
    fields = read_exif(tiff)
    if fields.model and fields.model.startswith("prompt:"):
        comfy = parse_graph(json_object(fields.model[len("prompt:"):]))
        if comfy is not None:
            return comfy
    if not fields.user_comment:
        return None
    by_fooocus = bool(fields.software and fields.software.startswith("Fooocus"))
    document = json_object(fields.user_comment)
    if document is None:
        return parse_infotext(fields.user_comment, "Fooocus" if by_fooocus else "AUTOMATIC1111")
    if is_fooocus(document, fields.maker_note if by_fooocus else None):
        return parse_fooocus(document)
    return parse_novelai({"Comment": fields.user_comment, "Software": fields.software or ""})

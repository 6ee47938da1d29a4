from __future__ import annotations

from django.apps import AppConfig


class GalleryConfig(AppConfig):
    """The pages people look at their images with (SPEC section 10). Uses ``sessions``; never
    the reverse."""

    name = "gallery"
    verbose_name = "Gallery"

"""What the thumbnail side last saw of each session, so a catch-up can skip what is done."""

from __future__ import annotations

from django.db import models

from sessions.models import Session


class ThumbnailCount(models.Model):
    """PNGs and up-to-date thumbnails of a session, as counted when its folder had ``folder_mtime_ns``.

    While the folder's mtime is unchanged (no file added, removed or renamed) and the counts
    are equal, the session needs no look at all.
    """

    session = models.OneToOneField(Session, on_delete=models.CASCADE, primary_key=True,
                                   related_name="thumbnail_count")
    png_count = models.PositiveIntegerField()
    thumbnail_count = models.PositiveIntegerField()
    folder_mtime_ns = models.BigIntegerField()
    counted_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.thumbnail_count}/{self.png_count} thumbnails"

"""What the thumbnail side last saw of each session, so a catch-up can skip what is done."""

from __future__ import annotations

from django.db import models

from sessions.models import Session


class ThumbnailCount(models.Model):
    """Images (``png_count``: PNG, JPEG and WebP sources alike), up-to-date thumbnails and
    remembered failures of a session, as counted when its folder had ``folder_mtime_ns`` and its
    thumbnail folder ``thumbnails_mtime_ns`` (None in a bucket, which has no folder times).

    While both folders' mtimes are unchanged (no file added, removed or renamed on either
    side) and every image has a thumbnail or a failure on record, the session needs no look at all.
    """

    session = models.OneToOneField(Session, on_delete=models.CASCADE, primary_key=True,
                                   related_name="thumbnail_count")
    png_count = models.PositiveIntegerField()
    thumbnail_count = models.PositiveIntegerField()
    failed_count = models.PositiveIntegerField(default=0)
    folder_mtime_ns = models.BigIntegerField()
    # None: the thumbnail folder did not exist (or the row predates this field).
    thumbnails_mtime_ns = models.BigIntegerField(null=True)
    counted_at = models.DateTimeField()

    @property
    def is_complete(self) -> bool:
        return self.thumbnail_count + self.failed_count >= self.png_count

    def __str__(self) -> str:
        failed = f", {self.failed_count} failed" if self.failed_count else ""
        return f"{self.thumbnail_count}/{self.png_count} thumbnails{failed}"

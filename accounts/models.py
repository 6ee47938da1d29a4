"""Failed token attempts per client address, counted in the database so that every web
server process counts together and each increment is atomic."""

from __future__ import annotations

from django.db import models


class TokenFailureCount(models.Model):
    """Wrong tokens presented from one address since ``window_started_at``."""

    address = models.CharField(max_length=64, primary_key=True)
    failures = models.PositiveIntegerField(default=0)
    window_started_at = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = "failed token attempts"
        verbose_name_plural = "failed token attempts"

    def __str__(self) -> str:
        return f"{self.failures} wrong tokens from {self.address}"

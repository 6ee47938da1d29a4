"""Signals other apps listen to (``sessions`` never imports them: they import this)."""

from django.dispatch import Signal

# Sent after the transaction that renamed a session commits: ``session`` (renamed), ``old_name``,
# ``new_name``. The thumbnails app moves the session's thumbnails with it.
session_renamed = Signal()

from __future__ import annotations

from django.apps import AppConfig


class ThumbnailsConfig(AppConfig):
    name = "thumbnails"
    verbose_name = "Thumbnails"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The watcher lives in sessions, which never imports this app: it is handed the
        # thumbnail side through this registration.
        from sessions.watcher.thumbnail_side import register_thumbnail_provider
        from thumbnails.watching import WatcherThumbnails

        register_thumbnail_provider(WatcherThumbnails())

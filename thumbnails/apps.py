from __future__ import annotations

from django.apps import AppConfig


class ThumbnailsConfig(AppConfig):
    name = "thumbnails"
    verbose_name = "Thumbnails"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from sessions.signals import session_renamed
        from thumbnails.receivers import move_thumbnails_of_renamed_session

        session_renamed.connect(move_thumbnails_of_renamed_session, dispatch_uid="thumbnails.move-on-rename")

        # The watcher lives in sessions, which never imports this app: it is handed the
        # thumbnail side through this registration.
        from sessions.watcher.thumbnail_side import register_thumbnail_provider
        from thumbnails.watching import WatcherThumbnails

        register_thumbnail_provider(WatcherThumbnails())

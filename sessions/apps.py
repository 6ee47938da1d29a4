from __future__ import annotations

from django.apps import AppConfig


class SessionsConfig(AppConfig):
    name = "sessions"
    # django.contrib.sessions owns the label "sessions".
    label = "gen_sessions"
    verbose_name = "Generation sessions"
    default_auto_field = "django.db.models.BigAutoField"

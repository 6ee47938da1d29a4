from __future__ import annotations

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Who may call the API: hashed API tokens, failed-token counting, the first admin."""

    name = "accounts"
    verbose_name = "Accounts and API tokens"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from accounts import schema  # noqa: F401  (registers the OpenAPI description of Bearer tokens)

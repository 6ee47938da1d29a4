from __future__ import annotations

import os
import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import BaseCommand, CommandParser
from rest_framework.authtoken.models import Token

CREDENTIALS_FILE = "initial-admin.txt"


class Command(BaseCommand):
    help = (
        "On the first run, create the 'admin' superuser with a random password and an API token "
        "and write both to SDGEN_DATA_DIR/initial-admin.txt. Does nothing once a superuser exists."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", default="admin")

    def handle(self, *args: Any, **options: Any) -> None:
        path = settings.SDGEN_DATA_DIR / CREDENTIALS_FILE
        users = get_user_model()
        if users.objects.filter(is_superuser=True).exists():
            if path.exists():
                self.stdout.write(f"Admin credentials from the first run are in {path}")
            return
        password = secrets.token_urlsafe(18)
        user = users.objects.create_superuser(username=options["username"], email="", password=password)
        token = Token.objects.create(user=user)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(
                f"username: {user.get_username()}\npassword: {password}\napi token: {token.key}\n"
                "Use the token as 'Authorization: Bearer <token>'. Change the password in the admin.\n"
            )
        self.stdout.write(self.style.SUCCESS(f"Created superuser '{user.get_username()}'; password and API token are in {path}"))

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management import BaseCommand, CommandParser
from django.db import connection
from django.utils import timezone

from accounts.services import database_label, ensure_initial_admin


class Command(BaseCommand):
    help = (
        "On a database without a superuser, create the 'admin' superuser with a random password and an "
        "API token and write both to SDGEN_DATA_DIR/initial-admin.txt. Otherwise say where they are."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", default="admin")

    def handle(self, *args: Any, **options: Any) -> None:
        database = database_label(connection.settings_dict)
        admin = ensure_initial_admin(data_dir=settings.SDGEN_DATA_DIR, username=options["username"],
                                     database=database, now=timezone.now())
        if admin.moved_aside is not None:
            self.stdout.write(self.style.WARNING(
                f"{admin.path} held the credentials of another database; it is kept as {admin.moved_aside}"))
        if admin.created:
            self.stdout.write(self.style.SUCCESS(
                f"Created superuser '{options['username']}'; password and API token are in {admin.path}"))
        elif admin.file_matches:
            self.stdout.write(f"Admin credentials from the first run are in {admin.path}")
        else:
            self.stdout.write(f"This database ({database}) already has a superuser; its password is not in "
                              f"{admin.path}. Reset it with: manage.py changepassword USER")

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management import BaseCommand, CommandError, CommandParser

from accounts.services import create_api_token
from sdgen_site.cli import BAD_ARGUMENTS


class Command(BaseCommand):
    help = (
        "Create an API token for USER and print it. Only a hash of it is stored, so it is shown "
        "this once; --reset revokes the user's other tokens first."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username", metavar="USER")
        parser.add_argument("-r", "--reset", action="store_true", help="revoke the user's other tokens")

    def handle(self, *args: Any, **options: Any) -> None:
        users = get_user_model()
        try:
            user = users._default_manager.get_by_natural_key(options["username"])
        except users.DoesNotExist:
            raise CommandError(f"no user named {options['username']!r}", returncode=BAD_ARGUMENTS) from None
        token = create_api_token(user=user, revoke_others=options["reset"])
        self.stdout.write(f"Generated token {token} for user {user.get_username()}")
        self.stdout.write("Use it as 'Authorization: Bearer <token>'. It is not stored in clear: keep it now.")

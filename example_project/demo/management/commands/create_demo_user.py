"""``manage.py create_demo_user``: a user and an API token to try the upload API with."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser
from rest_framework.authtoken.models import Token


class Command(BaseCommand):
    help = "Create (or reset) a demo user and print its API token."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", default="demo")
        parser.add_argument("--password", default="demo")
        parser.add_argument("--superuser", action="store_true", help="Also allow the admin.")
        parser.add_argument("--quiet", action="store_true", help="Print only the token.")

    def handle(self, *args: Any, **options: Any) -> None:
        user, _ = get_user_model().objects.get_or_create(username=options["username"])
        user.set_password(options["password"])
        user.is_staff = user.is_superuser = options["superuser"]
        user.save()
        token, _ = Token.objects.get_or_create(user=user)
        if options["quiet"]:
            self.stdout.write(token.key)
            return
        self.stdout.write(f"User {user.username!r} with password {options['password']!r}.")
        self.stdout.write(f"API token: {token.key}")
        self.stdout.write(f'Use it as:  curl -H "Authorization: Token {token.key}" ...')
        if not user.is_superuser:
            # The admin lets in staff only; a demo user is not one unless asked for.
            self.stdout.write(
                "The admin (/admin/) needs an admin user: run again with --superuser."
            )

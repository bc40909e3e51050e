"""Permanently delete chat sessions, with all their messages, from a shell or cron.

It goes through the same deletion service as the API and the admin, so a
session deleted here is gone in exactly the same way. Named ids are resolved
first and the whole set is deleted in one transaction: either every named
session goes, or none does.
"""
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from sessions_app import selectors, services
from sessions_app.models import Session


class Command(BaseCommand):
    help = "Permanently delete sessions and all their messages."

    def add_arguments(self, parser):
        parser.add_argument("session_ids", nargs="+", metavar="SESSION_ID")
        parser.add_argument(
            "--user",
            metavar="USERNAME",
            help="Only the sessions of this user (needed when several users have the same id).",
        )
        parser.add_argument(
            "--noinput",
            "--no-input",
            action="store_false",
            dest="interactive",
            help="Do not ask for confirmation.",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="List what would be deleted, and delete nothing.",
        )

    def handle(self, *args, session_ids, user, interactive, dry_run, verbosity, **options):
        keys = list(dict.fromkeys(session_ids))
        if user is not None and not get_user_model().objects.filter(username=user).exists():
            raise CommandError(f"No user named {user!r}.")

        sessions = list(selectors.sessions_with_keys(keys=keys, owner_username=user))
        self._refuse_missing_or_ambiguous(keys, sessions, user)

        if verbosity >= 1 or interactive:
            self._describe(sessions, dry_run=dry_run)
        if dry_run:
            self.stdout.write("Dry run: nothing was deleted.")
            return
        if interactive and not self._confirmed():
            self.stdout.write("Deletion cancelled.")
            return

        result = services.sessions_delete(
            sessions=Session.objects.filter(pk__in=[session.pk for session in sessions])
        )
        if verbosity >= 1:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Deleted {result.sessions} session(s) and {result.messages} message(s)."
                )
            )

    def _describe(self, sessions, *, dry_run):
        message_total = sum(session.message_count for session in sessions)
        self.stdout.write(
            f"{'Would delete' if dry_run else 'About to delete'} {len(sessions)} session(s) "
            f"holding {message_total} message(s):"
        )
        for session in sessions:
            self.stdout.write(
                f"  owner={session.owner.get_username()} id={session.key} "
                f"title={session.title!r} messages={session.message_count}"
            )

    def _refuse_missing_or_ambiguous(self, keys, sessions, user):
        owners_by_key: dict[str, list[str]] = {}
        for session in sessions:
            owners_by_key.setdefault(session.key, []).append(session.owner.get_username())
        missing = [key for key in keys if key not in owners_by_key]
        if missing:
            whose = f" for user {user!r}" if user else ""
            raise CommandError(
                f"No session{whose} with id: {', '.join(missing)}. Nothing was deleted."
            )
        ambiguous = {key: owners for key, owners in owners_by_key.items() if len(owners) > 1}
        if ambiguous:
            details = "; ".join(
                f"{key} is owned by {', '.join(owners)}" for key, owners in ambiguous.items()
            )
            raise CommandError(
                f"Ambiguous session id(s): {details}. Pass --user to choose. Nothing was deleted."
            )

    def _confirmed(self) -> bool:
        try:
            answer = input("Type 'yes' to continue, or 'no' to cancel: ")
        except EOFError:
            raise CommandError(
                "No answer to the confirmation prompt (standard input is closed); "
                "pass --noinput to delete without asking. Nothing was deleted."
            ) from None
        return answer == "yes"

"""Correct the counters the session list shows, after rows were changed around the services.

Each owner's session total (the list's `total`) and each session's `message_count`
are kept in step by the services in the same transaction as every write. Rows
written or deleted some other way (raw SQL, a QuerySet.delete() in a shell) leave
them wrong until this command recounts them.
"""
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError
from django.template.defaultfilters import pluralize

from sessions_app import services


class Command(BaseCommand):
    help = "Recount each owner's session total and each session's message count, and correct those that are wrong."

    def handle(self, *args, **options):
        try:
            result = services.counters_recount()
        except DatabaseError as error:
            # Each batch commits on its own: those before the failure stay corrected.
            raise CommandError(
                f"The database failed during the recount ({error}). Counters corrected before it "
                "stay corrected and the rest are as they were; run the command again."
            ) from error
        self.stdout.write(
            f"Session totals: {result.totals_checked} user{pluralize(result.totals_checked)} checked, "
            f"{result.totals_corrected} corrected.\n"
            f"Message counts: {result.sessions_checked} session{pluralize(result.sessions_checked)} checked, "
            f"{result.message_counts_corrected} corrected."
        )

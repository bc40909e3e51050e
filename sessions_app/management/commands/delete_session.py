"""Permanently delete chat sessions, with all their messages, from a shell or cron.

It goes through the same deletion service as the API and the admin, so a
session deleted here is gone in exactly the same way and leaves the same
content-free audit record. Either name sessions by id, or select them by age
for a retention policy (--older-than DAYS, or --retention to apply
SESSION_RETENTION_DAYS). The whole set is deleted in one transaction: either
every selected session goes, or none does.
"""
import argparse
import getpass
import io
import os
import sys
from datetime import timedelta
from datetime import timezone as dt_timezone

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError
from django.db.models import Count, Sum
from django.utils import timezone

from sessions_app import selectors, services, storage
from sessions_app.models import DeletionRecord

# The listing is for a person to read; past this many lines it only scrolls away.
LISTED_SESSIONS_LIMIT = 100
# The same for the ids an error names.
NAMED_IDS_LIMIT = 20
# A run's ids go into single queries, and past this many parameters SQLite (as commonly
# built) and PostgreSQL's driver refuse a query: the error would blame the database.
IDS_PER_RUN_LIMIT = 20_000


def _utf8_argument(value: str) -> str:
    # Arguments that are not UTF-8 arrive holding lone surrogates, which no database
    # query can carry: refused here with a message rather than with a traceback later.
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise argparse.ArgumentTypeError(
            f"{value.encode('utf-8', 'surrogateescape')!r} is not valid UTF-8"
        ) from None
    return value


def _session_id_argument(value: str) -> str:
    value = _utf8_argument(value)
    if not value:
        raise argparse.ArgumentTypeError("a session id cannot be empty")
    if "\x00" in value:
        raise argparse.ArgumentTypeError("a session id cannot contain NUL")
    return value


def _ids_in_file(path: str) -> list[str]:
    """One id a line, UTF-8, from a file or, for "-", standard input; blank lines skipped.

    Checked as ids on the command line are, so that what the shell would refuse is
    refused here too, with a message.
    """
    try:
        if path == "-":
            if sys.stdin is None:
                raise OSError("standard input is closed")
            data = sys.stdin.buffer.read()
        else:
            with open(path, "rb") as file:
                data = file.read()
        # -sig: a byte-order mark, as Windows editors write, is not part of the first id.
        text = data.decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise CommandError(f"Cannot read ids from {path!r}: {error}. Nothing was deleted.") from None
    # A file written on Windows ends its lines with \r\n.
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    try:
        return [_session_id_argument(line) for line in lines if line.strip()]
    except argparse.ArgumentTypeError as error:
        raise CommandError(f"In {path!r}: {error}. Nothing was deleted.") from None


def _operator_name() -> str:
    """Who ran the command, for the audit record: the login of the shell or cron job."""
    try:
        login = getpass.getuser()
    except (OSError, KeyError):
        login = ""
    # sudo sets LOGNAME and USER to the account it switches to; the person who ran sudo,
    # the one accountable for the delete, is only in SUDO_USER.
    invoker = os.environ.get("SUDO_USER", "")
    if invoker and invoker != login:
        name = f"{invoker} (sudo as {login})" if login else invoker
    else:
        name = login
    # It comes from $LOGNAME or $USER first, which may hold anything: bytes that are not
    # UTF-8 would fail the delete's insert, and so would a name longer than the column.
    name = name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return name[: DeletionRecord._meta.get_field("actor_username").max_length]


class Command(BaseCommand):
    help = (
        "Permanently delete sessions and all their messages: the sessions named by id, "
        "or those idle for longer than --older-than DAYS (--retention: SESSION_RETENTION_DAYS)."
    )

    def create_parser(self, prog_name, subcommand, **kwargs):
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.epilog = (
            "Ids and an age (--older-than, --retention) cannot be combined. Unless --noinput, it lists "
            "the sessions and asks; only the answer 'yes' deletes. Exit status: 0 when the run did "
            "what was asked (deleted, nothing to do, a dry run, or cancelled by an answer); 1 on an "
            "error (among them a selection the command refuses, such as --older-than 0 or ids with an "
            "age), and nothing was deleted; 2 when the command line cannot be parsed (an unknown option, "
            "DAYS not a number, an empty id or one not UTF-8); 130 when interrupted (Ctrl-C), with a line "
            "saying whether the delete went through."
        )
        return parser

    def add_arguments(self, parser):
        parser.add_argument(
            "session_ids",
            nargs="*",
            metavar="SESSION_ID",
            type=_session_id_argument,
            help="The id of a session to delete; several may be named. An id that starts with '-' goes after '--'.",
        )
        parser.add_argument(
            "--ids-from",
            metavar="FILE",
            help="Also the ids in FILE, one a line (- reads standard input); all are deleted in one "
            "transaction, where splitting a long list over several runs (xargs) would not be.",
        )
        parser.add_argument(
            "--user",
            metavar="USERNAME",
            type=_utf8_argument,
            help="Only the sessions of this user (needed when several users have the same id).",
        )
        age = parser.add_mutually_exclusive_group()
        age.add_argument(
            "--older-than",
            type=int,
            metavar="DAYS",
            help="Delete the sessions whose last activity is more than DAYS days ago.",
        )
        age.add_argument(
            "--retention",
            action="store_true",
            help="Like --older-than, with the SESSION_RETENTION_DAYS setting.",
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

    def execute(self, *args, **options):
        # A locale that cannot encode a username (Latin-1 and "łukasz") failed the listing,
        # so a nightly retention run deleted nothing: such characters are escaped instead,
        # for this command's output only.
        streams = [
            stream
            for stream in (options.get("stdout") or sys.stdout, options.get("stderr") or sys.stderr)
            if isinstance(stream, io.TextIOWrapper)
        ]
        handlers = [stream.errors for stream in streams]
        for stream in streams:
            stream.reconfigure(errors="backslashreplace")
        try:
            return super().execute(*args, **options)
        finally:
            for stream, errors in zip(streams, handlers):
                stream.reconfigure(errors=errors)

    def handle(self, *args, **options):
        self._deleted = None
        try:
            self._select_and_delete(**options)
            # Written out here, whichever way the run ended, so that a reader gone by now is
            # met by this handler rather than by Python at exit (a traceback and status 120).
            self.stdout.flush()
        except DatabaseError as error:
            # Before the delete (reading the selection) or instead of it (unreachable, not
            # migrated): a message rather than a traceback. The delete's own is below.
            raise CommandError(f"The database failed ({_one_line(error)}); nothing was deleted.") from error
        except KeyboardInterrupt as interrupt:
            # Ctrl-C during a silent wait (a lock, the purge): whether the delete went through.
            raise CommandError(self._interrupted(interrupt), returncode=130) from None
        except OSError as error:
            # The output's reader went away (`| head`), or its disk is full: say on stderr
            # whether the delete ran.
            failure = "was closed (broken pipe)" if isinstance(error, BrokenPipeError) else f"failed ({error.strerror})"
            _discard_further_output(options.get("stdout") or sys.stdout)
            if self._deleted is None:
                raise CommandError(f"Standard output {failure}; nothing was deleted.") from None
            try:
                self.stderr.write(
                    f"Standard output {failure} after the delete, which went through: "
                    f"{self._deleted.sessions} session(s) and {self._deleted.messages} message(s) deleted."
                )
                self.stderr.flush()
            except OSError:
                # Standard error is the same failed output (2>&1): the exit status alone tells.
                _discard_further_output(options.get("stderr") or sys.stderr)

    def _interrupted(self, interrupt: KeyboardInterrupt) -> str:
        if isinstance(interrupt, storage.PurgeInterrupted):
            return (
                "Interrupted after the delete, which went through, while its text was being purged "
                "from the database's log: it stays there until the next delete purges it, or run "
                "PRAGMA wal_checkpoint(TRUNCATE)."
            )
        if self._deleted is not None:
            return (
                f"Interrupted after the delete, which went through: {self._deleted.sessions} "
                f"session(s) and {self._deleted.messages} message(s) deleted."
            )
        # Before the delete's commit, its transaction rolls back.
        return "Interrupted; nothing was deleted."

    def _select_and_delete(
        self, *, session_ids, ids_from, user, older_than, retention, interactive, dry_run, verbosity, **options
    ):
        if ids_from == "-" and interactive and not dry_run:
            raise CommandError(
                "--ids-from - reads standard input, which then cannot answer the confirmation: "
                "add --noinput (or --dry-run, to only list). Nothing was deleted."
            )
        if ids_from is not None:
            session_ids = [*session_ids, *_ids_in_file(ids_from)]
        if user is not None and not get_user_model().objects.filter(username=user).exists():
            raise CommandError(f"No user named {user!r}.")
        age_source = "--older-than"
        if retention:
            older_than, age_source = settings.SESSION_RETENTION_DAYS, "SESSION_RETENTION_DAYS"
            if older_than is None:
                raise CommandError(
                    "SESSION_RETENTION_DAYS is not set (or is 0), so sessions are kept forever; "
                    "nothing was deleted."
                )

        if older_than is not None:
            if session_ids or ids_from is not None:
                raise CommandError("Name session ids or select by age, not both.")
            cutoff = self._idle_cutoff(older_than, age_source)
            selected = selectors.sessions_idle_since(cutoff=cutoff, owner_username=user)
            via = DeletionRecord.Via.RETENTION
        elif session_ids:
            keys = list(dict.fromkeys(session_ids))
            if len(keys) > IDS_PER_RUN_LIMIT:
                raise CommandError(
                    f"At most {IDS_PER_RUN_LIMIT} ids in one run (got {len(keys)}): split the list; "
                    "each run is one transaction. Nothing was deleted."
                )
            found = selectors.sessions_with_keys(keys=keys, owner_username=user)
            checked_pks = self._refuse_missing_or_ambiguous(keys, found, owner_username=user)
            # Pinned to the rows just checked, which are the ones listed and confirmed:
            # a session given one of these ids meanwhile (another user's, or one deleted
            # and made again) was never shown to the operator.
            selected = selectors.sessions_with_pks(pks=checked_pks)
            via = DeletionRecord.Via.COMMAND
        elif ids_from is not None:
            # An empty list from a script (no deletion requests today) is no error.
            if verbosity >= 1:
                self.stdout.write(f"No ids in {ids_from!r}: nothing to do.")
            return
        else:
            raise CommandError("Name at least one SESSION_ID, or pass --older-than DAYS or --retention.")

        # Counted by the database and listed in part: a retention run may select millions.
        totals = selected.aggregate(sessions=Count("pk"), messages=Sum("message_count", default=0))
        if not totals["sessions"]:
            if verbosity >= 1:
                self.stdout.write("No sessions to delete: nothing to do.")
            return
        if verbosity >= 1 or interactive or dry_run:
            self._describe(selected, totals, dry_run=dry_run)
            # Written out before anything is deleted: a reader gone by now (a closed pipe)
            # stops the run here, whatever the listing's length left in the buffer.
            self.stdout.flush()
        if dry_run:
            self.stdout.write("Dry run: nothing was deleted.")
            return
        if interactive and not self._confirmed():
            self.stdout.write("Deletion cancelled.")
            return

        # The same selection again, inside the delete's transaction: a session that
        # saw new activity since the listing is no longer idle and is spared.
        try:
            # --retention alone applies the configured policy, on no one's request: no actor.
            # Ids, --older-than's DAYS and --user are chosen by whoever runs the command.
            actor = "" if retention and user is None else _operator_name()
            result = self._deleted = services.sessions_delete(sessions=selected, via=via, actor=actor)
        except DatabaseError as error:
            raise CommandError(
                f"The database failed during the delete ({_one_line(error)}); it was rolled back and "
                "nothing was deleted."
            ) from error
        if verbosity >= 1:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Deleted {result.sessions} session(s) and {result.messages} message(s)."
                )
            )
        vanished = totals["sessions"] - result.sessions
        if vanished > 0 and verbosity >= 1:
            self.stdout.write(
                f"{vanished} of the {totals['sessions']} session(s) selected no longer matched when "
                "the delete ran (deleted meanwhile or, for an age selection, active again), and were left alone."
            )

    def _idle_cutoff(self, days: int, source: str):
        if days < 1:
            raise CommandError(f"{source} takes a whole number of days, 1 or more (got {days}).")
        try:
            return timezone.now() - timedelta(days=days)
        except OverflowError:
            raise CommandError(f"{source} of {days} days reaches back before the calendar starts.") from None

    def _refuse_missing_or_ambiguous(self, keys, found, *, owner_username) -> list[int]:
        """The primary keys of the sessions found, when each id names exactly one."""
        owners_by_key: dict[str, list[str]] = {}
        pks = []
        for pk, key, owner_username_of_key in found.values_list("pk", "key", "owner__username"):
            owners_by_key.setdefault(key, []).append(owner_username_of_key)
            pks.append(pk)
        missing = [key for key in keys if key not in owners_by_key]
        if missing:
            whose = f" for user {owner_username!r}" if owner_username else ""
            raise CommandError(
                f"No session{whose} with id: {_capped([repr(key) for key in missing], ', ')}. "
                "Nothing was deleted."
            )
        ambiguous = {key: owners for key, owners in owners_by_key.items() if len(owners) > 1}
        if ambiguous:
            details = _capped(
                [f"{key!r} is owned by {', '.join(owners)}" for key, owners in ambiguous.items()], "; "
            )
            raise CommandError(
                f"Ambiguous session id(s): {details}. Pass --user to choose. Nothing was deleted."
            )
        return pks

    def _describe(self, selected, totals, *, dry_run):
        self.stdout.write(
            f"{'Would delete' if dry_run else 'About to delete'} {totals['sessions']} session(s) "
            f"holding {totals['messages']} message(s):"
        )
        # Never the title: it is the user's words, and this output ends up in cron mail
        # and logs, which would keep it after the session is gone.
        for session in selected[:LISTED_SESSIONS_LIMIT]:
            last_activity = session.updated_at.astimezone(dt_timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
            self.stdout.write(
                f"  owner={session.owner.get_username()} id={session.key} "
                f"messages={session.message_count} last_activity={last_activity}"
            )
        if totals["sessions"] > LISTED_SESSIONS_LIMIT:
            self.stdout.write(f"  ... and {totals['sessions'] - LISTED_SESSIONS_LIMIT} more.")

    def _confirmed(self) -> bool:
        try:
            if sys.stdin is None:
                # Closed by the shell (`<&-`): input() raised RuntimeError.
                raise EOFError
            answer = input("Type 'yes' to continue, or 'no' to cancel: ")
        except EOFError:
            _end_the_prompts_line()
            raise CommandError(
                "No answer to the confirmation prompt (standard input is closed); "
                "pass --noinput to delete without asking. Nothing was deleted."
            ) from None
        except KeyboardInterrupt:
            _end_the_prompts_line()
            # 130, as a shell reports a command stopped by Ctrl-C.
            raise CommandError("Interrupted at the confirmation prompt; nothing was deleted.", returncode=130) from None
        return answer == "yes"


def _one_line(error: Exception) -> str:
    # A driver's message may span lines (psycopg's "...refused\n\tIs the server running"),
    # and the command's error is one line on standard error.
    return " ".join(str(error).split())


def _end_the_prompts_line() -> None:
    # input() left the prompt without a newline on standard output: an error after it, in the
    # same terminal or cron mail (2>&1), would run on from the question.
    try:
        print(flush=True)
    except (OSError, ValueError):
        pass  # output closed: there is no line to end


def _discard_further_output(stream) -> None:
    """Points a closed pipe's descriptor at /dev/null: what is left in the buffer is flushed
    again when the streams are restored and at exit, which would fail each time (exit 120)."""
    try:
        descriptor = stream.fileno()
    except (AttributeError, OSError, ValueError):
        return  # not a file (a test's StringIO): nothing to flush it to
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, descriptor)
    os.close(devnull)


def _capped(items: list[str], separator: str) -> str:
    """The first NAMED_IDS_LIMIT items, and how many more.

    Ids are given as repr() writes them, so that a carriage return or a trailing space in
    one shows, and a newline in one cannot forge a line of output.
    """
    shown = separator.join(items[:NAMED_IDS_LIMIT])
    if len(items) > NAMED_IDS_LIMIT:
        shown += f" and {len(items) - NAMED_IDS_LIMIT} more"
    return shown

"""The index behind session search.

Search means "case-insensitive substring" (Django's icontains). Common words
are found among the newest sessions at once (selectors.session_search_for_user);
a rare word needs every message read, or an index of them:

- PostgreSQL: pg_trgm with a GIN index on UPPER(content), the expression Django's
  icontains compares, so the planner answers a rare word from the index.
- SQLite: no index. FTS5 trigram tables kept by triggers were built and measured at
  the benchmark's scale (bench/FTS5.md): they answer a rare word in milliseconds, but
  every deleted message then costs the index 13 to 32 times the bare delete, and its
  trigrams stay in the index's older segments until a merge of the whole index; FTS5's
  secure-delete, which removes them at once, needs SQLite 3.44 and costs an hour for a
  100,000-message session. Fast, permanent deletes come first; a rare word is a scan.

SQLite's LIKE folds only ASCII letters, so for a query with other cased letters (é, Σ, ...)
both sides are folded by Python's str.casefold, registered as CASEFOLD on every
SQLite connection. Other queries keep LIKE, which is about three times faster.
"""
import sqlite3
import time
from contextlib import contextmanager

from django.db import OperationalError, connection, transaction
from django.db.backends.signals import connection_created
from django.db.models import F, Func
from django.dispatch import receiver

# SQLite asks whether to stop after this many of its VM steps (a message takes about 6 to
# scan): between a few messages, whose LIKE may take 0.2 s each, at no cost measured.
SQLITE_STEPS_PER_CHECK = 50
POSTGRES_QUERY_CANCELED = "57014"


class SearchTimedOut(Exception):
    """A search ran past its time limit and was stopped."""


POSTGRES_CREATE = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX IF NOT EXISTS message_content_trgm_idx "
    "ON sessions_app_message USING gin (UPPER(content) gin_trgm_ops)",
]
POSTGRES_DROP = ["DROP INDEX IF EXISTS message_content_trgm_idx"]


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in POSTGRES_CREATE:
            schema_editor.execute(statement)


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in POSTGRES_DROP:
            schema_editor.execute(statement)


def messages_containing(messages, query: str):
    """`messages` narrowed to those whose content holds `query`, in any letter case of any alphabet."""
    if connection.vendor == "sqlite" and _has_letters_beyond_ascii_folding(query):
        folded = messages.annotate(content_casefolded=Func(F("content"), function="CASEFOLD"))
        return folded.filter(content_casefolded__contains=query.casefold())
    return messages.filter(content__icontains=query)


@contextmanager
def time_limited(seconds: float):
    """Stops the queries run inside after `seconds`, raising SearchTimedOut.

    A substring test costs up to the text's length times the query's: a query of 500
    characters that almost matches long messages (many "a"s, then a "b") made one
    search take seconds of CPU per megabyte, and on SQLite its open read kept every
    delete meanwhile from purging its bytes from the log.
    """
    if connection.vendor == "sqlite":
        connection.ensure_connection()
        deadline = time.monotonic() + seconds
        connection.connection.set_progress_handler(lambda: time.monotonic() > deadline, SQLITE_STEPS_PER_CHECK)
        try:
            yield
        except OperationalError as error:
            if getattr(error.__cause__, "sqlite_errorcode", None) == sqlite3.SQLITE_INTERRUPT:
                raise SearchTimedOut from error
            raise
        finally:
            connection.connection.set_progress_handler(None, 0)
    else:
        with transaction.atomic(), connection.cursor() as cursor:
            # set_config(..., true) holds to the end of the transaction: an outer one (a test's)
            # would keep it, so the old value is put back.
            cursor.execute(
                "SELECT current_setting('statement_timeout'), set_config('statement_timeout', %s, true)",
                [f"{max(1, round(seconds * 1000))}ms"],
            )
            (previous, _) = cursor.fetchone()
            try:
                yield
            except OperationalError as error:
                if getattr(error.__cause__, "sqlstate", None) == POSTGRES_QUERY_CANCELED:
                    raise SearchTimedOut from error
                raise
            cursor.execute("SELECT set_config('statement_timeout', %s, true)", [previous])


def _has_letters_beyond_ascii_folding(query: str) -> bool:
    # Characters without case (CJK, emoji, a curly apostrophe) need no folding: LIKE is exact for them.
    return any(not c.isascii() and c.lower() != c.upper() for c in query)


def _casefold(text):
    return None if text is None else text.casefold()


@receiver(connection_created, dispatch_uid="sessions_app.search.casefold")
def add_casefold_to_sqlite(sender, connection, **kwargs):
    if connection.vendor == "sqlite":
        connection.connection.create_function("CASEFOLD", 1, _casefold, deterministic=True)

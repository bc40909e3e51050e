"""The index behind session search.

Search means "case-insensitive substring" (Django's icontains). Common words
are found among the newest sessions at once (selectors.session_search_for_user);
a rare word needs every message read, or an index of them:

- PostgreSQL: pg_trgm with a GIN index on UPPER(content), the expression Django's
  icontains compares, so the planner answers a rare word from the index.
- SQLite: no index. An FTS5 trigram table kept by triggers was built and measured
  (bench/fts5_experiment.py, 5,000 sessions): it answers a rare word 30 to 50x
  faster, but deleting costs 58 us per message instead of 2 (the index has to
  tokenize what it forgets), and the deleted text's trigrams stay in the index's
  older segments until a merge; with FTS5's secure-delete, which removes them at
  once, a delete costs 35 ms per message, minutes for a 100,000-message session.
  Fast, permanent deletes come first; a rare word is a scan of the messages.

SQLite's LIKE folds only ASCII letters, so for a query with other cased letters (é, Σ, ...)
both sides are folded by Python's str.casefold, registered as CASEFOLD on every
SQLite connection. Other queries keep LIKE, which is about three times faster.
"""
from django.db import connection
from django.db.backends.signals import connection_created
from django.db.models import F, Func
from django.dispatch import receiver

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


def _has_letters_beyond_ascii_folding(query: str) -> bool:
    # Characters without case (CJK, emoji, a curly apostrophe) need no folding: LIKE is exact for them.
    return any(not c.isascii() and c.lower() != c.upper() for c in query)


def _casefold(text):
    return None if text is None else text.casefold()


@receiver(connection_created, dispatch_uid="sessions_app.search.casefold")
def add_casefold_to_sqlite(sender, connection, **kwargs):
    if connection.vendor == "sqlite":
        connection.connection.create_function("CASEFOLD", 1, _casefold, deterministic=True)

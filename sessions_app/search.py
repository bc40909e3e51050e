"""The full-text index behind session search.

Search means "case-insensitive substring" (Django's icontains). A plain scan
reads every message; the index narrows that to the messages that can match:

- SQLite: an FTS5 table with the trigram tokenizer over message content, kept
  in step by triggers on every insert and delete. Its `secure-delete` option
  makes a delete remove the message's entries from the index at once, instead
  of leaving them in old segments until a merge (see docs/deletion.md).
- PostgreSQL: pg_trgm with a GIN index on UPPER(content), the expression Django's
  icontains compares, so the planner uses it for the same query.

Trigrams need three characters; shorter queries fall back to the scan.
"""
from django.db import connection
from django.db.models.expressions import RawSQL

FTS_TABLE = "sessions_app_message_fts"
MIN_INDEXED_QUERY_LENGTH = 3

SQLITE_CREATE = [
    f"""CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5(
        content, tokenize='trigram', content='sessions_app_message', content_rowid='id'
    )""",
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rank) VALUES('secure-delete', 1)",
    f"""CREATE TRIGGER {FTS_TABLE}_insert AFTER INSERT ON sessions_app_message BEGIN
        INSERT INTO {FTS_TABLE}(rowid, content) VALUES (new.id, new.content);
    END""",
    f"""CREATE TRIGGER {FTS_TABLE}_delete AFTER DELETE ON sessions_app_message BEGIN
        INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, content) VALUES ('delete', old.id, old.content);
    END""",
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES('rebuild')",
]
SQLITE_DROP = [
    f"DROP TRIGGER IF EXISTS {FTS_TABLE}_insert",
    f"DROP TRIGGER IF EXISTS {FTS_TABLE}_delete",
    f"DROP TABLE IF EXISTS {FTS_TABLE}",
]
POSTGRES_CREATE = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX IF NOT EXISTS message_content_trgm_idx "
    "ON sessions_app_message USING gin (UPPER(content) gin_trgm_ops)",
]
POSTGRES_DROP = ["DROP INDEX IF EXISTS message_content_trgm_idx"]


def create_index(apps, schema_editor):
    statements = {"sqlite": SQLITE_CREATE, "postgresql": POSTGRES_CREATE}
    for statement in statements.get(schema_editor.connection.vendor, []):
        schema_editor.execute(statement)


def drop_index(apps, schema_editor):
    statements = {"sqlite": SQLITE_DROP, "postgresql": POSTGRES_DROP}
    for statement in statements.get(schema_editor.connection.vendor, []):
        schema_editor.execute(statement)


def indexed_message_ids(query: str) -> RawSQL | None:
    """Ids of the messages that may contain `query`, from SQLite's index; None where not needed.

    A superset in principle (the index folds case beyond ASCII), so callers keep
    the icontains test that decides.
    """
    if connection.vendor != "sqlite" or len(query) < MIN_INDEXED_QUERY_LENGTH:
        return None
    phrase = '"' + query.replace('"', '""') + '"'
    return RawSQL(f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH %s", [phrase])

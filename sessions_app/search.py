"""The index behind session search.

Search means "case-insensitive substring" (Django's icontains). Common words
are found among the newest sessions at once (selectors.session_search_for_user);
a rare word needs every message read, or an index of them:

- PostgreSQL: pg_trgm with a GIN index on UPPER(content), the expression Django's
  icontains compares, so the planner answers a rare word from the index.
- SQLite: no index. An FTS5 trigram table was tried and measured (bench/RESULTS.md):
  keeping deleted text out of it (FTS5's secure-delete) costs about 2.5 ms per
  deleted message, which made deleting a 100,000-message session take minutes,
  and without secure-delete the deleted text stays in the index's old segments.
  Fast, permanent deletes come first; a rare word is a scan of the messages.
"""

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

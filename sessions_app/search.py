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

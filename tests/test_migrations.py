"""The migrations describe the models as they are, and upgrade what earlier ones made."""
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection

from .conftest import bytes_on_disk
from .factories import SessionFactory


@pytest.mark.django_db
def test_no_model_change_is_missing_a_migration():
    # --check exits with status 1 when the models differ from the migrations.
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


# The FTS5 index the first version of 0003 made on SQLite (commit 3fcdd2d, under the newer
# SQLite of pysqlite3), as it made it. Its secure-delete option is written into the index's
# config table by hand: this SQLite (3.40.1) cannot set it, and, reading past it, does not
# apply it either, so on it the index keeps a deleted message's text.
EARLY_SEARCH_INDEX = [
    """CREATE VIRTUAL TABLE sessions_app_message_fts USING fts5(
        content, tokenize='trigram', content='sessions_app_message', content_rowid='id'
    )""",
    "INSERT INTO sessions_app_message_fts_config(k, v) VALUES ('secure-delete', 1)",
    """CREATE TRIGGER sessions_app_message_fts_insert AFTER INSERT ON sessions_app_message BEGIN
        INSERT INTO sessions_app_message_fts(rowid, content) VALUES (new.id, new.content);
    END""",
    """CREATE TRIGGER sessions_app_message_fts_delete AFTER DELETE ON sessions_app_message BEGIN
        INSERT INTO sessions_app_message_fts(sessions_app_message_fts, rowid, content)
        VALUES ('delete', old.id, old.content);
    END""",
]
# Letters whose trigrams occur nowhere else in the database; each is a term of the index.
RARE_WORD = "qjxkzvw"
sqlite_only = pytest.mark.skipif(connection.vendor != "sqlite", reason="the early index was made on SQLite only")


@pytest.fixture
def database_with_the_early_search_index(transactional_db):
    call_command("migrate", "sessions_app", "0009", verbosity=0)
    with connection.cursor() as cursor:
        for statement in EARLY_SEARCH_INDEX:
            cursor.execute(statement)
    yield
    call_command("migrate", "sessions_app", verbosity=0)


def index_objects() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM sqlite_master WHERE name LIKE 'sessions_app_message_fts%'")
        return [name for (name,) in cursor.fetchall()]


@sqlite_only
def test_migrating_drops_the_early_search_index_and_its_triggers(database_with_the_early_search_index):
    call_command("migrate", "sessions_app", verbosity=0)
    assert index_objects() == []


@sqlite_only
def test_migrating_leaves_no_byte_of_a_deleted_message_the_early_index_held(database_with_the_early_search_index):
    session = SessionFactory()
    # In SQL: the message table as 0009 left it lacks columns that later migrations add.
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO sessions_app_message (session_id, role, content, metadata, created_at) "
            "VALUES (%s, 'user', %s, '{}', CURRENT_TIMESTAMP)",
            [session.pk, RARE_WORD],
        )
        cursor.execute("DELETE FROM sessions_app_message WHERE session_id = %s", [session.pk])
    connection.close()
    assert "qjx" in database_bytes(), "the index should still hold the deleted message's trigrams"
    call_command("migrate", "sessions_app", verbosity=0)
    # Still open: closing the last connection would checkpoint the log by itself.
    assert "qjx" not in database_bytes()


def database_bytes() -> str:
    name = Path(connection.settings_dict["NAME"])
    files = [p for p in (name, Path(f"{name}-wal")) if p.exists()]
    return b"".join(bytes_on_disk(p) for p in files).decode("latin-1")

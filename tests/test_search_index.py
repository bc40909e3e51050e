"""The full-text index stays in step with every write and every delete."""
import pytest
from django.db import connection

from sessions_app import search

from .factories import SessionFactory

pytestmark = pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's FTS5 index")


def indexed_count(word: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*) FROM {search.FTS_TABLE} WHERE {search.FTS_TABLE} MATCH %s", [f'"{word}"']
        )
        return cursor.fetchone()[0]


def test_an_appended_message_is_indexed(auth_client, user):
    SessionFactory(owner=user, key="s1")
    auth_client.post("/api/sessions/s1/messages", {"role": "user", "content": "Quokka facts"}, format="json")
    assert indexed_count("quokka") == 1


def test_a_deleted_sessions_messages_leave_the_index(auth_client, user):
    SessionFactory(owner=user, key="s1")
    auth_client.post("/api/sessions/s1/messages", {"role": "user", "content": "Quokka facts"}, format="json")
    auth_client.delete("/api/sessions/s1")
    assert indexed_count("quokka") == 0


def test_the_index_purges_deleted_entries_at_once(db):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT v FROM {search.FTS_TABLE}_config WHERE k = 'secure-delete'")
        assert cursor.fetchone() == (1,)

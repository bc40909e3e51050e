"""A deleted session leaves no byte of its text in any SQLite file, whichever path deleted it."""
import sqlite3
import time
import uuid
from datetime import timedelta
from io import StringIO
from pathlib import Path
from unittest import mock

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import OperationalError, connection
from django.test import Client
from django.utils import timezone

from sessions_app.models import Message, Session
from sessions_app.storage import purge_deleted_bytes

from .conftest import OnAnotherConnection, bearer_client, bytes_on_disk

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "sqlite",
        reason="the byte-level guarantee is SQLite's; PostgreSQL's limits are in docs/deletion.md",
    ),
]


def database_files() -> list[Path]:
    name = Path(connection.settings_dict["NAME"])
    return [p for p in (name, Path(f"{name}-wal"), Path(f"{name}-journal")) if p.exists()]


def traces_of(marker: str) -> list[str]:
    needle = marker.lower().encode()
    return [str(path) for path in database_files() if needle in bytes_on_disk(path).lower()]


@pytest.fixture
def marker():
    return f"Zebra{uuid.uuid4().hex}Marker"


@pytest.fixture
def owner():
    return get_user_model().objects.create_user(username="alice", password="pw-alice-123")


@pytest.fixture
def written(owner, marker):
    """A session whose title, messages, metadata and idempotency keys carry the marker, already searched for."""
    client = bearer_client(owner)
    client.post("/api/sessions", {"id": "telegram:42", "title": f"About {marker}"}, format="json")
    for role in ["user", "assistant"]:
        response = client.post(
            "/api/sessions/telegram:42/messages",
            {"role": role, "content": f"the word is {marker.upper()}", "metadata": {"note": marker}},
            format="json",
            HTTP_IDEMPOTENCY_KEY=f"{role}-{marker}",
        )
        assert response.status_code == 201
    found = client.get("/api/sessions/search", {"q": marker}).json()["sessions"]
    assert [s["id"] for s in found] == ["telegram:42"]
    connection.close()  # let the checkpoint below see every page on disk
    assert traces_of(marker), "the marker should be on disk before the delete"
    return client


def admin_client() -> Client:
    get_user_model().objects.create_superuser("root", "root@example.com", "pw-root-123")
    client = Client()
    client.login(username="root", password="pw-root-123")
    return client


def test_api_delete_leaves_no_trace(written, marker):
    assert written.delete("/api/sessions/telegram:42").status_code == 200
    assert traces_of(marker) == []


def test_api_bulk_delete_leaves_no_trace(written, marker):
    response = written.post("/api/sessions/bulk-delete", {"ids": ["telegram:42"]}, format="json")
    assert response.json() == {"status": "ok", "deleted": 1}
    assert traces_of(marker) == []


def test_api_delete_all_leaves_no_trace(written, marker):
    response = written.post("/api/sessions/bulk-delete", {"all": True}, format="json")
    assert response.json() == {"status": "ok", "deleted": 1}
    assert traces_of(marker) == []


def test_admin_delete_leaves_no_trace(written, marker):
    session = Session.objects.get()
    admin_client().post(f"/admin/sessions_app/session/{session.pk}/delete/", {"post": "yes"})
    assert not Session.objects.exists()
    assert traces_of(marker) == []


def test_admin_bulk_delete_leaves_no_trace(written, marker):
    session = Session.objects.get()
    admin_client().post(
        "/admin/sessions_app/session/",
        {"action": "delete_selected", "_selected_action": [session.pk], "post": "yes"},
    )
    assert not Session.objects.exists()
    assert traces_of(marker) == []


def test_command_delete_leaves_no_trace(written, marker):
    call_command("delete_session", "telegram:42", "--noinput", stdout=StringIO())
    assert traces_of(marker) == []


def test_retention_delete_leaves_no_trace(written, marker):
    Session.objects.update(updated_at=timezone.now() - timedelta(days=40))
    call_command("delete_session", "--older-than", "30", "--noinput", stdout=StringIO())
    assert not Session.objects.exists()
    assert traces_of(marker) == []


def test_deleting_the_owner_leaves_no_trace(written, owner, marker):
    owner.delete()
    assert not Session.objects.exists()
    assert traces_of(marker) == []


class OlderSnapshotReader:
    """Another connection reading inside a transaction begun before the delete, as an
    export still streaming does: SQLite cannot empty the WAL until it finishes."""

    def __enter__(self):
        self.connection = sqlite3.connect(connection.settings_dict["NAME"], isolation_level=None)
        self.connection.execute("BEGIN")
        self.connection.execute("SELECT count(*) FROM sessions_app_message").fetchone()
        return self

    def finish(self):
        self.connection.execute("COMMIT")

    def __exit__(self, *exc):
        self.connection.close()


def delete_in_another_thread(client) -> OnAnotherConnection:
    """The delete's thread, started; its `result` is the answer's status."""
    thread = OnAnotherConnection(lambda: client.delete("/api/sessions/telegram:42").status_code)
    thread.start()
    return thread


def wait_until_deleted(probe: sqlite3.Connection) -> None:
    for _ in range(500):
        if not probe.execute("SELECT count(*) FROM sessions_app_session WHERE key = 'telegram:42'").fetchone()[0]:
            return
        time.sleep(0.01)
    raise AssertionError("the delete did not commit")


def test_delete_waiting_for_an_older_reader_holds_off_no_other_writer(written, owner):
    other = Session.objects.create(owner=owner, key="other")
    writer = sqlite3.connect(connection.settings_dict["NAME"], isolation_level=None, timeout=0.5)
    with OlderSnapshotReader() as reader:
        deleting = delete_in_another_thread(written)
        wait_until_deleted(writer)
        # The delete's checkpoint is now waiting for the reader; a write must still get in.
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("UPDATE sessions_app_session SET title = 'renamed' WHERE id = ?", [other.pk])
        writer.execute("COMMIT")
        reader.finish()
        deleting.join()
    writer.close()
    other.refresh_from_db()
    assert (deleting.result, other.title) == (200, "renamed")


def test_delete_purges_once_an_older_reader_finishes(written, marker):
    # Open throughout: SQLite empties the WAL by itself when its last connection closes.
    probe = sqlite3.connect(connection.settings_dict["NAME"], isolation_level=None)
    with OlderSnapshotReader() as reader:
        deleting = delete_in_another_thread(written)
        wait_until_deleted(probe)
        time.sleep(0.2)
        reader.finish()
        deleting.join()
    assert (deleting.result, traces_of(marker)) == (200, [])
    probe.close()


def test_a_delete_purges_while_another_session_is_still_being_downloaded(written, owner, marker):
    exported = Session.objects.create(owner=owner, key="exported")
    Message.objects.bulk_create(Message(session=exported, role="user", content="x" * 1000) for _ in range(300))
    download = iter(bearer_client(owner).get("/api/sessions/exported/export").streaming_content)
    next(download)  # a slow client: it has the first chunk and has not asked for more
    deleting = delete_in_another_thread(written)
    deleting.join(timeout=5)
    waited_for_the_download, traces = deleting.is_alive(), traces_of(marker)
    list(download)
    deleting.join()
    assert (waited_for_the_download, deleting.result, traces) == (False, 200, [])


def test_a_checkpoint_that_fails_is_logged_with_what_to_run(caplog):
    failure = OperationalError("disk I/O error")
    with mock.patch("sessions_app.storage._checkpoint_until_done_or_timeout", side_effect=failure):
        purge_deleted_bytes()
    assert "WAL checkpoint after a delete failed (disk I/O error)" in caplog.text
    assert "PRAGMA wal_checkpoint(TRUNCATE)" in caplog.text


def test_a_checkpoint_still_blocked_when_its_wait_runs_out_is_logged_with_what_to_run(owner, caplog):
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA busy_timeout = 50")
    with OlderSnapshotReader():
        Session.objects.create(owner=owner, key="written after the reader began")
        purge_deleted_bytes()
    assert "WAL checkpoint after a delete was blocked" in caplog.text


def test_the_purge_gives_the_connection_its_busy_timeout_back(written):
    # The purge waits with SQLite's own wait off; later queries on the connection need it back.
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA busy_timeout = 1234")
        written.delete("/api/sessions/telegram:42")
        cursor.execute("PRAGMA busy_timeout")
        assert cursor.fetchone() == (1234,)


"""A deleted session leaves no byte of its text in any SQLite file, whichever path deleted it."""
import uuid
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.utils import timezone

from sessions_app.models import Session

from .conftest import bearer_client

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
    return [str(path) for path in database_files() if needle in path.read_bytes().lower()]


@pytest.fixture
def marker():
    return f"Zebra{uuid.uuid4().hex}Marker"


@pytest.fixture
def owner():
    return get_user_model().objects.create_user(username="alice", password="pw-alice-123")


@pytest.fixture
def written(owner, marker):
    """A session whose title, messages and metadata carry the marker, already searched for."""
    client = bearer_client(owner)
    client.post("/api/sessions", {"id": "telegram:42", "title": f"About {marker}"}, format="json")
    for role in ["user", "assistant"]:
        response = client.post(
            "/api/sessions/telegram:42/messages",
            {"role": role, "content": f"the word is {marker.upper()}", "metadata": {"note": marker}},
            format="json",
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

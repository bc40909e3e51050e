import subprocess
import threading
from pathlib import Path
from urllib.parse import quote

import pytest
from django.core.cache import cache, caches
from django.db import OperationalError, connection
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from sessions_app import services

from .factories import UserFactory

PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def fresh_rate_limits(request, django_db_blocker):
    """Each test starts with no rate-limit counts.

    The login limits' counts are in the database, where a test on a live server commits
    them and neither rolling back nor flushing removes them; so they are cleared before
    every test that uses the database.
    """
    cache.clear()
    if {"db", "transactional_db", "live_server"} & set(request.fixturenames) or request.node.get_closest_marker(
        "django_db"
    ):
        request.getfixturevalue("django_db_setup")
        with django_db_blocker.unblock():
            caches["login_throttle"].clear()
    yield
    cache.clear()


@pytest.fixture
def user(db):
    return UserFactory(username="alice")


@pytest.fixture
def other_user(db):
    return UserFactory(username="bob")


@pytest.fixture
def api_client():
    return APIClient()


def bearer_client(user) -> APIClient:
    """A client that sends a real SimpleJWT access token, as PocketPaw's clients do."""
    client = APIClient()
    token = RefreshToken.for_user(user).access_token
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


@pytest.fixture
def auth_client(user):
    return bearer_client(user)


@pytest.fixture
def other_client(other_user):
    return bearer_client(other_user)


def path_segment(key: str, encoded: bool) -> str:
    """A session id as a client puts it in a URL: as it is, or percent-encoded."""
    return quote(key, safe="") if encoded else key


def bytes_on_disk(path: Path) -> bytes:
    """A database file's bytes, read by another process.

    Closing any descriptor of a file drops every POSIX lock this process holds on it,
    SQLite's included: a connection in another process (a test's second worker) would
    then take itself for the last one and delete the log from under this one's.
    """
    return subprocess.run(["cat", str(path)], capture_output=True, check=True).stdout


class OnAnotherConnection(threading.Thread):
    """Runs `call` in a thread of its own, so on a database connection of its own, and
    keeps what it returns in `result`."""

    def __init__(self, call):
        super().__init__()
        self.call = call
        self.result = None

    def run(self):
        try:
            self.result = self.call()
        finally:
            connection.close()


def statements_that_sort(captured_queries) -> list[str]:
    """The SELECTs among these whose SQLite plan sorts rows in a temporary B-tree instead of
    reading them in an index's order: a cost that grows with the table on every page."""
    sorting = []
    with connection.cursor() as cursor:
        for query in captured_queries:
            if query["sql"].startswith("SELECT"):
                cursor.execute("EXPLAIN QUERY PLAN " + query["sql"])
                if any("USE TEMP B-TREE" in row[-1] for row in cursor.fetchall()):
                    sorting.append(query["sql"])
    return sorting


def login(client, username="alice") -> dict:
    """The token pair the token route answers for a user with the test password."""
    response = client.post("/api/auth/token", {"username": username, "password": PASSWORD}, format="json")
    assert response.status_code == 200
    return response.json()


@pytest.fixture
def purge_fails(monkeypatch):
    """The purge of the freed bytes that follows a committed delete fails (a disk error)."""

    def failing_purge():
        raise OperationalError("disk I/O error")

    # A plain function: Django's robust on_commit logs the callback by its qualified name.
    monkeypatch.setattr(services, "purge_deleted_bytes", failing_purge)

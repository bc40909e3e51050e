"""When the database stays busy past what the service waits for, clients get 503, not 500.

Another connection holds what the request needs: on SQLite the write lock (BEGIN
IMMEDIATE), on PostgreSQL a row (SELECT ... FOR UPDATE): the session's, which the
request waits for first, or the owner's SessionTotal, which a delete updates last,
after its DELETEs have run. The request's own connection gives up after 100 ms
instead of its production wait.
"""
import sqlite3
from contextlib import contextmanager
from unittest import mock

import pytest
from django.core.management import CommandError, call_command
from django.db import OperationalError, connection

from sessions_app import services
from sessions_app.models import Message, Session

from .factories import session_with_messages

pytestmark = pytest.mark.django_db(transaction=True)

GIVE_UP = {
    "sqlite": ("PRAGMA busy_timeout = 100", "PRAGMA busy_timeout = {production}"),
    "postgresql": ("SET lock_timeout = '100ms'", "RESET lock_timeout"),
}
POSTGRES_ROW_LOCKS = {
    "session": "SELECT 1 FROM sessions_app_session WHERE id = %s FOR UPDATE",
    "total": "SELECT 1 FROM sessions_app_sessiontotal WHERE owner_id = %s FOR UPDATE",
}


@contextmanager
def held_by_another_connection(session, row: str = "session"):
    holder = connection.get_new_connection(connection.get_connection_params())
    try:
        if connection.vendor == "sqlite":
            holder.execute("BEGIN IMMEDIATE")
        else:
            row_id = session.pk if row == "session" else session.owner_id
            assert holder.execute(POSTGRES_ROW_LOCKS[row], [row_id]).fetchone() == (1,)
        give_up, restore = GIVE_UP[connection.vendor]
        production_ms = int(connection.settings_dict["OPTIONS"].get("timeout", 5) * 1000)
        with connection.cursor() as cursor:
            cursor.execute(give_up)
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                cursor.execute(restore.format(production=production_ms))
    finally:
        holder.rollback()
        holder.close()


@pytest.fixture
def session(user):
    return session_with_messages(owner=user, key="held", count=3)


def test_delete_answers_503_with_retry_after_while_the_database_is_held(auth_client, session):
    with held_by_another_connection(session):
        response = auth_client.delete("/api/sessions/held")

    assert response.status_code == 503
    assert response.json() == {"detail": "The database is busy; try again in a moment."}
    assert response["Retry-After"] == "1"


def test_delete_that_gave_up_after_its_deletes_ran_leaves_every_message(auth_client, session):
    with held_by_another_connection(session, row="total"):
        response = auth_client.delete("/api/sessions/held")

    assert response.status_code == 503
    assert Session.objects.filter(key="held").exists()
    assert Message.objects.filter(session__key="held").count() == 3


def test_append_answers_503_while_the_database_is_held(auth_client, session):
    with held_by_another_connection(session):
        response = auth_client.post(
            "/api/sessions/held/messages", {"role": "user", "content": "hi"}, format="json"
        )

    assert response.status_code == 503


def test_admin_delete_answers_503_while_the_database_is_held(admin_client, session):
    with held_by_another_connection(session):
        response = admin_client.post(
            f"/admin/sessions_app/session/{session.pk}/delete/", {"post": "yes"}
        )

    assert (response.status_code, response["Retry-After"]) == (503, "1")
    assert Session.objects.filter(pk=session.pk).exists()


def test_command_that_found_the_database_held_says_nothing_was_deleted(session):
    with held_by_another_connection(session), pytest.raises(CommandError, match="nothing was deleted"):
        call_command("delete_session", "held", "--noinput")

    assert Message.objects.filter(session__key="held").count() == 3


def test_unreachable_database_answers_503(auth_client, user):
    session_with_messages(owner=user, key="s1", count=1)
    with mock.patch.object(
        services, "session_delete_for_user", side_effect=OperationalError("connection refused")
    ):
        response = auth_client.delete("/api/sessions/s1")

    assert response.status_code == 503


class DriverError(Exception):
    """What a database driver raised, as Django keeps it in __cause__."""

    def __init__(self, *, sqlstate=None, sqlite_errorcode=None):
        super().__init__("driver error")
        if sqlstate is not None:
            self.sqlstate = sqlstate
        if sqlite_errorcode is not None:
            self.sqlite_errorcode = sqlite_errorcode


RETRYABLE_DRIVER_ERRORS = {
    "SQLite: table locked": DriverError(sqlite_errorcode=sqlite3.SQLITE_LOCKED),
    # An extended code: a WAL reader's snapshot went stale under a writer; busy all the same.
    "SQLite: busy snapshot": DriverError(sqlite_errorcode=sqlite3.SQLITE_BUSY_SNAPSHOT),
    "PostgreSQL: connection failure": DriverError(sqlstate="08006"),
    "PostgreSQL: serialization failure": DriverError(sqlstate="40001"),
    "PostgreSQL: deadlock": DriverError(sqlstate="40P01"),
    "PostgreSQL: too many connections": DriverError(sqlstate="53300"),
}


@pytest.mark.parametrize("driver_error", RETRYABLE_DRIVER_ERRORS.values(), ids=RETRYABLE_DRIVER_ERRORS.keys())
def test_a_database_error_that_a_retry_can_clear_answers_503_with_retry_after(auth_client, user, driver_error):
    session_with_messages(owner=user, key="s1", count=1)
    error = OperationalError("driver error")
    error.__cause__ = driver_error
    with mock.patch.object(services, "session_delete_for_user", side_effect=error):
        response = auth_client.delete("/api/sessions/s1")
    assert (response.status_code, "Retry-After" in response) == (503, True)


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's error codes")
def test_database_error_that_retrying_cannot_fix_still_answers_500(auth_client, user):
    session_with_messages(owner=user, key="s1", count=1)
    auth_client.raise_request_exception = False
    with mock.patch.object(services, "session_delete_for_user", side_effect=missing_table_error()):
        response = auth_client.delete("/api/sessions/s1")

    assert response.status_code == 500


def missing_table_error() -> OperationalError:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM no_such_table")
    except OperationalError as error:
        return error
    raise AssertionError("the query should have failed")

"""python manage.py recount_sessions: counters that drifted are corrected, the rest left alone."""
import io

from unittest import mock

import pytest
from django.core.management import CommandError, call_command
from django.db import OperationalError, connection
from django.test.utils import CaptureQueriesContext

from sessions_app import services
from sessions_app.models import Message, Session, SessionTotal

from .factories import SessionFactory, UserFactory, session_with_messages

pytestmark = pytest.mark.django_db


def recount() -> str:
    stdout = io.StringIO()
    call_command("recount_sessions", stdout=stdout)
    return stdout.getvalue()


def listed(client) -> dict:
    return client.get("/api/sessions").json()


@pytest.mark.parametrize("drifted_to", [0, 7])
def test_a_total_that_drifted_is_corrected(auth_client, user, drifted_to):
    SessionFactory.create_batch(2, owner=user)
    SessionTotal.objects.filter(owner=user).update(sessions=drifted_to)
    recount()
    assert listed(auth_client)["total"] == 2


def test_sessions_deleted_around_the_services_leave_a_total_of_zero(auth_client, user):
    SessionFactory.create_batch(2, owner=user)
    Session.objects.filter(owner=user).delete()
    recount()
    assert listed(auth_client)["total"] == 0


def test_a_message_count_that_drifted_is_corrected(auth_client, user):
    session = session_with_messages(owner=user, key="s1", count=3)
    Message.objects.filter(session=session).first().delete()
    recount()
    assert [item["message_count"] for item in listed(auth_client)["sessions"]] == [2]


def test_an_owner_without_a_total_is_not_given_one(user):
    Session.objects.bulk_create(Session(owner=user, key=f"s{i}") for i in range(2))
    recount()
    assert not SessionTotal.objects.exists()


def test_reports_what_it_checked_and_corrected(user, other_user):
    SessionFactory(owner=user)
    SessionFactory(owner=other_user)
    SessionTotal.objects.filter(owner=user).update(sessions=5)
    Session.objects.filter(owner=other_user).update(message_count=4)
    assert recount().splitlines() == [
        "Session totals: 2 users checked, 1 corrected.",
        "Message counts: 2 sessions checked, 1 corrected.",
    ]


def test_counters_that_are_right_are_left_alone(user):
    session_with_messages(owner=user, key="s1", count=3)
    assert recount().splitlines() == [
        "Session totals: 1 user checked, 0 corrected.",
        "Message counts: 1 session checked, 0 corrected.",
    ]


def test_counters_past_one_batch_are_all_corrected(monkeypatch):
    monkeypatch.setattr(services, "IDS_PER_STATEMENT", 2)
    owners = UserFactory.create_batch(5)
    for owner in owners:
        SessionFactory(owner=owner)
    SessionTotal.objects.update(sessions=9)
    Session.objects.update(message_count=9)
    recount()
    assert (
        set(SessionTotal.objects.values_list("sessions", flat=True)),
        set(Session.objects.values_list("message_count", flat=True)),
    ) == ({1}, {0})


def test_the_report_adds_up_every_batch(monkeypatch):
    monkeypatch.setattr(services, "IDS_PER_STATEMENT", 2)
    for owner in UserFactory.create_batch(5):
        SessionFactory(owner=owner)
    SessionTotal.objects.update(sessions=9)
    assert recount().splitlines() == [
        "Session totals: 5 users checked, 5 corrected.",
        "Message counts: 5 sessions checked, 0 corrected.",
    ]


def test_queries_do_not_grow_with_the_rows_in_a_batch(user):
    SessionFactory(owner=user)
    with CaptureQueriesContext(connection) as one:
        recount()
    SessionFactory.create_batch(20, owner=user)
    with CaptureQueriesContext(connection) as many:
        recount()
    assert len(many) == len(one)


def test_a_database_failure_is_a_command_error_that_says_to_run_it_again(user):
    with mock.patch.object(services, "counters_recount", side_effect=OperationalError("database is locked")):
        with pytest.raises(CommandError, match=r"failed during the recount \(database is locked\).*run the command again"):
            recount()

"""The list's `total`: read from each owner's SessionTotal, kept in step with every create and delete."""
import importlib
import io
from unittest import mock

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from sessions_app import services
from sessions_app.models import Session, SessionTotal

from .factories import SessionFactory, UserFactory

pytestmark = pytest.mark.django_db


def listed_total(client) -> int:
    return client.get("/api/sessions").json()["total"]


def test_total_counts_sessions_created_through_the_api(auth_client):
    for key in ("a", "b", "c"):
        auth_client.post("/api/sessions", {"id": key}, format="json")
    assert listed_total(auth_client) == 3


def test_total_falls_after_an_api_delete(auth_client, user):
    SessionFactory.create_batch(3, owner=user)
    auth_client.delete(f"/api/sessions/{Session.objects.first().key}")
    assert listed_total(auth_client) == 2


def test_total_falls_after_a_bulk_delete(auth_client, user):
    SessionFactory(owner=user, key="a")
    SessionFactory(owner=user, key="b")
    SessionFactory(owner=user, key="c")
    auth_client.post("/api/sessions/bulk-delete", {"ids": ["a", "b"]}, format="json")
    assert listed_total(auth_client) == 1


def test_total_falls_after_the_delete_session_command(auth_client, user):
    SessionFactory(owner=user, key="a")
    SessionFactory(owner=user, key="b")
    call_command("delete_session", "a", "--noinput", stdout=io.StringIO())
    assert listed_total(auth_client) == 1


def test_a_delete_across_owners_lowers_each_owners_own_total(user, other_user):
    SessionFactory.create_batch(3, owner=user)
    SessionFactory.create_batch(2, owner=other_user)
    doomed = [
        *Session.objects.filter(owner=user).values_list("pk", flat=True)[:2],
        *Session.objects.filter(owner=other_user).values_list("pk", flat=True)[:1],
    ]
    services.sessions_delete(sessions=Session.objects.filter(pk__in=doomed), via="command")
    totals = dict(SessionTotal.objects.values_list("owner__username", "sessions"))
    assert totals == {"alice": 1, "bob": 1}


def test_a_delete_across_more_owners_than_one_batch_lowers_every_total(monkeypatch):
    monkeypatch.setattr(services, "IDS_PER_STATEMENT", 2)
    owners = UserFactory.create_batch(5)
    for owner in owners:
        SessionFactory.create_batch(2, owner=owner)
    one_each = [Session.objects.filter(owner=owner).first().pk for owner in owners]
    services.sessions_delete(sessions=Session.objects.filter(pk__in=one_each), via="retention")
    assert dict(SessionTotal.objects.values_list("owner_id", "sessions")) == {
        owner.pk: 1 for owner in owners
    }


def test_a_delete_that_locks_in_several_fetches_lowers_the_total_by_what_it_deleted(monkeypatch, user):
    # Three rows a fetch, so that resuming after the wrong row of the first would show.
    monkeypatch.setattr(services, "LOCK_FETCH_SIZE", 3)
    SessionFactory.create_batch(10, owner=user)
    doomed = list(Session.objects.filter(owner=user).order_by("pk").values_list("pk", flat=True)[:7])
    services.sessions_delete(sessions=Session.objects.filter(pk__in=doomed), via="retention")
    assert SessionTotal.objects.get(owner=user).sessions == 3


def test_list_reads_the_total_instead_of_counting(auth_client, user):
    SessionFactory.create_batch(3, owner=user)
    with CaptureQueriesContext(connection) as queries:
        auth_client.get("/api/sessions")
    assert not [q["sql"] for q in queries if "COUNT(" in q["sql"].upper()]


def test_the_page_and_its_total_agree_when_a_session_comes_between_reads(auth_client, user):
    SessionFactory(owner=user, key="s1")

    def another_create_commits_after_the_page_is_read(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if "ORDER BY" in sql and "sessions_app_session" in sql:
            SessionFactory(owner=user, key="s2")
        return result

    with connection.execute_wrapper(another_create_commits_after_the_page_is_read):
        answer = auth_client.get("/api/sessions").json()
    assert (len(answer["sessions"]), answer["total"]) == (1, 1)


def test_an_empty_first_page_has_a_total_of_zero_even_if_the_total_drifted(auth_client, user):
    SessionTotal.objects.create(owner=user, sessions=3)
    assert listed_total(auth_client) == 0


def test_an_owner_without_a_total_is_counted(auth_client, user):
    Session.objects.bulk_create(Session(owner=user, key=f"s{i}") for i in range(4))
    assert listed_total(auth_client) == 4


def test_an_owner_without_a_total_is_counted_without_other_users_sessions(auth_client, user, other_user):
    Session.objects.bulk_create(Session(owner=user, key=f"s{i}") for i in range(4))
    Session.objects.bulk_create(Session(owner=other_user, key=f"s{i}") for i in range(3))
    assert listed_total(auth_client) == 4


def test_the_first_counted_create_includes_sessions_already_there(auth_client, user):
    Session.objects.bulk_create(Session(owner=user, key=f"s{i}") for i in range(4))
    auth_client.post("/api/sessions", {"id": "new"}, format="json")
    assert SessionTotal.objects.get(owner=user).sessions == 5


def test_a_bulk_load_adds_all_its_sessions_to_a_total_already_there(auth_client, user):
    auth_client.post("/api/sessions", {"id": "first"}, format="json")
    Session.objects.bulk_create(Session(owner=user, key=f"s{i}") for i in range(5))
    services.session_totals_adjust(changes={user.pk: 5})
    assert listed_total(auth_client) == 6


def test_a_create_that_finds_its_first_total_written_meanwhile_by_another_is_still_counted(user):
    # The other create committed its sessions and the owner's first total between this
    # create's UPDATE (which found no row) and its INSERT (which then collides).
    SessionFactory(owner=user, key="the other create's")  # and its total of 1
    Session.objects.create(owner=user, key="this create's")
    filter_rows = SessionTotal.objects.filter
    before_the_other_commit = iter([True])
    with mock.patch.object(
        SessionTotal.objects,
        "filter",
        side_effect=lambda **lookups: filter_rows(**lookups).none()
        if next(before_the_other_commit, False)
        else filter_rows(**lookups),
    ):
        services.session_totals_adjust(changes={user.pk: 1})
    assert SessionTotal.objects.get(owner=user).sessions == 2


def test_a_total_that_drifted_to_zero_does_not_block_a_delete(auth_client, user):
    SessionFactory(owner=user, key="a")
    SessionTotal.objects.filter(owner=user).update(sessions=0)
    response = auth_client.delete("/api/sessions/a")
    assert (response.status_code, listed_total(auth_client)) == (200, 0)


def test_a_failed_create_leaves_the_total_alone(auth_client, user):
    auth_client.post("/api/sessions", {"id": "a"}, format="json")
    auth_client.post("/api/sessions", {"id": "a"}, format="json")
    assert listed_total(auth_client) == 1


def test_deleting_a_user_removes_their_total(user):
    SessionFactory(owner=user)
    user.delete()
    assert not SessionTotal.objects.exists()


def test_the_migration_counts_the_sessions_that_exist(user, other_user):
    SessionFactory.create_batch(3, owner=user)
    SessionFactory(owner=other_user)
    UserFactory(username="carol")
    SessionTotal.objects.all().delete()
    migration = importlib.import_module("sessions_app.migrations.0005_session_total")
    migration.count_existing_sessions(apps, connection.schema_editor())
    totals = dict(SessionTotal.objects.values_list("owner__username", "sessions"))
    assert totals == {"alice": 3, "bob": 1}

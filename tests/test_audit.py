"""Every deletion leaves a DeletionRecord that says who, how and how much, never what."""
from datetime import timedelta
from io import StringIO
from unittest import mock

import pytest
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.core.management import call_command
from django.db import DatabaseError, connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from sessions_app.admin_site import AdminSite
from sessions_app.models import DeletionRecord, Message, Session

from .conftest import statements_that_sort
from .factories import SessionFactory, session_with_messages


def only_record() -> DeletionRecord:
    (record,) = DeletionRecord.objects.all()
    return record


def test_a_record_holds_no_title_content_or_metadata():
    fields = {f.name for f in DeletionRecord._meta.get_fields()}
    assert fields == {
        "id", "session_key", "owner_id", "owner_username", "actor_username", "via", "message_count", "deleted_at"
    }


def test_api_delete_is_recorded(auth_client, user):
    session_with_messages(owner=user, key="telegram:1", count=3, title="secret")
    auth_client.delete("/api/sessions/telegram:1")
    record = only_record()
    assert (record.session_key, record.owner_username, record.actor_username, record.via, record.message_count) == (
        "telegram:1", "alice", "alice", "api", 3,
    )
    assert timezone.now() - record.deleted_at < timedelta(minutes=1)


def test_admin_delete_is_recorded_with_the_operator(admin_client, admin_user, user):
    session = session_with_messages(owner=user, key="s1", count=2)
    admin_client.post(f"/admin/sessions_app/session/{session.pk}/delete/", {"post": "yes"})
    record = only_record()
    assert (record.owner_username, record.actor_username, record.via, record.message_count) == (
        "alice", admin_user.username, "admin", 2,
    )


def test_admin_bulk_delete_records_each_session(admin_client, user):
    chosen = [SessionFactory(owner=user, key=k) for k in ["a", "b"]]
    admin_client.post(
        "/admin/sessions_app/session/",
        {"action": "delete_selected", "_selected_action": [s.pk for s in chosen], "post": "yes"},
    )
    assert sorted(DeletionRecord.objects.values_list("session_key", "via")) == [("a", "admin"), ("b", "admin")]


def test_admin_bulk_delete_records_the_operator_as_actor(admin_client, admin_user, user):
    session = SessionFactory(owner=user, key="a")
    admin_client.post(
        "/admin/sessions_app/session/",
        {"action": "delete_selected", "_selected_action": [session.pk], "post": "yes"},
    )
    assert only_record().actor_username == admin_user.username


def test_api_bulk_delete_records_the_caller_as_actor(auth_client, user):
    SessionFactory(owner=user, key="a")
    auth_client.post("/api/sessions/bulk-delete", {"ids": ["a"]}, format="json")
    record = only_record()
    assert (record.via, record.actor_username) == ("api", "alice")


def test_command_delete_is_recorded(user):
    SessionFactory(owner=user, key="s1")
    call_command("delete_session", "s1", "--noinput", stdout=StringIO())
    assert only_record().via == "command"


@pytest.fixture(autouse=True)
def not_under_sudo(monkeypatch):
    # The suite itself may run under sudo; each test says whether its command does.
    monkeypatch.delenv("SUDO_USER", raising=False)


def test_a_command_record_names_the_login_that_ran_it(user):
    SessionFactory(owner=user, key="s1")
    with mock.patch("getpass.getuser", return_value="operator"):
        call_command("delete_session", "s1", "--noinput", stdout=StringIO())
    assert only_record().actor_username == "operator"


@pytest.mark.parametrize(
    "login, actor",
    [("pocketpaw", "alice (sudo as pocketpaw)"), ("alice", "alice")],
    ids=["as another account", "as oneself"],
)
def test_a_command_run_under_sudo_records_who_ran_sudo(user, monkeypatch, login, actor):
    SessionFactory(owner=user, key="s1")
    # sudo -u pocketpaw sets LOGNAME and USER to the target account; SUDO_USER is who ran it.
    monkeypatch.setenv("SUDO_USER", "alice")
    with mock.patch("getpass.getuser", return_value=login):
        call_command("delete_session", "s1", "--noinput", stdout=StringIO())
    assert only_record().actor_username == actor


def test_a_command_run_by_a_login_that_is_not_utf8_deletes_and_records_it_readably(user):
    SessionFactory(owner=user, key="s1")
    # What Python makes of LOGNAME=$'op\xff' in the environment.
    with mock.patch("getpass.getuser", return_value="op\udcff"):
        call_command("delete_session", "s1", "--noinput", stdout=StringIO())
    assert only_record().actor_username == "op\ufffd"


def test_a_command_run_by_a_login_longer_than_the_record_holds_deletes_and_records_its_start(user):
    SessionFactory(owner=user, key="s1")
    with mock.patch("getpass.getuser", return_value="o" * 500):
        call_command("delete_session", "s1", "--noinput", stdout=StringIO())
    assert only_record().actor_username == "o" * 150


def test_retention_delete_is_recorded(user):
    SessionFactory(owner=user, key="old", updated_at=timezone.now() - timedelta(days=10))
    call_command("delete_session", "--older-than", "5", "--noinput", stdout=StringIO())
    record = only_record()
    assert (record.session_key, record.via) == ("old", "retention")


def test_a_retention_policy_record_names_no_actor(user, settings):
    # The configured policy deleted it, not a person; the cron job's login is not an actor.
    settings.SESSION_RETENTION_DAYS = 5
    SessionFactory(owner=user, key="old", updated_at=timezone.now() - timedelta(days=10))
    with mock.patch("getpass.getuser", return_value="operator"):
        call_command("delete_session", "--retention", "--noinput", stdout=StringIO())
    assert only_record().actor_username == ""


def test_a_retention_run_limited_to_a_user_names_the_login_that_chose_the_user(user, settings):
    settings.SESSION_RETENTION_DAYS = 5
    SessionFactory(owner=user, key="old", updated_at=timezone.now() - timedelta(days=10))
    with mock.patch("getpass.getuser", return_value="operator"):
        call_command("delete_session", "--retention", "--user", user.username, "--noinput", stdout=StringIO())
    assert (only_record().via, only_record().actor_username) == ("retention", "operator")


def test_an_older_than_record_names_the_login_that_chose_the_age(user):
    SessionFactory(owner=user, key="old", updated_at=timezone.now() - timedelta(days=10))
    with mock.patch("getpass.getuser", return_value="operator"):
        call_command("delete_session", "--older-than", "5", "--user", user.username, "--noinput", stdout=StringIO())
    assert (only_record().via, only_record().actor_username) == ("retention", "operator")


def test_a_failed_delete_leaves_no_record(auth_client):
    auth_client.delete("/api/sessions/nope")
    assert not DeletionRecord.objects.exists()


def test_records_survive_the_deletion_of_the_users_they_name(auth_client, user):
    SessionFactory(owner=user, key="s1")
    auth_client.delete("/api/sessions/s1")
    user.delete()
    assert only_record().owner_username == "alice"


# --- deleting a user --------------------------------------------------------------------


def test_deleting_a_user_deletes_their_sessions_and_messages(user, other_user):
    session_with_messages(owner=user, key="a", count=3)
    session_with_messages(owner=other_user, key="b", count=2)
    user.delete()
    assert list(Session.objects.values_list("key", flat=True)) == ["b"]
    assert Message.objects.count() == 2


def test_deleting_a_user_records_each_of_their_sessions(user):
    session_with_messages(owner=user, key="a", count=3)
    user.delete()
    record = only_record()
    assert (record.session_key, record.owner_username, record.via, record.message_count) == (
        "a", "alice", "user_deleted", 3,
    )


def test_deleting_a_user_outside_the_admin_records_no_actor(user):
    SessionFactory(owner=user, key="a")
    user.delete()
    assert only_record().actor_username == ""


def test_deleting_a_user_in_the_admin_deletes_their_sessions(admin_client, user):
    session_with_messages(owner=user, key="a", count=3)
    admin_client.post(f"/admin/auth/user/{user.pk}/delete/", {"post": "yes"})
    assert (Session.objects.count(), Message.objects.count()) == (0, 0)
    assert only_record().via == "user_deleted"


def test_deleting_a_user_in_the_admin_records_the_admin_as_actor(admin_client, admin_user, user):
    session_with_messages(owner=user, key="a", count=3)
    admin_client.post(f"/admin/auth/user/{user.pk}/delete/", {"post": "yes"})
    record = only_record()
    assert (record.via, record.actor_username) == ("user_deleted", admin_user.username)


def test_deleting_users_in_the_admin_list_records_the_admin_as_actor(admin_client, admin_user, user, other_user):
    session_with_messages(owner=user, key="a", count=1)
    session_with_messages(owner=other_user, key="b", count=2)
    admin_client.post(
        "/admin/auth/user/",
        {"action": "delete_selected", "_selected_action": [user.pk, other_user.pk], "post": "yes"},
    )
    assert (Session.objects.count(), Message.objects.count()) == (0, 0)
    assert sorted(DeletionRecord.objects.values_list("session_key", "actor_username")) == [
        ("a", admin_user.username), ("b", admin_user.username),
    ]


def test_deleting_users_in_the_admin_list_is_all_or_nothing(admin_client, user):
    session_with_messages(owner=user, key="a", count=2)
    admin_client.raise_request_exception = False
    # The accounts' delete fails after their sessions' delete has run.
    with mock.patch.object(UserAdmin, "delete_queryset", side_effect=DatabaseError("simulated")):
        response = admin_client.post(
            "/admin/auth/user/", {"action": "delete_selected", "_selected_action": [user.pk], "post": "yes"}
        )
    assert response.status_code == 500
    assert (Session.objects.count(), Message.objects.count()) == (1, 2)
    assert not DeletionRecord.objects.exists()


# --- the record in the admin ------------------------------------------------------------

RECORDS = "/admin/sessions_app/deletionrecord/"


def make_record(**fields):
    defaults = dict(session_key="s", owner_id=1, owner_username="alice", via="api", message_count=1)
    return DeletionRecord.objects.create(**{**defaults, **fields})


def test_admin_lists_records_filtered_by_via(admin_client):
    make_record(session_key="by-api", via="api")
    make_record(session_key="by-retention", via="retention")
    response = admin_client.get(RECORDS, {"via__exact": "retention"})
    assert [r.session_key for r in response.context["cl"].result_list] == ["by-retention"]


def test_admin_filters_records_by_date(admin_client):
    make_record(session_key="old", deleted_at=timezone.now() - timedelta(days=60))
    make_record(session_key="new")
    today = timezone.now()
    response = admin_client.get(
        RECORDS, {"deleted_at__year": today.year, "deleted_at__month": today.month, "deleted_at__day": today.day}
    )
    assert [r.session_key for r in response.context["cl"].result_list] == ["new"]


@pytest.mark.parametrize(
    "method, suffix, expected",
    [("get", "add/", 403), ("post", "{pk}/delete/", 403)],
    ids=["add", "delete"],
)
def test_admin_cannot_add_or_delete_records(admin_client, method, suffix, expected):
    record = make_record()
    response = getattr(admin_client, method)(RECORDS + suffix.format(pk=record.pk), {"post": "yes"})
    assert response.status_code == expected
    assert DeletionRecord.objects.count() == 1


def test_admin_cannot_change_a_record(admin_client):
    record = make_record(session_key="original")
    admin_client.post(f"{RECORDS}{record.pk}/change/", {"session_key": "forged", "via": "api"})
    record.refresh_from_db()
    assert record.session_key == "original"


# --- GET /api/audit/deletions ------------------------------------------------------------


def test_audit_api_lists_the_callers_deletions_newest_first(auth_client, user, other_user):
    now = timezone.now()
    make_record(session_key="older", owner_id=user.pk, deleted_at=now - timedelta(hours=2))
    make_record(session_key="newer", owner_id=user.pk, deleted_at=now - timedelta(hours=1))
    make_record(session_key="theirs", owner_id=other_user.pk)
    body = auth_client.get("/api/audit/deletions").json()
    assert [d["session_id"] for d in body["deletions"]] == ["newer", "older"]
    assert set(body["deletions"][0]) == {"session_id", "via", "actor", "message_count", "deleted_at"}


def test_audit_api_shows_a_delete_made_over_the_api(auth_client, user):
    session_with_messages(owner=user, key="s1", count=2)
    auth_client.delete("/api/sessions/s1")
    (entry,) = auth_client.get("/api/audit/deletions").json()["deletions"]
    assert (entry["session_id"], entry["via"], entry["actor"], entry["message_count"]) == ("s1", "api", "alice", 2)


def test_audit_api_honours_limit(auth_client, user):
    for i in range(3):
        make_record(session_key=f"s{i}", owner_id=user.pk)
    assert len(auth_client.get("/api/audit/deletions", {"limit": 2}).json()["deletions"]) == 2


@pytest.mark.parametrize("limit", [0, 501])
def test_audit_api_refuses_a_limit_outside_1_to_500(auth_client, limit):
    assert auth_client.get("/api/audit/deletions", {"limit": limit}).status_code == 400


def test_audit_api_does_not_show_records_of_an_earlier_user_with_the_same_name(auth_client, user):
    make_record(session_key="from-a-deleted-alice", owner_id=user.pk + 1000, owner_username="alice")
    assert auth_client.get("/api/audit/deletions").json() == {"deletions": []}


def test_audit_api_needs_a_token(api_client):
    assert api_client.get("/api/audit/deletions").status_code == 401


@pytest.mark.parametrize("query", ["deleted_at__year=9999", "deleted_at__year=9999&deleted_at__month=12"])
def test_a_date_hierarchy_at_the_calendars_last_year_gets_the_admins_bad_filter_answer(rf, admin_user, query):
    # No admin of ours has a date hierarchy any more; one registered on the site still gets the check.
    class RecordsByDateAdmin(admin.ModelAdmin):
        date_hierarchy = "deleted_at"

    site = AdminSite(name="by_date")
    site.register(DeletionRecord, RecordsByDateAdmin)
    request = rf.get(f"{RECORDS}?{query}")
    request.user = admin_user
    response = site.get_model_admin(DeletionRecord).changelist_view(request)
    assert response.status_code == 302
    assert response["Location"].endswith("?e=1")


@pytest.mark.parametrize("query", ["deleted_at__year=9999", "deleted_at__year=9999&deleted_at__month=12"])
def test_records_filtered_to_the_calendars_last_year_list_nothing(admin_client, query):
    make_record(session_key="now")
    response = admin_client.get(f"{RECORDS}?{query}")
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == []


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's query plans")
def test_the_admin_reads_records_in_index_order_and_scans_no_dates(admin_client):
    # A retention sweep gives every record it writes one deleted_at; the page sorted them,
    # and its date hierarchy read every record's date on each load.
    make_record(session_key="a")
    make_record(session_key="b")
    with CaptureQueriesContext(connection) as queries:
        assert admin_client.get(RECORDS).status_code == 200
    assert statements_that_sort(queries.captured_queries) == []


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's query plans")
def test_the_audit_api_reads_a_users_records_in_index_order(auth_client, user):
    make_record(session_key="a", owner_id=user.pk)
    make_record(session_key="b", owner_id=user.pk)
    with CaptureQueriesContext(connection) as queries:
        assert auth_client.get("/api/audit/deletions").status_code == 200
    assert statements_that_sort(queries.captured_queries) == []

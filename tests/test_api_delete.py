"""DELETE /api/sessions/{session_id}, exactly as PocketPaw documents it."""

import pytest

from sessions_app.models import Message, Session

from .conftest import path_segment
from .factories import MessageFactory, SessionFactory, session_with_messages
from .test_api_sessions import CHANNEL_KEYS


def test_delete_answers_200_status_ok(auth_client, user):
    SessionFactory(owner=user, key="session_abc123")
    response = auth_client.delete("/api/sessions/session_abc123")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_delete_removes_the_session(auth_client, user):
    SessionFactory(owner=user, key="session_abc123")
    auth_client.delete("/api/sessions/session_abc123")
    assert not Session.objects.filter(key="session_abc123").exists()


def test_delete_removes_every_message_of_the_session(auth_client, user):
    session_with_messages(owner=user, key="session_abc123", count=25)
    auth_client.delete("/api/sessions/session_abc123")
    assert Message.objects.count() == 0


def test_delete_leaves_other_sessions_messages(auth_client, user):
    session_with_messages(owner=user, key="gone", count=3)
    kept = session_with_messages(owner=user, key="kept", count=2)
    auth_client.delete("/api/sessions/gone")
    assert list(Message.objects.values_list("session_id", flat=True).distinct()) == [kept.pk]


def test_delete_request_takes_the_services_queries_with_no_separate_lookup_of_the_session(auth_client, user, django_assert_num_queries):
    session_with_messages(owner=user, key="session_abc123", count=3)
    # The token's user, then the service's seven (test_services): its row lock is the
    # ownership check, with no separate lookup of the session before it.
    with django_assert_num_queries(8):
        response = auth_client.delete("/api/sessions/session_abc123")
    assert response.status_code == 200


def test_delete_missing_session_is_404_with_contract_body(auth_client):
    response = auth_client.delete("/api/sessions/session_abc123")
    assert response.status_code == 404
    assert response.json() == {"detail": "Session not found"}


def test_delete_twice_is_404_the_second_time(auth_client, user):
    SessionFactory(owner=user, key="once")
    auth_client.delete("/api/sessions/once")
    assert auth_client.delete("/api/sessions/once").status_code == 404


def test_delete_another_users_session_is_404_and_keeps_it(auth_client, other_user):
    theirs = SessionFactory(owner=other_user, key="theirs")
    MessageFactory(session=theirs)
    response = auth_client.delete("/api/sessions/theirs")
    assert response.status_code == 404
    assert response.json() == {"detail": "Session not found"}
    assert Message.objects.filter(session=theirs).count() == 1


def test_delete_only_touches_the_callers_copy_of_a_shared_id(auth_client, user, other_user):
    SessionFactory(owner=user, key="telegram:123")
    SessionFactory(owner=other_user, key="telegram:123")
    auth_client.delete("/api/sessions/telegram:123")
    assert list(Session.objects.values_list("owner__username", flat=True)) == ["bob"]


@pytest.mark.parametrize("key", CHANNEL_KEYS)
@pytest.mark.parametrize("encoded", [False, True], ids=["raw", "percent-encoded"])
def test_delete_works_for_every_channel_key(auth_client, user, key, encoded):
    SessionFactory(owner=user, key=key)
    path_key = path_segment(key, encoded)
    response = auth_client.delete(f"/api/sessions/{path_key}")
    assert response.status_code == 200
    assert not Session.objects.filter(key=key).exists()


@pytest.mark.parametrize(
    "path", ["/api/sessions/s1/", "/api/v1/sessions/s1", "/api/v1/sessions/s1/"]
)
def test_delete_answers_with_slash_and_under_v1(auth_client, user, path):
    SessionFactory(owner=user, key="s1")
    assert auth_client.delete(path).status_code == 200


def test_a_format_parameter_does_not_stop_a_delete(auth_client, user):
    # DRF's renderer override answered 404 "Not found." and kept the session.
    SessionFactory(owner=user, key="s1")
    response = auth_client.delete("/api/sessions/s1?format=xml")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})
    assert not Session.objects.exists()


@pytest.mark.parametrize("reserved", ["search", "bulk-delete"])
def test_deleting_a_reserved_id_is_404_like_any_missing_session(auth_client, reserved):
    # Both are also routes of their own; a DELETE there is still the contract's answer.
    response = auth_client.delete(f"/api/sessions/{reserved}")
    assert (response.status_code, response.json()) == (404, {"detail": "Session not found"})


def test_getting_the_reserved_id_bulk_delete_is_404_like_any_missing_session(auth_client):
    response = auth_client.get("/api/sessions/bulk-delete")
    assert (response.status_code, response.json()) == (404, {"detail": "Session not found"})


def test_other_methods_on_a_reserved_route_stay_405(auth_client):
    assert auth_client.put("/api/sessions/bulk-delete", {}, format="json").status_code == 405


@pytest.mark.parametrize(
    "accept",
    ["text/html", "application/json;q=0", "text/html, application/json;q=0", "*/*;q=0", "application/json;q=0.0, */*"],
)
def test_a_delete_whose_accept_admits_no_json_is_406_and_deletes_nothing(auth_client, user, accept):
    SessionFactory(owner=user, key="s1")
    response = auth_client.delete("/api/sessions/s1", HTTP_ACCEPT=accept)
    assert response.status_code == 406
    assert Session.objects.filter(key="s1").exists()


@pytest.mark.parametrize("accept", ["text/html;q=0, */*", "application/json;q=0.5, */*;q=0", "application/json;q=x"])
def test_a_delete_whose_accept_admits_json_among_refusals_goes_through(auth_client, user, accept):
    SessionFactory(owner=user, key="s1")
    response = auth_client.delete("/api/sessions/s1", HTTP_ACCEPT=accept)
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_a_delete_whose_accept_has_an_unreadable_range_is_406_and_deletes_nothing(auth_client, user):
    # An RFC 2231 parameter in an unknown charset: Django's parser raised ValueError, a 500.
    SessionFactory(owner=user, key="s1")
    response = auth_client.delete("/api/sessions/s1", HTTP_ACCEPT="application/json; q*=x''0")
    assert response.status_code == 406
    assert Session.objects.filter(key="s1").exists()


def test_an_unreadable_accept_range_beside_a_readable_one_is_ignored(auth_client, user):
    SessionFactory(owner=user, key="s1")
    response = auth_client.delete("/api/sessions/s1", HTTP_ACCEPT="text/html; q*=x''0, application/json")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


@pytest.mark.django_db(transaction=True)
def test_a_purge_failing_after_the_commit_still_answers_200(auth_client, user, purge_fails):
    SessionFactory(owner=user, key="s1")
    response = auth_client.delete("/api/sessions/s1")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})
    assert not Session.objects.exists()

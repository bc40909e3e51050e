"""POST /api/sessions/bulk-delete: several of the caller's sessions, or all of them, at once."""
import pytest

from sessions_app.models import DeletionRecord, Message, Session

from .factories import SessionFactory, session_with_messages

URL = "/api/sessions/bulk-delete"


def keys_left(owner) -> list[str]:
    return sorted(Session.objects.filter(owner=owner).values_list("key", flat=True))


def test_bulk_delete_by_ids_answers_ok_with_the_count(auth_client, user):
    for key in ["a", "b", "c"]:
        session_with_messages(owner=user, key=key, count=2)
    response = auth_client.post(URL, {"ids": ["a", "c"]}, format="json")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "deleted": 2}
    assert keys_left(user) == ["b"]
    assert Message.objects.count() == 2


def test_bulk_delete_ignores_and_does_not_count_ids_that_are_not_the_callers(
    auth_client, user, other_user
):
    SessionFactory(owner=user, key="mine")
    SessionFactory(owner=other_user, key="theirs")
    response = auth_client.post(URL, {"ids": ["mine", "theirs", "nobody"]}, format="json")
    assert response.json() == {"status": "ok", "deleted": 1}
    assert keys_left(other_user) == ["theirs"]


def test_bulk_delete_leaves_another_users_copy_of_a_shared_id(auth_client, user, other_user):
    SessionFactory(owner=user, key="telegram:1")
    SessionFactory(owner=other_user, key="telegram:1")
    auth_client.post(URL, {"ids": ["telegram:1"]}, format="json")
    assert keys_left(other_user) == ["telegram:1"]


def test_bulk_delete_all_deletes_every_session_of_the_caller_only(auth_client, user, other_user):
    for key in ["a", "b"]:
        session_with_messages(owner=user, key=key, count=3)
    session_with_messages(owner=other_user, key="theirs", count=1)
    response = auth_client.post(URL, {"all": True}, format="json")
    assert response.json() == {"status": "ok", "deleted": 2}
    assert keys_left(user) == []
    assert (Session.objects.count(), Message.objects.count()) == (1, 1)


def test_bulk_delete_all_with_no_sessions_deletes_zero(auth_client):
    assert auth_client.post(URL, {"all": True}, format="json").json() == {"status": "ok", "deleted": 0}


def test_bulk_delete_records_each_session(auth_client, user):
    SessionFactory(owner=user, key="a")
    SessionFactory(owner=user, key="b")
    auth_client.post(URL, {"all": True}, format="json")
    assert sorted(DeletionRecord.objects.values_list("session_key", "via")) == [("a", "api"), ("b", "api")]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"ids": []},
        {"ids": "a"},
        {"ids": [None]},
        {"ids": ["a"], "all": True},
        {"all": False},
        {"all": "maybe"},
        {"all": 1},
        {"all": "true"},
        {"all": "yes"},
        ["a"],
        {"ids": ["a"] + [f"k{i}" for i in range(1000)]},
        {"ids": ["a", "x" * 256]},
    ],
    ids=[
        "empty", "empty ids", "ids not a list", "null id", "ids and all", "all false", "all not boolean",
        "all the number 1", "all the string true", "all the string yes", "a list",
        "1001 ids", "an id longer than any session's",
    ],
)
def test_bulk_delete_refuses_bad_bodies_with_400_and_deletes_nothing(auth_client, user, body):
    SessionFactory(owner=user, key="a")
    response = auth_client.post(URL, body, format="json")
    assert response.status_code == 400
    assert keys_left(user) == ["a"]


def test_bulk_delete_takes_an_id_as_sent_so_a_space_before_it_names_another_session(auth_client, user):
    SessionFactory(owner=user, key="a")
    response = auth_client.post(URL, {"ids": [" a"]}, format="json")
    assert (response.json(), keys_left(user)) == ({"status": "ok", "deleted": 0}, ["a"])


@pytest.mark.parametrize("number", [5, 5.0], ids=["integer", "decimal"])
def test_bulk_delete_refuses_an_id_sent_as_a_number_and_keeps_the_session_it_spells(auth_client, user, number):
    SessionFactory(owner=user, key=str(number))
    response = auth_client.post(URL, {"ids": [number]}, format="json")
    assert (response.status_code, keys_left(user)) == (400, [str(number)])


def test_bulk_delete_refuses_malformed_json(auth_client, user):
    SessionFactory(owner=user, key="a")
    response = auth_client.generic("POST", URL, '{"all": tru', content_type="application/json")
    assert response.status_code == 400
    assert keys_left(user) == ["a"]


def test_bulk_delete_needs_a_token(api_client, user):
    SessionFactory(owner=user, key="a")
    assert api_client.post(URL, {"all": True}, format="json").status_code == 401
    assert keys_left(user) == ["a"]


@pytest.mark.parametrize("path", [URL + "/", "/api/v1/sessions/bulk-delete"])
def test_bulk_delete_answers_with_slash_and_under_v1(auth_client, user, path):
    SessionFactory(owner=user, key="a")
    assert auth_client.post(path, {"ids": ["a"]}, format="json").json()["deleted"] == 1


def test_a_session_named_bulk_delete_cannot_be_created(auth_client):
    assert auth_client.post("/api/sessions", {"id": "bulk-delete"}, format="json").status_code == 400

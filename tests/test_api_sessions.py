"""Creating, reading and appending to sessions over the API."""
import re
from datetime import timedelta
from unittest import mock

import pytest
from django.contrib.auth import get_user_model
from django.test import Client, override_settings
from django.utils import timezone
from rest_framework_simplejwt.tokens import AccessToken

from sessions_app.models import Message, Session

from .conftest import path_segment
from .factories import SessionFactory

# Every form of key PocketPaw's channels produce.
CHANNEL_KEYS = [
    "session_a1b2c3d4",
    "telegram:123456789",
    "123456789:topic:42",
    "dm:987654321",
    "C01ABC:1705123456.789",
    "+1234567890",
    "!abc:matrix.org",
    "19:abc@thread.v2",
    "a=b~c-d_e",
    "x" * 255,
]

INVALID_KEYS = {
    "slash": "a/b",
    "space": "a b",
    "leading space": " s1",
    "trailing space": "s1 ",
    "tab": "a\tb",
    "newline": "a\nb",
    "control": "a\x00b",
    "percent": "a%20b",
    "question mark": "a?b",
    "hash": "a#b",
    "non-ascii": "caf\u00e9",
    "empty": "",
    "too long": "x" * 256,
    "dot": ".",
    "two dots": "..",
    "dots only": "...",
    "reserved search": "search",
}


def test_create_returns_201_with_the_session(auth_client):
    response = auth_client.post(
        "/api/sessions", {"id": "telegram:1", "title": "Trip", "channel": "telegram"}, format="json"
    )
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "title", "channel", "created_at", "updated_at", "message_count"}
    assert (body["id"], body["title"], body["channel"], body["message_count"]) == (
        "telegram:1",
        "Trip",
        "telegram",
        0,
    )


def test_create_without_id_generates_session_and_12_hex(auth_client):
    response = auth_client.post("/api/sessions", {}, format="json")
    assert response.status_code == 201
    assert re.fullmatch(r"session_[0-9a-f]{12}", response.json()["id"])


def test_create_without_channel_is_channel_web(auth_client):
    response = auth_client.post("/api/sessions", {"id": "s1"}, format="json")
    assert response.json()["channel"] == "web"
    assert Session.objects.get(key="s1").channel == "web"


def test_create_with_a_reserved_id_says_the_id_is_reserved(auth_client):
    response = auth_client.post("/api/sessions", {"id": "search"}, format="json")
    assert (response.status_code, response.json()) == (400, {"id": ["'search' is reserved by the API."]})


def test_delete_on_the_session_list_is_405(auth_client, user):
    SessionFactory(owner=user, key="s1")
    assert auth_client.delete("/api/sessions").status_code == 405
    assert Session.objects.filter(key="s1").exists()


@pytest.mark.parametrize(
    "method, path",
    [
        ("get", "/api/sessions/s1/messages"),
        ("delete", "/api/sessions/s1/history"),
        ("delete", "/api/sessions/s1/export"),
        ("get", "/api/sessions/s1/title"),
    ],
)
def test_a_method_a_sessions_route_does_not_take_is_405(auth_client, user, method, path):
    SessionFactory(owner=user, key="s1")
    assert getattr(auth_client, method)(path).status_code == 405


def test_create_without_title_is_titled_new_chat(auth_client):
    response = auth_client.post("/api/sessions", {"id": "s1"}, format="json")
    assert response.json()["title"] == "New Chat"


def test_create_existing_id_is_409(auth_client, user):
    SessionFactory(owner=user, key="dup")
    response = auth_client.post("/api/sessions", {"id": "dup"}, format="json")
    assert response.status_code == 409
    assert response.json() == {"detail": "Session already exists"}


def test_two_users_may_have_the_same_id(auth_client, other_user):
    SessionFactory(owner=other_user, key="telegram:123")
    response = auth_client.post("/api/sessions", {"id": "telegram:123"}, format="json")
    assert response.status_code == 201
    assert Session.objects.filter(key="telegram:123").count() == 2


@pytest.mark.parametrize("key", INVALID_KEYS.values(), ids=INVALID_KEYS.keys())
def test_create_refuses_invalid_id_with_400(auth_client, key):
    response = auth_client.post("/api/sessions", {"id": key}, format="json")
    assert response.status_code == 400
    assert "id" in response.json()
    assert not Session.objects.exists()


def test_an_invalid_id_is_refused_with_the_rule_it_broke(auth_client):
    response = auth_client.post("/api/sessions", {"id": "a b"}, format="json")
    assert response.json() == {"id": ["Session ids are 1-255 characters from letters, digits and _ - . : @ + ! = ~."]}


def test_create_refuses_title_over_200_characters(auth_client):
    response = auth_client.post("/api/sessions", {"title": "t" * 201}, format="json")
    assert response.status_code == 400
    assert not Session.objects.exists()


@pytest.mark.parametrize("title", ["", "   "], ids=["empty", "spaces only"])
def test_create_refuses_a_blank_title_with_400(auth_client, title):
    response = auth_client.post("/api/sessions", {"id": "s1", "title": title}, format="json")
    assert (response.status_code, Session.objects.exists()) == (400, False)


@pytest.mark.parametrize("channel", ["a b", "x/y", "", "c" * 65])
def test_create_refuses_a_channel_outside_letters_digits_underscores_dashes_and_dots_with_400(auth_client, channel):
    response = auth_client.post("/api/sessions", {"channel": channel}, format="json")
    assert response.status_code == 400
    assert "channel" in response.json()
    assert not Session.objects.exists()


def test_create_accepts_a_channel_of_letters_digits_underscores_dashes_and_dots(auth_client):
    response = auth_client.post("/api/sessions", {"channel": "my_bot-2.0"}, format="json")
    assert (response.status_code, response.json()["channel"]) == (201, "my_bot-2.0")


@pytest.mark.parametrize("field", ["id", "title", "channel"])
@pytest.mark.parametrize("value", [5, 1.5, True], ids=["integer", "decimal", "boolean"])
def test_create_refuses_a_text_field_sent_as_a_number_or_boolean_with_400(auth_client, field, value):
    response = auth_client.post("/api/sessions", {field: value}, format="json")
    assert (response.status_code, list(response.json())) == (400, [field])
    assert not Session.objects.exists()


def test_create_refuses_malformed_json_with_400(auth_client):
    response = auth_client.generic(
        "POST", "/api/sessions", '{"id": "x"', content_type="application/json"
    )
    assert response.status_code == 400
    assert not Session.objects.exists()


def test_create_refuses_a_json_list_with_400(auth_client):
    response = auth_client.post("/api/sessions", ["x"], format="json")
    assert response.status_code == 400


@pytest.mark.parametrize("key", CHANNEL_KEYS)
def test_every_channel_key_can_be_created(auth_client, key):
    response = auth_client.post("/api/sessions", {"id": key}, format="json")
    assert response.status_code == 201
    assert response.json()["id"] == key


@pytest.mark.parametrize("key", CHANNEL_KEYS)
@pytest.mark.parametrize("encoded", [False, True], ids=["raw", "percent-encoded"])
def test_every_channel_key_can_be_read(auth_client, user, key, encoded):
    SessionFactory(owner=user, key=key)
    path_key = path_segment(key, encoded)
    response = auth_client.get(f"/api/sessions/{path_key}")
    assert response.status_code == 200
    assert response.json()["id"] == key


@pytest.mark.parametrize("key", CHANNEL_KEYS)
@pytest.mark.parametrize("encoded", [False, True], ids=["raw", "percent-encoded"])
def test_every_channel_key_takes_messages(auth_client, user, key, encoded):
    SessionFactory(owner=user, key=key)
    path_key = path_segment(key, encoded)
    response = auth_client.post(
        f"/api/sessions/{path_key}/messages", {"role": "user", "content": "hi"}, format="json"
    )
    assert response.status_code == 201
    assert Message.objects.filter(session__key=key).count() == 1


def test_get_missing_session_is_404_with_contract_body(auth_client):
    response = auth_client.get("/api/sessions/nope")
    assert response.status_code == 404
    assert response.json() == {"detail": "Session not found"}


def test_get_another_users_session_is_404(auth_client, other_user):
    SessionFactory(owner=other_user, key="theirs")
    response = auth_client.get("/api/sessions/theirs")
    assert response.status_code == 404
    assert response.json() == {"detail": "Session not found"}


@pytest.mark.parametrize(
    "path", ["/api/sessions/s1", "/api/sessions/s1/", "/api/v1/sessions/s1", "/api/v1/sessions/s1/"]
)
def test_session_routes_answer_with_or_without_slash_and_under_v1(auth_client, user, path):
    SessionFactory(owner=user, key="s1")
    response = auth_client.get(path)
    assert response.status_code == 200


@pytest.mark.parametrize("path", ["/api/sessions", "/api/sessions/", "/api/v1/sessions"])
def test_create_answers_with_or_without_slash_and_under_v1(auth_client, path):
    assert auth_client.post(path, {}, format="json").status_code == 201


def test_creating_a_session_for_an_account_deleted_meanwhile_is_401_as_for_its_token(api_client, user):
    # Authenticated by its token while the account still existed; deleted before the session is written.
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(user)}")
    api_client.force_authenticate(user)
    get_user_model().objects.filter(pk=user.pk).delete()
    response = api_client.post("/api/sessions", {"id": "late"}, format="json")
    assert (response.status_code, response.json()) == (401, {"detail": "User not found", "code": "user_not_found"})
    assert response["WWW-Authenticate"] == 'Bearer realm="api", error="invalid_token"'


def test_creating_a_session_for_an_account_deleted_meanwhile_writes_nothing(api_client, user):
    api_client.force_authenticate(user)
    get_user_model().objects.filter(pk=user.pk).delete()
    api_client.post("/api/sessions", {"id": "late"}, format="json")
    assert not Session.objects.exists()


def test_append_message_returns_201_with_the_message(auth_client, user):
    SessionFactory(owner=user, key="s1")
    response = auth_client.post(
        "/api/sessions/s1/messages",
        {"role": "assistant", "content": "Hello!", "metadata": {"model": "x"}},
        format="json",
    )
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "role", "content", "timestamp", "metadata"}
    assert (body["role"], body["content"], body["metadata"]) == ("assistant", "Hello!", {"model": "x"})


def test_append_message_counts_it_and_moves_activity_time(auth_client, user):
    session = SessionFactory(owner=user, key="s1")
    before = session.updated_at
    auth_client.post("/api/sessions/s1/messages", {"role": "user", "content": "a"}, format="json")
    session.refresh_from_db()
    assert session.message_count == 1
    assert session.updated_at > before


def test_a_message_appended_after_the_clock_steps_back_still_comes_last(auth_client, user):
    SessionFactory(owner=user, key="s1")
    auth_client.post("/api/sessions/s1/messages", {"role": "user", "content": "first"}, format="json")
    an_hour_ago = timezone.now() - timedelta(hours=1)
    with mock.patch("sessions_app.services.timezone.now", return_value=an_hour_ago):
        auth_client.post("/api/sessions/s1/messages", {"role": "user", "content": "second"}, format="json")
    history = auth_client.get("/api/sessions/s1/history").json()
    assert [m["content"] for m in history] == ["first", "second"]


def test_append_message_defaults_metadata_to_empty_object(auth_client, user):
    SessionFactory(owner=user, key="s1")
    response = auth_client.post(
        "/api/sessions/s1/messages", {"role": "user", "content": "a"}, format="json"
    )
    assert response.json()["metadata"] == {}


def test_append_message_keeps_the_contents_spaces_and_line_breaks(auth_client, user):
    SessionFactory(owner=user, key="s1")
    content = "  indented code\n\treturn x\n\n"
    auth_client.post("/api/sessions/s1/messages", {"role": "user", "content": content}, format="json")
    assert Message.objects.get().content == content


def test_append_message_to_missing_session_is_404(auth_client):
    response = auth_client.post(
        "/api/sessions/nope/messages", {"role": "user", "content": "a"}, format="json"
    )
    assert response.status_code == 404
    assert response.json() == {"detail": "Session not found"}


def test_append_message_to_another_users_session_is_404(auth_client, other_user):
    SessionFactory(owner=other_user, key="theirs")
    response = auth_client.post(
        "/api/sessions/theirs/messages", {"role": "user", "content": "a"}, format="json"
    )
    assert response.status_code == 404
    assert not Message.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        {"role": "robot", "content": "a"},
        {"role": "user"},
        {"role": "user", "content": ""},
        {"content": "a"},
        {"role": "user", "content": "a", "metadata": ["not", "an", "object"]},
        {"role": "user", "content": {"nested": True}},
        {"role": "user", "content": 5},
        {"role": "user", "content": 1.5},
    ],
    ids=["unknown role", "no content", "empty content", "no role", "list metadata", "object content", "integer content", "decimal content"],
)
def test_append_bad_message_is_400_and_writes_nothing(auth_client, user, body):
    session = SessionFactory(owner=user, key="s1")
    response = auth_client.post("/api/sessions/s1/messages", body, format="json")
    assert response.status_code == 400
    session.refresh_from_db()
    assert (session.message_count, Message.objects.count()) == (0, 0)


@pytest.mark.parametrize(
    "metadata",
    [r'{"a": "\ud800"}', r'{"\udfff": 1}', r'{"a": ["x\u0000"]}', r'{"a\u0000": 1}', '{"a": 1e400}', '{"a": {"b": -1e999}}'],
    ids=["lone surrogate", "lone surrogate in a key", "NUL", "NUL in a key", "infinity", "nested minus infinity"],
)
def test_append_with_metadata_a_database_cannot_store_is_400_and_writes_nothing(auth_client, user, metadata):
    session = SessionFactory(owner=user, key="s1")
    body = '{"role": "user", "content": "hi", "metadata": %s}' % metadata
    response = auth_client.generic("POST", "/api/sessions/s1/messages", body, content_type="application/json")
    assert response.status_code == 400
    assert "metadata" in response.json()
    session.refresh_from_db()
    assert (session.message_count, Message.objects.count()) == (0, 0)


def test_a_whole_number_beyond_a_float_in_metadata_is_kept_digit_for_digit(auth_client, user):
    SessionFactory(owner=user, key="s1")
    big = 10**400 + 1
    body = '{"role": "user", "content": "hi", "metadata": {"a": %d}}' % big
    auth_client.generic("POST", "/api/sessions/s1/messages", body, content_type="application/json")
    assert auth_client.get("/api/sessions/s1/history").json()[0]["metadata"] == {"a": big}


def test_append_with_metadata_nested_too_deeply_is_400_and_writes_nothing(auth_client, user):
    session = SessionFactory(owner=user, key="s1")
    # Deep enough to have raised RecursionError when saved; shallow enough to parse.
    metadata = "[" * 900 + "]" * 900
    body = '{"role": "user", "content": "hi", "metadata": {"a": %s}}' % metadata
    response = auth_client.generic("POST", "/api/sessions/s1/messages", body, content_type="application/json")
    assert response.status_code == 400
    session.refresh_from_db()
    assert (session.message_count, Message.objects.count()) == (0, 0)


def metadata_nested(levels: int) -> dict:
    """An object holding lists nested so that the whole is `levels` containers deep."""
    nested = []
    for _ in range(levels - 2):
        nested = [nested]
    return {"a": nested}


def test_append_with_metadata_100_containers_deep_is_accepted(auth_client, user):
    SessionFactory(owner=user, key="s1")
    body = {"role": "user", "content": "hi", "metadata": metadata_nested(100)}
    assert auth_client.post("/api/sessions/s1/messages", body, format="json").status_code == 201


def test_append_with_metadata_101_containers_deep_is_400_naming_the_limit(auth_client, user):
    SessionFactory(owner=user, key="s1")
    body = {"role": "user", "content": "hi", "metadata": metadata_nested(101)}
    response = auth_client.post("/api/sessions/s1/messages", body, format="json")
    assert (response.status_code, response.json()) == (400, {"metadata": ["Nested deeper than 100 levels."]})


def test_append_refuses_content_over_the_limit(auth_client, user, settings):
    SessionFactory(owner=user, key="s1")
    too_long = "x" * (settings.SESSIONS_MESSAGE_MAX_LENGTH + 1)
    response = auth_client.post(
        "/api/sessions/s1/messages", {"role": "user", "content": too_long}, format="json"
    )
    assert response.status_code == 400
    assert not Message.objects.exists()


def test_unknown_api_path_404_is_written_like_every_view_s_json(auth_client):
    # Compact, as DRF writes b'{"detail":"Session not found"}'.
    assert auth_client.get("/api/nothing-here").content == b'{"detail":"Not found."}'


def test_the_api_root_without_a_slash_is_a_json_404(api_client, db):
    response = api_client.get("/api")
    assert (response.status_code, response.json()) == (404, {"detail": "Not found."})


@override_settings(DEBUG=True)
@pytest.mark.parametrize("path", ["/api/sessions/s1/unknown", "/api/nope%0Ax"], ids=["unknown", "with a newline"])
def test_unknown_api_path_is_a_json_404_with_debug_on_too(auth_client, path):
    # make run serves with DEBUG on, where Django's own 404 is its HTML debug page.
    response = auth_client.get(path)
    assert (response.status_code, response.json()) == (404, {"detail": "Not found."})


def test_a_post_to_an_unknown_api_path_is_a_json_404_not_a_csrf_refusal(db):
    client = Client(enforce_csrf_checks=True)
    response = client.post("/api/nothing-here", {"a": 1}, content_type="application/json")
    assert (response.status_code, response.json()) == (404, {"detail": "Not found."})


@pytest.mark.parametrize("debug", [False, True], ids=["debug off", "debug on"])
def test_too_many_query_parameters_get_a_json_400(auth_client, settings, debug):
    settings.DEBUG, settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = debug, 5
    response = auth_client.get("/api/sessions?" + "&".join(f"a={i}" for i in range(6)))
    assert (response.status_code, response.content) == (400, b'{"detail":"Bad request."}')


def test_too_many_query_parameters_are_logged_to_the_security_log_with_the_request(auth_client, settings, caplog):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 5
    auth_client.get("/api/sessions?" + "&".join(f"a={i}" for i in range(6)))
    [record] = [r for r in caplog.records if r.name == "django.security.TooManyFieldsSent"]
    assert (record.status_code, record.request.path) == (400, "/api/sessions")


def test_a_host_not_allowed_gets_a_json_400_on_the_api(auth_client, db):
    response = auth_client.get("/api/sessions", HTTP_HOST="evil.example")
    assert (response.status_code, response.content) == (400, b'{"detail":"Bad request."}')


@pytest.mark.parametrize("path", ["/admin/login/", "/apiary"])
def test_a_host_not_allowed_gets_djangos_400_page_outside_the_api(client, db, path):
    response = client.get(path, HTTP_HOST="evil.example")
    assert (response.status_code, response["Content-Type"]) == (400, "text/html; charset=utf-8")


def test_a_site_served_under_a_path_prefix_answers_json_errors_on_its_api(auth_client, db):
    # gunicorn behind a proxy that mounts the service at /pocketpaw sets SCRIPT_NAME.
    response = auth_client.get("/api/sessions", HTTP_HOST="evil.example", SCRIPT_NAME="/pocketpaw")
    assert (response.status_code, response.content) == (400, b'{"detail":"Bad request."}')


def test_unknown_api_path_is_json_404(auth_client):
    response = auth_client.get("/api/nothing-here")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


@pytest.mark.parametrize(
    "method, path, body",
    [
        ("delete", "/api/sessions/a%00b", None),
        ("get", "/api/sessions/a%00b", None),
        ("get", "/api/sessions/a%00b/history", None),
        ("get", "/api/sessions/a%00b/export", None),
        ("post", "/api/sessions/a%00b/messages", {"role": "user", "content": "hi"}),
        ("post", "/api/sessions/a%00b/title", {"title": "t"}),
    ],
    ids=["delete", "detail", "history", "export", "append", "rename"],
)
def test_an_id_with_a_nul_character_is_session_not_found(auth_client, user, method, path, body):
    # No session can have such an id. On PostgreSQL asking for one was an error (a 500):
    # `make test-postgres` is where this fails without the check; SQLite found no row.
    response = getattr(auth_client, method)(path, body, format="json")
    assert response.status_code == 404
    assert response.json() == {"detail": "Session not found"}

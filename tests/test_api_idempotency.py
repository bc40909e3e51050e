"""An append sent again with its Idempotency-Key (after a timeout, a dropped connection) is stored once."""
import pytest

from sessions_app.models import Message, Session

from .factories import SessionFactory

APPEND = {"role": "user", "content": "Book the 9:40 train", "metadata": {"telegram_message_id": 4411}}


def append(client, key="s1", body=APPEND, idempotency_key="tg-4411", **headers):
    if idempotency_key is not None:
        headers["HTTP_IDEMPOTENCY_KEY"] = idempotency_key
    return client.post(f"/api/sessions/{key}/messages", body, format="json", **headers)


@pytest.fixture
def session(user):
    return SessionFactory(owner=user, key="s1")


def test_an_append_sent_again_with_its_key_stores_one_message(auth_client, session):
    assert [append(auth_client).status_code, append(auth_client).status_code] == [201, 201]
    assert Message.objects.count() == 1


def test_an_append_sent_again_with_its_key_answers_with_the_first_ones_message(auth_client, session):
    first = append(auth_client).json()
    assert append(auth_client).json() == first


def test_only_the_answer_to_an_append_sent_again_says_it_was_replayed(auth_client, session):
    first, again = append(auth_client), append(auth_client)
    assert (first.get("Idempotent-Replayed"), again.get("Idempotent-Replayed")) == (None, "true")


def test_an_append_sent_again_leaves_the_sessions_count_and_activity_as_the_first_left_them(auth_client, session):
    append(auth_client)
    after_first = Session.objects.values("message_count", "updated_at", "preview").get()
    append(auth_client)
    assert Session.objects.values("message_count", "updated_at", "preview").get() == after_first


def test_a_key_sent_with_another_message_is_422_and_stores_nothing(auth_client, session):
    append(auth_client)
    response = append(auth_client, body={**APPEND, "content": "Book the 10:40 train"})
    assert (response.status_code, response.json()) == (
        422,
        {"detail": "This Idempotency-Key was used for another message in this session."},
    )
    assert list(Message.objects.values_list("content", flat=True)) == ["Book the 9:40 train"]


def test_a_key_sent_with_other_metadata_is_422(auth_client, session):
    append(auth_client)
    assert append(auth_client, body={**APPEND, "metadata": {"telegram_message_id": 4412}}).status_code == 422


def test_a_key_sent_with_another_role_is_422(auth_client, session):
    append(auth_client)
    assert append(auth_client, body={**APPEND, "role": "assistant"}).status_code == 422


def test_a_key_sent_with_true_where_the_first_append_sent_1_is_422(auth_client, session):
    append(auth_client, body={**APPEND, "metadata": {"flag": 1}})
    assert append(auth_client, body={**APPEND, "metadata": {"flag": True}}).status_code == 422


def test_an_append_with_a_float_the_database_keeps_in_other_digits_is_replayed(auth_client, session):
    # PostgreSQL's jsonb gives 1.2345678901234567e19 back as the integer 12345678901234567000.
    body = {**APPEND, "metadata": {"score": 1.2345678901234567e19}}
    append(auth_client, body=body)
    assert append(auth_client, body=body).get("Idempotent-Replayed") == "true"


def test_the_same_key_in_another_session_stores_another_message(auth_client, user, session):
    SessionFactory(owner=user, key="s2")
    append(auth_client, key="s1")
    assert append(auth_client, key="s2").get("Idempotent-Replayed") is None
    assert Message.objects.count() == 2


def test_appends_without_a_key_are_each_stored(auth_client, session):
    append(auth_client, idempotency_key=None)
    append(auth_client, idempotency_key=None)
    assert Message.objects.count() == 2


def test_a_key_leaves_with_its_session(auth_client, session):
    append(auth_client)
    auth_client.delete("/api/sessions/s1")
    auth_client.post("/api/sessions", {"id": "s1"}, format="json")
    assert append(auth_client).get("Idempotent-Replayed") is None
    assert Message.objects.count() == 1


@pytest.mark.parametrize(
    "idempotency_key",
    ["", "two words", "caf\u00e9", "x" * 256, "tab\there"],
    ids=["empty", "space", "non-ascii", "256 characters", "tab"],
)
def test_an_idempotency_key_that_is_not_1_to_255_visible_ascii_characters_is_400(auth_client, session, idempotency_key):
    response = append(auth_client, idempotency_key=idempotency_key)
    assert response.status_code == 400
    assert list(response.json()) == ["Idempotency-Key"]
    assert not Message.objects.exists()


def test_a_255_character_idempotency_key_is_taken(auth_client, session):
    assert append(auth_client, idempotency_key="k" * 255).status_code == 201


def test_the_schema_describes_the_idempotency_key_and_the_422(auth_client):
    schema = auth_client.get("/api/schema", {"format": "json"}).json()
    operation = schema["paths"]["/api/sessions/{session_id}/messages"]["post"]
    assert {"in": "header", "name": "Idempotency-Key"}.items() <= next(
        p for p in operation["parameters"] if p["name"] == "Idempotency-Key"
    ).items()
    assert "422" in operation["responses"]


def test_the_schema_describes_the_replayed_header_of_the_201(auth_client):
    schema = auth_client.get("/api/schema", {"format": "json"}).json()
    operation = schema["paths"]["/api/sessions/{session_id}/messages"]["post"]
    assert "Idempotent-Replayed" in operation["responses"]["201"]["headers"]


def test_a_browser_client_may_read_whether_an_append_was_replayed(auth_client, session, settings):
    settings.CORS_ALLOWED_ORIGINS = ["https://dashboard.example.com"]
    response = append(auth_client, HTTP_ORIGIN="https://dashboard.example.com")
    assert "Idempotent-Replayed" in response["access-control-expose-headers"]


def test_a_browser_client_may_send_an_idempotency_key(api_client, db, settings):
    settings.CORS_ALLOWED_ORIGINS = ["https://dashboard.example.com"]
    response = api_client.options(
        "/api/sessions/s1/messages",
        HTTP_ORIGIN="https://dashboard.example.com",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization,content-type,idempotency-key",
    )
    assert "idempotency-key" in response["access-control-allow-headers"]

"""Listing, renaming, history, search and export: how PocketPaw's web client browses sessions."""
import json
import re
from datetime import UTC, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from sessions_app.models import Message, Session
from sessions_app.selectors import MESSAGE_CHUNK_ROWS

from .conftest import OnAnotherConnection, bearer_client, path_segment
from .factories import MessageFactory, SessionFactory, session_with_messages
from .test_api_sessions import CHANNEL_KEYS


def make_session_at(user, key, minutes_ago, **fields):
    return SessionFactory(
        owner=user, key=key, updated_at=timezone.now() - timedelta(minutes=minutes_ago), **fields
    )


# --- GET /api/sessions -------------------------------------------------------------------


def test_list_returns_sessions_and_total(auth_client, user):
    SessionFactory.create_batch(3, owner=user)
    body = auth_client.get("/api/sessions").json()
    assert set(body) == {"sessions", "total"}
    assert (len(body["sessions"]), body["total"]) == (3, 3)


def test_list_item_has_every_documented_field(auth_client, user):
    SessionFactory(owner=user)
    item = auth_client.get("/api/sessions").json()["sessions"][0]
    assert set(item) == {
        "id", "title", "channel", "created_at", "updated_at", "last_activity", "message_count", "preview"
    }
    assert item["last_activity"] == item["updated_at"]


def test_list_is_most_recent_activity_first(auth_client, user):
    make_session_at(user, "old", 30)
    make_session_at(user, "new", 1)
    make_session_at(user, "middle", 10)
    ids = [s["id"] for s in auth_client.get("/api/sessions").json()["sessions"]]
    assert ids == ["new", "middle", "old"]


def test_a_new_message_moves_its_session_to_the_top(auth_client, user):
    make_session_at(user, "old", 30)
    make_session_at(user, "new", 1)
    auth_client.post("/api/sessions/old/messages", {"role": "user", "content": "hi"}, format="json")
    ids = [s["id"] for s in auth_client.get("/api/sessions").json()["sessions"]]
    assert ids == ["old", "new"]


def test_list_limit_and_offset_page_through_sessions(auth_client, user):
    for minutes in range(5):
        make_session_at(user, f"s{minutes}", minutes)
    body = auth_client.get("/api/sessions", {"limit": 2, "offset": 2}).json()
    assert [s["id"] for s in body["sessions"]] == ["s2", "s3"]
    assert body["total"] == 5


def test_list_defaults_to_50_sessions(auth_client, user):
    SessionFactory.create_batch(51, owner=user)
    assert len(auth_client.get("/api/sessions").json()["sessions"]) == 50


def test_list_shows_only_the_callers_sessions(auth_client, user, other_user):
    SessionFactory(owner=user, key="mine")
    SessionFactory(owner=other_user, key="theirs")
    body = auth_client.get("/api/sessions").json()
    assert [s["id"] for s in body["sessions"]] == ["mine"]
    assert body["total"] == 1


def test_list_preview_is_the_last_message_cut_to_120_characters(auth_client, user):
    SessionFactory(owner=user, key="s1")
    for content in ["first", "y" * 150]:
        auth_client.post("/api/sessions/s1/messages", {"role": "user", "content": content}, format="json")
    assert auth_client.get("/api/sessions").json()["sessions"][0]["preview"] == "y" * 120


@pytest.mark.parametrize(
    "params, field",
    [
        ({"limit": 0}, "limit"),
        ({"limit": 501}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"offset": -1}, "offset"),
        ({"offset": "x"}, "offset"),
    ],
    ids=["limit zero", "limit over 500", "limit not a number", "negative offset", "offset not a number"],
)
def test_list_refuses_bad_paging_with_a_reason(auth_client, params, field):
    response = auth_client.get("/api/sessions", params)
    assert response.status_code == 400
    assert response.json()[field]


def test_list_query_count_does_not_grow_with_sessions(auth_client, user, django_assert_num_queries):
    for i in range(60):
        session_with_messages(owner=user, key=f"s{i}", count=2)
    # Authenticating the user; the page, with the total on each row.
    with django_assert_num_queries(2):
        auth_client.get("/api/sessions", {"limit": 50})


# --- POST/PUT /api/sessions/{id}/title -------------------------------------------------------


@pytest.mark.parametrize("method", ["post", "put"])
def test_rename_answers_status_ok_and_changes_the_title(auth_client, user, method):
    SessionFactory(owner=user, key="s1")
    response = getattr(auth_client, method)("/api/sessions/s1/title", {"title": "Lisbon"}, format="json")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert Session.objects.get(key="s1").title == "Lisbon"


def test_rename_missing_session_is_404(auth_client):
    response = auth_client.post("/api/sessions/nope/title", {"title": "x"}, format="json")
    assert response.status_code == 404
    assert response.json() == {"detail": "Session not found"}


def test_rename_another_users_session_is_404_and_keeps_its_title(auth_client, other_user):
    SessionFactory(owner=other_user, key="theirs", title="Theirs")
    response = auth_client.post("/api/sessions/theirs/title", {"title": "Mine now"}, format="json")
    assert response.status_code == 404
    assert Session.objects.get(key="theirs").title == "Theirs"


@pytest.mark.parametrize(
    "body",
    [{"title": ""}, {"title": "   "}, {"title": "t" * 201}, {}, {"title": 5}, {"title": 1.5}],
    ids=["empty", "blank", "too long", "missing", "integer", "decimal"],
)
def test_rename_refuses_a_bad_title_with_400(auth_client, user, body):
    SessionFactory(owner=user, key="s1", title="Before")
    response = auth_client.post("/api/sessions/s1/title", body, format="json")
    assert response.status_code == 400
    assert Session.objects.get(key="s1").title == "Before"


def test_a_user_set_title_survives_the_first_user_message(auth_client, user):
    auth_client.post("/api/sessions", {"id": "s1"}, format="json")
    auth_client.post("/api/sessions/s1/title", {"title": "Mine"}, format="json")
    auth_client.post("/api/sessions/s1/messages", {"role": "user", "content": "hello"}, format="json")
    assert auth_client.get("/api/sessions/s1").json()["title"] == "Mine"


def test_first_user_message_titles_an_untitled_session_over_the_api(auth_client):
    auth_client.post("/api/sessions", {"id": "s1"}, format="json")
    auth_client.post("/api/sessions/s1/messages", {"role": "user", "content": " Hello there "}, format="json")
    assert auth_client.get("/api/sessions/s1").json()["title"] == "Hello there"


# --- history ---------------------------------------------------------------------------


def add_messages(session, count):
    start = timezone.now() - timedelta(hours=1)
    Message.objects.bulk_create(
        Message(session=session, role="user", content=f"m{i}", created_at=start + timedelta(seconds=i))
        for i in range(count)
    )


def test_history_returns_latest_messages_oldest_first(auth_client, user):
    add_messages(SessionFactory(owner=user, key="s1"), 5)
    body = auth_client.get("/api/sessions/s1/history", {"limit": 3}).json()
    assert [m["content"] for m in body] == ["m2", "m3", "m4"]


def test_history_messages_have_the_documented_fields(auth_client, user):
    session = SessionFactory(owner=user, key="s1")
    MessageFactory(session=session, metadata={"tool": "search"})
    message = auth_client.get("/api/sessions/s1/history").json()[0]
    assert set(message) == {"id", "role", "content", "timestamp", "metadata"}
    assert message["metadata"] == {"tool": "search"}
    assert message["timestamp"].endswith("Z")


WHOLE_SECOND = timezone.datetime(2025, 3, 14, 9, 30, tzinfo=UTC)


def test_session_times_on_a_whole_second_keep_six_fraction_digits(auth_client, user):
    SessionFactory(owner=user, key="s1")
    Session.objects.update(created_at=WHOLE_SECOND, updated_at=WHOLE_SECOND)
    listed = auth_client.get("/api/sessions").json()["sessions"][0]
    assert (listed["created_at"], listed["updated_at"]) == ("2025-03-14T09:30:00.000000Z",) * 2


def test_a_message_time_on_a_whole_second_keeps_six_fraction_digits(auth_client, user):
    MessageFactory(session=SessionFactory(owner=user, key="s1"))
    Message.objects.update(created_at=WHOLE_SECOND)
    assert auth_client.get("/api/sessions/s1/history").json()[0]["timestamp"] == "2025-03-14T09:30:00.000000Z"


def test_history_defaults_to_50_messages(auth_client, user):
    add_messages(SessionFactory(owner=user, key="s1"), 60)
    assert len(auth_client.get("/api/sessions/s1/history").json()) == 50


def test_history_of_missing_session_is_404(auth_client):
    response = auth_client.get("/api/sessions/nope/history")
    assert response.status_code == 404
    assert response.json() == {"detail": "Session not found"}


def test_history_of_another_users_session_is_404(auth_client, other_user):
    SessionFactory(owner=other_user, key="theirs")
    assert auth_client.get("/api/sessions/theirs/history").status_code == 404


@pytest.mark.parametrize("limit", [0, 501])
def test_history_refuses_a_limit_outside_1_to_500(auth_client, user, limit):
    SessionFactory(owner=user, key="s1")
    assert auth_client.get("/api/sessions/s1/history", {"limit": limit}).status_code == 400


@pytest.mark.parametrize("key", CHANNEL_KEYS)
@pytest.mark.parametrize("encoded", [False, True], ids=["raw", "percent-encoded"])
def test_history_works_for_every_channel_key(auth_client, user, key, encoded):
    add_messages(SessionFactory(owner=user, key=key), 2)
    path_key = path_segment(key, encoded)
    response = auth_client.get(f"/api/sessions/{path_key}/history")
    assert [m["content"] for m in response.json()] == ["m0", "m1"]


def test_memory_session_route_returns_the_same_history(auth_client, user):
    add_messages(SessionFactory(owner=user, key="telegram:1"), 5)
    documented = auth_client.get("/api/memory/session", {"id": "telegram:1", "limit": 2}).json()
    assert documented == auth_client.get("/api/sessions/telegram:1/history", {"limit": 2}).json()
    assert [m["content"] for m in documented] == ["m3", "m4"]


def test_memory_session_of_missing_session_is_404(auth_client):
    response = auth_client.get("/api/memory/session", {"id": "nope"})
    assert response.status_code == 404
    assert response.json() == {"detail": "Session not found"}


def test_memory_session_of_another_users_session_is_404(auth_client, other_user):
    add_messages(SessionFactory(owner=other_user, key="theirs"), 1)
    response = auth_client.get("/api/memory/session", {"id": "theirs"})
    assert response.status_code == 404
    assert response.json() == {"detail": "Session not found"}


def test_memory_session_of_an_unencoded_plus_id_is_404_not_the_id_without_it(auth_client, user):
    # A bare "+" in a query string is a space: "?id=+1234567890" asks for " 1234567890".
    add_messages(SessionFactory(owner=user, key="1234567890"), 1)
    response = auth_client.get("/api/memory/session?id=+1234567890")
    assert response.status_code == 404
    assert response.json() == {"detail": "Session not found"}


def test_memory_session_with_an_id_longer_than_any_session_is_400(auth_client):
    response = auth_client.get("/api/memory/session", {"id": "x" * 256})
    assert (response.status_code, list(response.json())) == (400, ["id"])


def test_memory_session_without_id_is_400(auth_client):
    response = auth_client.get("/api/memory/session")
    assert response.status_code == 400
    assert "id" in response.json()


# --- search ----------------------------------------------------------------------------


def test_search_finds_sessions_by_message_substring_in_any_case(auth_client, user):
    session = make_session_at(user, "s1", 5, title="Maths", channel="telegram")
    MessageFactory(session=session, role="assistant", content="Here is how to test for PRIMES quickly")
    body = auth_client.get("/api/sessions/search", {"q": "prime"}).json()
    assert body == {
        "sessions": [
            {
                "id": "s1",
                "title": "Maths",
                "channel": "telegram",
                "match": "Here is how to test for PRIMES quickly",
                "match_role": "assistant",
                "last_activity": session.updated_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            }
        ]
    }


def test_search_returns_one_entry_per_session_with_its_first_match(auth_client, user):
    session = SessionFactory(owner=user, key="s1")
    start = timezone.now() - timedelta(hours=1)
    MessageFactory(session=session, content="prime one", created_at=start)
    MessageFactory(session=session, content="prime two", created_at=start + timedelta(seconds=1))
    results = auth_client.get("/api/sessions/search", {"q": "prime"}).json()["sessions"]
    assert [(r["id"], r["match"]) for r in results] == [("s1", "prime one")]


def test_search_match_is_cut_to_200_characters(auth_client, user):
    MessageFactory(session=SessionFactory(owner=user), content="needle " + "z" * 300)
    match = auth_client.get("/api/sessions/search", {"q": "needle"}).json()["sessions"][0]["match"]
    assert len(match) == 200


def test_search_lists_most_recent_sessions_first_and_honours_limit(auth_client, user):
    # Made oldest first, so the database's own row order is the reverse of the answer's.
    for minutes, key in [(30, "old"), (10, "middle"), (1, "new")]:
        MessageFactory(session=make_session_at(user, key, minutes), content="needle")
    results = auth_client.get("/api/sessions/search", {"q": "needle", "limit": 2}).json()["sessions"]
    assert [r["id"] for r in results] == ["new", "middle"]


@pytest.mark.parametrize("query", ["été", "MÜNCHEN", "σοφια", "Σοφια"])
def test_search_finds_letters_of_any_alphabet_in_any_case(auth_client, user, query):
    MessageFactory(session=SessionFactory(owner=user, key="s1"), content="Été à München, ΣΟΦΙΑ")
    results = auth_client.get("/api/sessions/search", {"q": query}).json()["sessions"]
    assert [r["id"] for r in results] == ["s1"]


def test_search_with_empty_query_finds_nothing(auth_client, user):
    MessageFactory(session=SessionFactory(owner=user), content="anything")
    assert auth_client.get("/api/sessions/search", {"q": ""}).json() == {"sessions": []}


def test_search_without_a_query_is_400(auth_client):
    response = auth_client.get("/api/sessions/search")
    assert response.status_code == 400
    assert "q" in response.json()


def test_search_never_shows_another_users_sessions(auth_client, user, other_user):
    MessageFactory(session=SessionFactory(owner=user, key="mine"), content="needle")
    MessageFactory(session=SessionFactory(owner=other_user, key="theirs"), content="needle")
    body = auth_client.get("/api/sessions/search", {"q": "needle"}).json()
    assert [found["id"] for found in body["sessions"]] == ["mine"]


def test_a_deleted_session_is_never_found_again(auth_client, user):
    MessageFactory(session=SessionFactory(owner=user, key="s1"), content="needle")
    auth_client.delete("/api/sessions/s1")
    assert auth_client.get("/api/sessions/search", {"q": "needle"}).json() == {"sessions": []}


def test_search_keeps_the_spaces_around_the_query(auth_client, user):
    MessageFactory(session=SessionFactory(owner=user, key="word"), content="adopt a cat today")
    MessageFactory(session=SessionFactory(owner=user, key="inside"), content="concatenate these")
    body = auth_client.get("/api/sessions/search", {"q": " cat "}).json()
    assert [found["id"] for found in body["sessions"]] == ["word"]


def test_search_treats_wildcards_literally(auth_client, user):
    MessageFactory(session=SessionFactory(owner=user), content="plain text")
    assert auth_client.get("/api/sessions/search", {"q": "%"}).json() == {"sessions": []}


@pytest.mark.parametrize("limit", [0, 201])
def test_search_refuses_a_limit_outside_1_to_200(auth_client, limit):
    assert auth_client.get("/api/sessions/search", {"q": "x", "limit": limit}).status_code == 400


def test_search_takes_a_limit_of_200_as_pocketpaws_route_does(auth_client):
    assert auth_client.get("/api/sessions/search", {"q": "x", "limit": 200}).status_code == 200


def test_search_answers_20_sessions_by_default(auth_client, user):
    for _ in range(21):
        MessageFactory(session=SessionFactory(owner=user), content="needle")
    assert len(auth_client.get("/api/sessions/search", {"q": "needle"}).json()["sessions"]) == 20


def test_search_refuses_a_query_over_500_characters(auth_client):
    response = auth_client.get("/api/sessions/search", {"q": "x" * 501})
    assert response.status_code == 400
    assert "q" in response.json()


def test_search_folds_a_final_sigma_like_any_other(auth_client, user):
    # lower() keeps "Σ" as "σ", casefold() makes both sigmas "σ": only casefold finds "ΟΔΟΣ" from "οδος".
    MessageFactory(session=SessionFactory(owner=user, key="s1"), content="ΟΔΟΣ")
    results = auth_client.get("/api/sessions/search", {"q": "οδος"}).json()["sessions"]
    assert [r["id"] for r in results] == ["s1"]


def test_a_session_named_search_cannot_be_created(auth_client):
    response = auth_client.post("/api/sessions", {"id": "search"}, format="json")
    assert response.status_code == 400


# --- export ----------------------------------------------------------------------------


def read_download(response) -> str:
    return b"".join(response.streaming_content).decode()


def test_json_export_is_an_attachment_with_the_documented_fields(auth_client, user):
    session_with_messages(owner=user, key="telegram:1", count=3, title="Trip")
    response = auth_client.get("/api/sessions/telegram:1/export", {"format": "json"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert response["Content-Disposition"] == 'attachment; filename="telegram_1.json"'
    body = json.loads(read_download(response))
    assert set(body) == {"export_version", "exported_at", "session_id", "title", "message_count", "messages"}
    assert (body["session_id"], body["title"], body["message_count"]) == ("telegram:1", "Trip", 3)
    assert [m["content"] for m in body["messages"]] == ["message 0", "message 1", "message 2"]
    assert set(body["messages"][0]) == {"id", "role", "content", "timestamp", "metadata"}


def test_json_export_says_when_it_was_made_in_the_apis_time_format(auth_client, user):
    SessionFactory(owner=user, key="s1")
    exported_at = json.loads(read_download(auth_client.get("/api/sessions/s1/export")))["exported_at"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", exported_at)


def test_json_export_ends_with_a_line_break(auth_client, user):
    SessionFactory(owner=user, key="s1")
    assert read_download(auth_client.get("/api/sessions/s1/export")).endswith("]}\n")


def test_json_export_says_its_format_version_is_1(auth_client, user):
    SessionFactory(owner=user, key="s1")
    assert json.loads(read_download(auth_client.get("/api/sessions/s1/export")))["export_version"] == 1


def test_export_defaults_to_json(auth_client, user):
    session_with_messages(owner=user, key="s1", count=1)
    response = auth_client.get("/api/sessions/s1/export")
    assert json.loads(read_download(response))["session_id"] == "s1"


@pytest.mark.parametrize(
    "file_format, accept, content_type",
    [("json", "text/html", "application/json"), ("md", "application/json", "text/markdown")],
)
def test_export_answers_the_format_asked_for_whatever_accept_says(auth_client, user, file_format, accept, content_type):
    session_with_messages(owner=user, key="s1", count=1)
    response = auth_client.get("/api/sessions/s1/export", {"format": file_format}, HTTP_ACCEPT=accept)
    assert response.status_code == 200
    assert response["Content-Type"] == f"{content_type}; charset=utf-8"


def test_json_export_of_an_empty_session_has_no_messages(auth_client, user):
    SessionFactory(owner=user, key="s1")
    body = json.loads(read_download(auth_client.get("/api/sessions/s1/export")))
    assert body["messages"] == []


def test_markdown_export_has_heading_session_line_and_each_message(auth_client, user):
    session = SessionFactory(owner=user, key="s1", title="Trip")
    MessageFactory(session=session, role="user", content="Where to?")
    MessageFactory(session=session, role="assistant", content="Lisbon.")
    response = auth_client.get("/api/sessions/s1/export", {"format": "md"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/markdown")
    assert response["Content-Disposition"] == 'attachment; filename="s1.md"'
    text = read_download(response)
    assert text.startswith("# Trip\n")
    assert "Session `s1`" in text
    assert text.index("## user") < text.index("Where to?") < text.index("## assistant") < text.index("Lisbon.")


@pytest.mark.parametrize("count, counted", [(1, "1 message"), (2, "2 messages")])
def test_markdown_export_session_line_names_the_channel_and_counts_the_messages(auth_client, user, count, counted):
    session_with_messages(owner=user, key="s1", channel="telegram", count=count)
    text = read_download(auth_client.get("/api/sessions/s1/export", {"format": "md"}))
    assert f"Session `s1` · channel telegram · {counted} · exported " in text


@pytest.mark.parametrize("file_format", ["pdf", "xml", "api", "JSON"])
def test_export_refuses_other_formats_with_400(auth_client, user, file_format):
    SessionFactory(owner=user, key="s1")
    response = auth_client.get("/api/sessions/s1/export", {"format": file_format})
    assert response.status_code == 400
    assert "format" in response.json()


def long_session(owner, key: str, messages: int) -> Session:
    session = SessionFactory(owner=owner, key=key)
    Message.objects.bulk_create(
        Message(session=session, role="user", content=f"{i:04d} " + "x" * 995) for i in range(messages)
    )
    return session


def test_markdown_export_heading_is_one_line_whatever_the_title(auth_client, user):
    SessionFactory(owner=user, key="s1", title="Trip\nto   Lisbon")
    text = read_download(auth_client.get("/api/sessions/s1/export", {"format": "md"}))
    assert text.startswith("# Trip to Lisbon\n\n")


@pytest.mark.parametrize(
    "title, heading",
    [("Trip *2* #", r"Trip \*2\* \#"), ("<b>x</b> ~~y~~ a|b", r"\<b\>x\<\/b\> \~\~y\~\~ a\|b")],
)
def test_markdown_export_heading_shows_the_title_as_plain_text(auth_client, user, title, heading):
    SessionFactory(owner=user, key="s1", title=title)
    text = read_download(auth_client.get("/api/sessions/s1/export", {"format": "md"}))
    assert text.startswith(f"# {heading}\n\n")


@pytest.mark.parametrize("file_format", ["json", "md"])
def test_export_streams_a_long_session_in_chunks_not_one_per_message(auth_client, user, file_format):
    long_session(user, "s1", messages=300)
    response = auth_client.get("/api/sessions/s1/export", {"format": file_format})
    chunks = list(response.streaming_content)
    assert 1 < len(chunks) <= 10
    assert max(len(chunk) for chunk in chunks) < 80 * 1024


def test_json_export_split_into_chunks_is_still_one_document_in_order(auth_client, user):
    long_session(user, "s1", messages=300)
    body = json.loads(read_download(auth_client.get("/api/sessions/s1/export")))
    assert [m["content"][:4] for m in body["messages"]] == [f"{i:04d}" for i in range(300)]


def test_json_export_has_every_message_once_when_many_share_a_timestamp(auth_client, user):
    session = SessionFactory(owner=user, key="s1")
    moment = timezone.now()
    Message.objects.bulk_create(
        Message(session=session, role="user", content=f"{i:04d}", created_at=moment) for i in range(250)
    )
    body = json.loads(read_download(auth_client.get("/api/sessions/s1/export")))
    assert [m["content"] for m in body["messages"]] == [f"{i:04d}" for i in range(250)]


def test_json_export_orders_by_time_then_id_when_ids_run_against_time(auth_client, user):
    session = SessionFactory(owner=user, key="s1")
    start = timezone.now()
    # Three messages to each second, the later seconds written first.
    Message.objects.bulk_create(
        Message(session=session, role="user", content=f"{i:04d}", created_at=start - timedelta(seconds=i // 3))
        for i in range(250)
    )
    expected = Message.objects.filter(session=session).order_by("created_at", "id").values_list("content", flat=True)
    body = json.loads(read_download(auth_client.get("/api/sessions/s1/export")))
    assert [m["content"] for m in body["messages"]] == list(expected)


def test_json_export_ends_at_the_newest_message_when_the_download_began(auth_client, user):
    long_session(user, "s1", messages=300)
    download = iter(auth_client.get("/api/sessions/s1/export").streaming_content)
    first_chunk = next(download)
    response = auth_client.post("/api/sessions/s1/messages", {"role": "user", "content": "later"}, format="json")
    assert response.status_code == 201
    body = json.loads(first_chunk + b"".join(download))
    assert [m["content"][:4] for m in body["messages"]] == [f"{i:04d}" for i in range(300)]


@pytest.mark.django_db(transaction=True)
def test_json_export_of_a_session_deleted_mid_download_ends_after_the_messages_already_read(auth_client, user):
    long_session(user, "s1", messages=300)
    download = iter(auth_client.get("/api/sessions/s1/export").streaming_content)
    first_chunk = next(download)
    deleting = OnAnotherConnection(lambda: bearer_client(user).delete("/api/sessions/s1").status_code)
    deleting.start()
    deleting.join()
    assert deleting.result == 200
    body = json.loads(first_chunk + b"".join(download))
    assert [m["content"][:4] for m in body["messages"]] == [f"{i:04d}" for i in range(MESSAGE_CHUNK_ROWS)]


def test_export_of_a_session_deleted_before_its_download_starts_is_a_whole_empty_document(auth_client, user):
    session_with_messages(owner=user, key="s1", count=3)
    response = auth_client.get("/api/sessions/s1/export")
    assert auth_client.delete("/api/sessions/s1").status_code == 200
    body = json.loads(b"".join(response.streaming_content))
    assert (body["session_id"], body["messages"]) == ("s1", [])


def test_export_of_missing_session_is_404(auth_client):
    response = auth_client.get("/api/sessions/nope/export")
    assert response.status_code == 404
    assert response.json() == {"detail": "Session not found"}


def test_export_of_another_users_session_is_404(auth_client, other_user):
    SessionFactory(owner=other_user, key="theirs")
    assert auth_client.get("/api/sessions/theirs/export", {"format": "md"}).status_code == 404


# --- the same rules on every new route --------------------------------------------------


@pytest.mark.parametrize(
    "method, path",
    [
        ("get", "/api/sessions"),
        ("post", "/api/sessions/s1/title"),
        ("get", "/api/sessions/s1/history"),
        ("get", "/api/memory/session?id=s1"),
        ("get", "/api/sessions/search?q=x"),
        ("get", "/api/sessions/s1/export"),
    ],
)
def test_every_route_needs_a_token(api_client, user, method, path):
    SessionFactory(owner=user, key="s1")
    assert getattr(api_client, method)(path).status_code == 401


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/sessions",
        "/api/sessions/",
        "/api/v1/sessions/s1/history/",
        "/api/v1/sessions/search?q=x",
        "/api/sessions/s1/export/",
        "/api/v1/memory/session/?id=s1",
    ],
)
def test_new_routes_answer_under_v1_and_with_a_slash(auth_client, user, path):
    SessionFactory(owner=user, key="s1")
    assert auth_client.get(path).status_code == 200


def test_list_refuses_an_offset_too_large_for_the_database(auth_client):
    response = auth_client.get("/api/sessions", {"offset": 10**26})
    assert response.status_code == 400
    assert response.json()["offset"]


def test_search_finds_a_rare_word_in_an_old_session_among_many(auth_client, user):
    target = make_session_at(user, "oldest", 10_000)
    MessageFactory(session=target, content="a RareWord here")
    for i in range(205):
        MessageFactory(session=make_session_at(user, f"s{i}", i), content="common chatter")
    results = auth_client.get("/api/sessions/search", {"q": "rareword"}).json()["sessions"]
    assert [(r["id"], r["match"]) for r in results] == [("oldest", "a RareWord here")]


def test_search_with_a_short_query_still_finds_substrings(auth_client, user):
    MessageFactory(session=SessionFactory(owner=user, key="s1"), content="Go to the XY corner")
    results = auth_client.get("/api/sessions/search", {"q": "xy"}).json()["sessions"]
    assert [r["id"] for r in results] == ["s1"]


def test_search_query_with_quotes_is_a_literal_substring(auth_client, user):
    MessageFactory(session=SessionFactory(owner=user, key="s1"), content='she said "hello there" twice')
    results = auth_client.get("/api/sessions/search", {"q": '"hello there"'}).json()["sessions"]
    assert [r["id"] for r in results] == ["s1"]


# Almost matches at every position: a substring test costs the text's length times the query's.
NEAR_MISS_QUERY = "a" * 499 + "b"


@pytest.fixture
def near_miss_messages(user):
    session = SessionFactory(owner=user, key="long-a")
    MessageFactory.create_batch(5, session=session, content="a" * 99_999 + "b")


def test_a_search_past_its_time_limit_is_stopped_with_503(auth_client, near_miss_messages, settings):
    settings.SEARCH_TIME_LIMIT_SECONDS = 0.001
    response = auth_client.get("/api/sessions/search", {"q": NEAR_MISS_QUERY})
    assert response.status_code == 503
    assert "stopped" in response.json()["detail"]


def test_the_connection_answers_queries_after_a_search_was_stopped(auth_client, near_miss_messages, settings):
    settings.SEARCH_TIME_LIMIT_SECONDS = 0.001
    auth_client.get("/api/sessions/search", {"q": NEAR_MISS_QUERY})
    settings.SEARCH_TIME_LIMIT_SECONDS = 5
    assert auth_client.get("/api/sessions/long-a").status_code == 200
    assert [s["id"] for s in auth_client.get("/api/sessions/search", {"q": "ab"}).json()["sessions"]] == ["long-a"]


def test_a_search_within_its_time_limit_finds_the_near_miss_text(auth_client, near_miss_messages):
    results = auth_client.get("/api/sessions/search", {"q": NEAR_MISS_QUERY}).json()["sessions"]
    assert [r["id"] for r in results] == ["long-a"]


def statement_timeout() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        return cursor.fetchone()[0]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite has no statement timeout")
def test_a_search_leaves_the_statement_timeout_as_it_found_it(auth_client, user):
    before = statement_timeout()
    auth_client.get("/api/sessions/search", {"q": "anything"})
    assert statement_timeout() == before

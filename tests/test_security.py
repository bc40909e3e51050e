"""Tokens, rate limits, body limits, faults and CORS: nobody gets in who should not, nothing half-happens."""
import base64
import gzip
import hashlib
import json
import os
import subprocess
import sys
from datetime import timedelta
from io import StringIO
from pathlib import Path
from urllib.parse import quote, urlencode
from unittest import mock

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.contrib import admin
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.core.management import CommandError, call_command
from django.test import Client
from django.db import DatabaseError, OperationalError, connection
from django.db.models.query import QuerySet
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from sessions_app.models import DeletionRecord, Message, Session

from .conftest import PASSWORD, login
from .factories import SessionFactory, session_with_messages

PROJECT = Path(__file__).resolve().parent.parent


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# --- logout and rotation ------------------------------------------------------------------


def test_logout_revokes_the_refresh_token(api_client, user):
    refresh = login(api_client)["refresh"]
    assert api_client.post("/api/auth/logout", {"refresh": refresh}, format="json").status_code == 200
    response = api_client.post("/api/auth/token/refresh", {"refresh": refresh}, format="json")
    assert response.status_code == 401


def test_verify_refuses_a_revoked_refresh_token_with_401(api_client, user):
    refresh = login(api_client)["refresh"]
    api_client.post("/api/auth/logout", {"refresh": refresh}, format="json")
    response = api_client.post("/api/auth/token/verify", {"token": refresh}, format="json")
    assert response.status_code == 401


def test_logging_out_twice_with_one_refresh_token_is_401_the_second_time(api_client, user):
    refresh = login(api_client)["refresh"]
    api_client.post("/api/auth/logout", {"refresh": refresh}, format="json")
    response = api_client.post("/api/auth/logout", {"refresh": refresh}, format="json")
    assert (response.status_code, response.json()["code"]) == (401, "token_not_valid")


def test_logout_with_a_garbage_token_is_401(api_client, user):
    assert api_client.post("/api/auth/logout", {"refresh": "garbage"}, format="json").status_code == 401


def test_logout_without_a_token_is_400(api_client, user):
    assert api_client.post("/api/auth/logout", {}, format="json").status_code == 400


def test_refresh_rotates_the_refresh_token(api_client, user):
    refresh = login(api_client)["refresh"]
    body = api_client.post("/api/auth/token/refresh", {"refresh": refresh}, format="json").json()
    assert body["refresh"] != refresh
    assert api_client.post("/api/auth/token/refresh", {"refresh": body["refresh"]}, format="json").status_code == 200


def test_a_used_refresh_token_is_revoked(api_client, user):
    refresh = login(api_client)["refresh"]
    api_client.post("/api/auth/token/refresh", {"refresh": refresh}, format="json")
    assert api_client.post("/api/auth/token/refresh", {"refresh": refresh}, format="json").status_code == 401


def test_a_refresh_that_fails_midway_leaves_the_used_token_valid(api_client, user):
    refresh = login(api_client)["refresh"]
    # The database fails after the used token is revoked, as the new one is recorded.
    with mock.patch.object(RefreshToken, "outstand", side_effect=OperationalError("database is locked")):
        failed = api_client.post("/api/auth/token/refresh", {"refresh": refresh}, format="json")
    assert failed.status_code == 503
    assert api_client.post("/api/auth/token/refresh", {"refresh": refresh}, format="json").status_code == 200


def test_token_lifetimes_come_from_the_environment():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "JWT_"))}
    env.update(DJANGO_DEBUG="1", JWT_ACCESS_MINUTES="7", JWT_REFRESH_DAYS="3")
    code = (
        "from django.conf import settings as s; "
        "print(s.SIMPLE_JWT['ACCESS_TOKEN_LIFETIME'].total_seconds(), "
        "s.SIMPLE_JWT['REFRESH_TOKEN_LIFETIME'].days)"
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "--verbosity", "0", "-c", code], cwd=PROJECT, env=env, capture_output=True, text=True
    )
    assert result.stdout.split() == ["420.0", "3"], result.stderr


def test_a_deactivated_users_refresh_token_stops_working(api_client, user):
    refresh = login(api_client)["refresh"]
    user.is_active = False
    user.save()
    assert api_client.post("/api/auth/token/refresh", {"refresh": refresh}, format="json").status_code == 401


def test_a_deleted_users_access_token_stops_working(auth_client, user):
    user.delete()
    assert auth_client.get("/api/sessions").status_code == 401


# --- every attack on the bearer check is a 401 that changes nothing ----------------------------


def forged(user, *, header=None, claims=None, key="tests-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz", algorithm="HS256"):
    payload = {**dict(AccessToken.for_user(user).payload), **(claims or {})}
    return jwt.encode(payload, key, algorithm=algorithm, headers=header)


def rsa_signed(user):
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return forged(user, key=pem, algorithm="RS256")


def other_user_id_with_original_signature(user, other):
    header, _, signature = str(AccessToken.for_user(user)).split(".")
    payload = {**dict(AccessToken.for_user(user).payload), "user_id": str(other.pk)}
    return f"{header}.{b64(json.dumps(payload).encode())}.{signature}"


ATTACKS = {
    "not yet valid": lambda user, other: forged(user, claims={"nbf": int((timezone.now() + timedelta(hours=1)).timestamp())}),
    "issued in the future": lambda user, other: forged(user, claims={"iat": int((timezone.now() + timedelta(hours=1)).timestamp())}),
    "asymmetric algorithm": lambda user, other: rsa_signed(user),
    "signed with another key": lambda user, other: forged(user, key="another-key-" * 5),
    "user that no longer exists": lambda user, other: forged(user, claims={"user_id": "999999"}),
    "payload edited to another user": other_user_id_with_original_signature,
}


@pytest.mark.parametrize("attack", ATTACKS, ids=list(ATTACKS))
def test_attack_on_the_bearer_check_is_401_and_deletes_nothing(user, other_user, attack):
    SessionFactory(owner=user, key="mine")
    SessionFactory(owner=other_user, key="theirs")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {ATTACKS[attack](user, other_user)}")
    assert client.delete("/api/sessions/mine").status_code == 401
    assert client.delete("/api/sessions/theirs").status_code == 401
    assert Session.objects.count() == 2


def test_forging_helper_makes_tokens_the_service_accepts(user):
    """The attacks above differ from a valid token only in what each one breaks."""
    SessionFactory(owner=user, key="mine")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {forged(user)}")
    assert client.get("/api/sessions/mine").status_code == 200


# --- rate limits ---------------------------------------------------------------------------


@pytest.fixture
def small_rates(settings):
    settings.API_THROTTLE_RATES = {"login_address": "3/minute", "login_username": "2/minute", "user": "4/minute"}


def test_token_endpoint_is_limited_per_username(api_client, user, small_rates):
    for _ in range(2):
        api_client.post("/api/auth/token", {"username": "alice", "password": "wrong"}, format="json")
    other_address = APIClient(REMOTE_ADDR="10.9.9.9")
    response = other_address.post("/api/auth/token", {"username": "ALICE", "password": PASSWORD}, format="json")
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0


def test_a_username_with_a_lone_surrogate_is_400(api_client, db):
    body = r'{"username": "\ud800", "password": "x"}'
    response = api_client.generic("POST", "/api/auth/token", body, content_type="application/json")
    assert response.status_code == 400


def test_token_endpoint_is_limited_per_address(api_client, user, small_rates):
    for name in ["a", "b", "c"]:
        api_client.post("/api/auth/token", {"username": name, "password": "x"}, format="json")
    response = api_client.post("/api/auth/token", {"username": "alice", "password": PASSWORD}, format="json")
    assert response.status_code == 429


@pytest.mark.parametrize(
    "route, body",
    [("token/refresh", {"refresh": "x"}), ("token/verify", {"token": "x"}), ("logout", {"refresh": "x"})],
)
def test_every_token_route_is_limited_per_address(api_client, db, small_rates, route, body):
    for _ in range(3):
        api_client.post(f"/api/auth/{route}", body, format="json")
    assert api_client.post(f"/api/auth/{route}", body, format="json").status_code == 429


@pytest.mark.parametrize("method", ["get", "put", "delete", "options", "head"])
def test_requests_that_try_no_credential_do_not_use_up_the_login_limit(api_client, user, small_rates, method):
    for _ in range(5):
        getattr(api_client, method)("/api/auth/token")
    response = api_client.post("/api/auth/token", {"username": "alice", "password": PASSWORD}, format="json")
    assert response.status_code == 200


def test_forwarded_for_header_does_not_reset_the_address_limit(api_client, user, small_rates):
    for i in range(3):
        api_client.post("/api/auth/token", {"username": f"u{i}", "password": "x"}, format="json", HTTP_X_FORWARDED_FOR=f"1.2.3.{i}")
    response = api_client.post("/api/auth/token", {"username": "alice", "password": PASSWORD}, format="json", HTTP_X_FORWARDED_FOR="5.6.7.8")
    assert response.status_code == 429


def test_api_is_limited_per_user(auth_client, other_client, user, small_rates):
    for _ in range(4):
        assert auth_client.get("/api/sessions").status_code == 200
    response = auth_client.get("/api/sessions")
    assert response.status_code == 429
    assert "Retry-After" in response
    assert other_client.get("/api/sessions").status_code == 200


def test_a_throttled_delete_deletes_nothing(auth_client, user, small_rates):
    SessionFactory(owner=user, key="s1")
    for _ in range(4):
        auth_client.get("/api/sessions")
    assert auth_client.delete("/api/sessions/s1").status_code == 429
    assert Session.objects.exists()


def test_a_login_from_no_known_address_is_answered(api_client, user):
    # Behind a Unix socket the server may pass no client address.
    response = api_client.post(
        "/api/auth/token", {"username": "alice", "password": PASSWORD}, format="json", REMOTE_ADDR=None
    )
    assert response.status_code == 200


def test_logins_from_no_known_address_share_one_address_limit(api_client, db, small_rates):
    for name in ["a", "b", "c"]:
        api_client.post("/api/auth/token", {"username": name, "password": "x"}, format="json", REMOTE_ADDR=None)
    response = api_client.post(
        "/api/auth/token", {"username": "d", "password": "x"}, format="json", REMOTE_ADDR=None
    )
    assert response.status_code == 429


def test_the_login_limits_table_names_no_address_or_username(api_client, db):
    api_client.post("/api/auth/token", {"username": "alice", "password": "wrong"}, format="json")
    with connection.cursor() as cursor:
        cursor.execute("SELECT cache_key FROM sessions_app_login_throttle")
        keys = " ".join(key for (key,) in cursor.fetchall())
    assert keys.count("throttle_login_") == 2
    for plain in ["alice", "127.0.0.1", hashlib.sha256(b"alice").hexdigest()]:
        assert plain not in keys


def url_of_test_database() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    return f"postgres://{quote(db['USER'])}:{quote(db['PASSWORD'] or '')}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@pytest.mark.django_db(transaction=True)
def test_login_limit_counts_attempts_made_through_another_worker_process(api_client, small_rates):
    other_worker = (
        "import django; django.setup(); from django.test import Client; "
        "client = Client(REMOTE_ADDR='10.9.9.9'); "
        "print([client.post('/api/auth/token', {'username': 'alice', 'password': 'wrong'}, "
        "content_type='application/json').status_code for _ in range(2)])"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": url_of_test_database(),
        "THROTTLE_LOGIN_USERNAME": "2/minute",
    }
    result = subprocess.run(
        [sys.executable, "-c", other_worker], cwd=PROJECT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.stdout.strip() == "[401, 401]", result.stderr

    response = api_client.post("/api/auth/token", {"username": "alice", "password": PASSWORD}, format="json")
    assert response.status_code == 429


def test_health_is_not_rate_limited(api_client, db, small_rates):
    assert all(api_client.get("/api/health").status_code == 200 for _ in range(10))


# --- body limits -----------------------------------------------------------------------------


def test_a_body_over_the_limit_is_413_and_writes_nothing(auth_client, user, settings):
    settings.API_MAX_BODY_BYTES = 1000
    SessionFactory(owner=user, key="s1")
    response = auth_client.post("/api/sessions/s1/messages", {"role": "user", "content": "x" * 2000}, format="json")
    assert response.status_code == 413
    assert "1000 bytes" in response.json()["detail"]
    assert not Message.objects.exists()


def test_a_body_at_the_limit_is_accepted(auth_client, user, settings):
    SessionFactory(owner=user, key="s1")
    body = json.dumps({"role": "user", "content": "x" * 100})
    settings.API_MAX_BODY_BYTES = len(body)
    response = auth_client.generic("POST", "/api/sessions/s1/messages", body, content_type="application/json")
    assert response.status_code == 201


def test_a_body_over_the_default_limit_is_a_json_413(auth_client, user, settings):
    SessionFactory(owner=user, key="s1")
    body = json.dumps({"role": "user", "content": "x" * settings.API_MAX_BODY_BYTES})
    response = auth_client.generic("POST", "/api/sessions/s1/messages", body, content_type="application/json")
    assert response.status_code == 413
    assert response.json() == {
        "detail": f"The request body is larger than the limit of {settings.API_MAX_BODY_BYTES} bytes."
    }


def test_a_413_body_is_written_like_every_view_s_json(auth_client, user, settings):
    settings.API_MAX_BODY_BYTES = 10
    response = auth_client.post("/api/sessions", {"title": "x" * 100}, format="json")
    assert response.content == b'{"detail":"The request body is larger than the limit of 10 bytes."}'
    assert response["Content-Type"] == "application/json"


@pytest.mark.parametrize("body", [b'{"id": "s1"}', gzip.compress(b'{"id": "s1"}')], ids=["plain", "gzipped"])
def test_a_body_with_a_content_encoding_is_415_and_creates_nothing(auth_client, body):
    response = auth_client.generic(
        "POST", "/api/sessions", body, content_type="application/json", HTTP_CONTENT_ENCODING="gzip"
    )
    assert (response.status_code, response["Accept-Encoding"]) == (415, "identity")
    assert not Session.objects.exists()


def test_a_body_with_the_identity_encoding_is_accepted(auth_client):
    response = auth_client.generic(
        "POST", "/api/sessions", b'{"id": "s1"}', content_type="application/json", HTTP_CONTENT_ENCODING="identity"
    )
    assert response.status_code == 201


def test_a_delete_without_a_body_is_answered_whatever_content_encoding_it_names(auth_client, user):
    # A client that labels every request, bodies or not: nothing would need decoding.
    SessionFactory(owner=user, key="s1")
    response = auth_client.delete("/api/sessions/s1", HTTP_CONTENT_ENCODING="gzip")
    assert (response.status_code, Session.objects.exists()) == (200, False)


def test_an_error_outside_the_api_is_plain_text_not_json(client, db, settings):
    response = client.post("/admin/login/", {"username": "x" * settings.API_MAX_BODY_BYTES})
    assert (response.status_code, response["Content-Type"]) == (413, "text/plain; charset=utf-8")


def test_a_body_over_the_limit_on_the_admin_is_413(client, db, settings):
    response = client.post("/admin/login/", {"username": "x" * settings.API_MAX_BODY_BYTES})
    assert response.status_code == 413


@pytest.mark.parametrize("length", ["abc", "-1", "1e3"])
def test_a_malformed_content_length_is_400_and_creates_nothing(auth_client, user, length):
    # Django would read the body as empty: the session would be made with defaults.
    response = auth_client.generic(
        "POST", "/api/sessions", '{"id": "s1"}', content_type="application/json", CONTENT_LENGTH=length
    )
    assert response.status_code == 400
    assert response.json() == {"detail": "The Content-Length header must be a whole number of bytes."}
    assert not Session.objects.exists()


def test_a_chunked_body_without_a_length_is_411_and_creates_nothing(auth_client, user):
    # Django would read such a body as empty: the session would be made with defaults.
    response = auth_client.generic(
        "POST", "/api/sessions", "", content_type="application/json", HTTP_TRANSFER_ENCODING="chunked"
    )
    assert response.status_code == 411
    assert "Content-Length" in response.json()["detail"]
    assert not Session.objects.exists()


@pytest.mark.parametrize(
    "path",
    [
        "/admin/sessions_app/session/?channel=%00",
        "/admin/sessions_app/message/?role=a%00b",
        "/admin/sessions_app/deletionrecord/?via=%00",
    ],
)
def test_an_admin_filter_with_nul_is_400(admin_client, path):
    # On PostgreSQL the filter reached the database as it was: a 500.
    assert admin_client.get(path).status_code == 400


def test_an_admin_filter_with_a_raw_nul_byte_is_400(admin_client):
    # gunicorn refuses a raw NUL itself; runserver passes it on.
    response = admin_client.get("/admin/sessions_app/session/", QUERY_STRING="channel=\x00")
    assert response.status_code == 400


def test_an_admin_path_with_nul_is_400(admin_client):
    # The "view on site" link passes its object id to the database as it is.
    content_type = ContentType.objects.get(app_label="sessions", model="session")
    assert admin_client.get(f"/admin/r/{content_type.pk}/a%00b/").status_code == 400


def test_an_api_query_with_nul_is_a_json_400(auth_client):
    response = auth_client.get("/api/sessions/search?q=a%00b")
    assert response.status_code == 400
    assert "NUL" in response.json()["detail"]


def test_json_nested_too_deeply_is_400(api_client, db):
    body = "[" * 100_000 + "]" * 100_000
    response = api_client.generic("POST", "/api/auth/token", body, content_type="application/json")
    assert response.status_code == 400
    assert "nested too deeply" in response.json()["detail"]


def test_the_longest_message_in_escaped_json_is_taken(auth_client, user, settings):
    # Python's json (and so requests) writes an emoji as \ud83d\ude00: 12 bytes a character.
    SessionFactory(owner=user, key="s1")
    content = "\U0001F600" * settings.SESSIONS_MESSAGE_MAX_LENGTH
    body = json.dumps({"role": "user", "content": content, "metadata": {"source": "telegram"}})
    response = auth_client.generic("POST", "/api/sessions/s1/messages", body, content_type="application/json")
    assert response.status_code == 201
    assert Message.objects.get().content == content


# --- a fault in the middle of a delete ----------------------------------------------------------


@pytest.fixture
def fault_after_message_delete():
    """The database fails on the statement that follows the messages' DELETE."""
    real_raw_delete = QuerySet._raw_delete

    def raw_delete(queryset, using):
        if queryset.model is Session:
            raise DatabaseError("simulated failure after the messages' statement")
        return real_raw_delete(queryset, using)

    with mock.patch.object(QuerySet, "_raw_delete", raw_delete):
        yield


def assert_untouched(session, count):
    assert Session.objects.filter(pk=session.pk).exists()
    assert Message.objects.filter(session_id=session.pk).count() == count
    assert not DeletionRecord.objects.exists()


def test_api_fault_rolls_back_and_answers_a_generic_500(auth_client, user, fault_after_message_delete):
    session = session_with_messages(owner=user, key="s1", count=5)
    auth_client.raise_request_exception = False
    response = auth_client.delete("/api/sessions/s1")
    assert response.status_code == 500
    assert response.json() == {"detail": "Internal server error."}
    assert_untouched(session, 5)


def test_api_delete_succeeds_after_a_fault(auth_client, user):
    session_with_messages(owner=user, key="s1", count=5)
    auth_client.raise_request_exception = False
    real_raw_delete = QuerySet._raw_delete
    failures = []

    def fail_once(queryset, using):
        if queryset.model is Session and not failures:
            failures.append(1)
            raise DatabaseError("once")
        return real_raw_delete(queryset, using)

    with mock.patch.object(QuerySet, "_raw_delete", fail_once):
        assert auth_client.delete("/api/sessions/s1").status_code == 500
        assert auth_client.delete("/api/sessions/s1").status_code == 200
    assert (Session.objects.count(), Message.objects.count()) == (0, 0)


def test_command_fault_rolls_back_and_exits_with_an_error(user, fault_after_message_delete):
    session = session_with_messages(owner=user, key="s1", count=5)
    with pytest.raises(CommandError, match="rolled back"):
        call_command("delete_session", "s1", "--noinput", stdout=StringIO())
    assert_untouched(session, 5)


def test_admin_fault_rolls_back(admin_client, user, fault_after_message_delete):
    session = session_with_messages(owner=user, key="s1", count=5)
    admin_client.raise_request_exception = False
    response = admin_client.post(f"/admin/sessions_app/session/{session.pk}/delete/", {"post": "yes"})
    assert response.status_code == 500
    assert_untouched(session, 5)


def test_admin_bulk_fault_rolls_back(admin_client, user, fault_after_message_delete):
    session = session_with_messages(owner=user, key="s1", count=5)
    admin_client.raise_request_exception = False
    response = admin_client.post(
        "/admin/sessions_app/session/",
        {"action": "delete_selected", "_selected_action": [session.pk], "post": "yes"},
    )
    assert response.status_code == 500
    assert_untouched(session, 5)


def test_admin_bulk_fault_leaves_no_admin_log_entry(admin_client, user, fault_after_message_delete):
    # Django's action logs the deletions first: without one transaction, the log said
    # "deleted" for sessions that were still there.
    session = session_with_messages(owner=user, key="s1", count=5)
    admin_client.raise_request_exception = False
    admin_client.post(
        "/admin/sessions_app/session/",
        {"action": "delete_selected", "_selected_action": [session.pk], "post": "yes"},
    )
    assert not LogEntry.objects.exists()


def test_admin_bulk_fault_deleting_users_leaves_no_admin_log_entry(admin_client, user, fault_after_message_delete):
    session_with_messages(owner=user, key="s1", count=5)
    admin_client.raise_request_exception = False
    admin_client.post(
        "/admin/auth/user/", {"action": "delete_selected", "_selected_action": [user.pk], "post": "yes"}
    )
    assert not LogEntry.objects.exists()


def test_admin_fault_deleting_a_user_account_keeps_their_sessions(admin_client, user):
    # The sessions go first, then the account: a failure at the account undoes both.
    session = session_with_messages(owner=user, key="s1", count=5)
    admin_client.raise_request_exception = False
    with mock.patch.object(admin.ModelAdmin, "delete_model", side_effect=DatabaseError("simulated")):
        admin_client.post(f"/admin/auth/user/{user.pk}/delete/", {"post": "yes"})
    assert_untouched(session, 5)


def test_admin_bulk_fault_deleting_user_accounts_keeps_their_sessions(admin_client, user):
    session = session_with_messages(owner=user, key="s1", count=5)
    admin_client.raise_request_exception = False
    with mock.patch.object(admin.ModelAdmin, "delete_queryset", side_effect=DatabaseError("simulated")):
        admin_client.post(
            "/admin/auth/user/", {"action": "delete_selected", "_selected_action": [user.pk], "post": "yes"}
        )
    assert_untouched(session, 5)


# --- CORS --------------------------------------------------------------------------------------


def preflight(client, origin, path="/api/sessions"):
    return client.options(
        path,
        HTTP_ORIGIN=origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="DELETE",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization",
    )


def test_no_origin_is_allowed_by_default(api_client, db):
    assert "access-control-allow-origin" not in preflight(api_client, "https://dashboard.example.com")


def test_a_configured_origin_is_allowed(api_client, db, settings):
    settings.CORS_ALLOWED_ORIGINS = ["https://dashboard.example.com"]
    response = preflight(api_client, "https://dashboard.example.com")
    assert response["access-control-allow-origin"] == "https://dashboard.example.com"


def test_an_unlisted_origin_is_not_allowed(api_client, db, settings):
    settings.CORS_ALLOWED_ORIGINS = ["https://dashboard.example.com"]
    assert "access-control-allow-origin" not in preflight(api_client, "https://evil.example.com")


@pytest.mark.parametrize("path", ["/admin/login/", "/apiary"])
def test_a_configured_origin_is_not_allowed_outside_the_api(api_client, db, settings, path):
    settings.CORS_ALLOWED_ORIGINS = ["https://dashboard.example.com"]
    assert "access-control-allow-origin" not in preflight(api_client, "https://dashboard.example.com", path)


def test_cors_origins_come_from_the_environment():
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env.update(DJANGO_DEBUG="1", DJANGO_CORS_ALLOWED_ORIGINS="https://a.example.com, https://b.example.com")
    code = "from django.conf import settings as s; print(' '.join(s.CORS_ALLOWED_ORIGINS))"
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "--verbosity", "0", "-c", code], cwd=PROJECT, env=env, capture_output=True, text=True
    )
    assert result.stdout.split() == ["https://a.example.com", "https://b.example.com"], result.stderr


def test_a_username_with_spaces_is_limited_like_any_other(api_client, db, small_rates):
    for _ in range(2):
        api_client.post("/api/auth/token", {"username": "Append a message", "password": "x"}, format="json")
    response = api_client.post("/api/auth/token", {"username": "append a message", "password": "x"}, format="json")
    assert response.status_code == 429


@pytest.mark.parametrize("variant", [" alice", "alice\t", "\u00a0alice", "\u2003ALICE "])
def test_a_username_with_surrounding_whitespace_is_counted_as_that_username(api_client, user, small_rates, variant):
    for _ in range(2):
        api_client.post("/api/auth/token", {"username": "alice", "password": "wrong"}, format="json")
    response = api_client.post("/api/auth/token", {"username": variant, "password": PASSWORD}, format="json")
    assert response.status_code == 429


def test_a_username_sent_as_a_number_is_counted_as_its_digits(api_client, db, small_rates):
    get_user_model().objects.create_user(username="424242", password=PASSWORD)
    for _ in range(2):
        api_client.post("/api/auth/token", {"username": 424242, "password": "wrong"}, format="json")
    response = api_client.post("/api/auth/token", {"username": "424242", "password": PASSWORD}, format="json")
    assert response.status_code == 429


def test_a_deleted_users_refresh_token_stops_working(api_client, user):
    refresh = login(api_client)["refresh"]
    user.delete()
    assert api_client.post("/api/auth/token/refresh", {"refresh": refresh}, format="json").status_code == 401


def test_a_configured_origin_may_read_the_export_name_and_the_retry_delay(auth_client, user, settings):
    settings.CORS_ALLOWED_ORIGINS = ["https://dashboard.example.com"]
    SessionFactory(owner=user, key="s1")
    response = auth_client.get("/api/sessions/s1/export", HTTP_ORIGIN="https://dashboard.example.com")
    exposed = {name.strip().lower() for name in response["access-control-expose-headers"].split(",")}
    assert {"content-disposition", "retry-after"} <= exposed


# --- a form body in another charset ----------------------------------------------------------


@pytest.mark.parametrize("path", ["/admin/login/", "/no-such-page/"])
@pytest.mark.parametrize("charset", ["latin-1", "utf-16"])
def test_a_form_in_a_charset_other_than_utf8_outside_the_api_is_400(db, path, charset):
    # Django's CSRF check refused it, then each error page's check refused it again: a 500.
    client = Client(enforce_csrf_checks=True, raise_request_exception=False)
    client.cookies["csrftoken"] = "a" * 32
    response = client.post(path, "a=b", content_type=f"application/x-www-form-urlencoded; charset={charset}")
    assert response.status_code == 400


def test_a_form_declared_utf8_still_signs_in_to_the_admin(client, admin_user):
    body = urlencode({"username": admin_user.username, "password": "password", "next": "/admin/"})
    response = client.post(
        "/admin/login/", body, content_type="application/x-www-form-urlencoded; charset=UTF-8"
    )
    assert response.status_code == 302
    assert response.url == "/admin/"


def test_a_form_in_another_charset_on_the_api_is_415(auth_client, user):
    response = auth_client.post(
        "/api/sessions", "id=s1", content_type="application/x-www-form-urlencoded; charset=latin-1"
    )
    assert response.status_code == 415
    assert not Session.objects.exists()


# --- caches ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/api/sessions",
        "/api/sessions/s1/history",
        "/api/sessions/s1/export",
        "/api/sessions/search?q=hello",
        "/api/memory/session?id=s1",
        "/api/sessions/nope/history",
    ],
)
def test_no_cache_may_keep_an_api_answer(auth_client, user, path):
    # A deleted session must not live on in a browser's disk cache or a proxy.
    session_with_messages(owner=user, key="s1", count=2)
    response = auth_client.get(path)
    assert "no-store" in response["Cache-Control"]


def test_no_cache_may_keep_an_answer_refused_before_any_view(api_client, db):
    response = api_client.generic("POST", "/api/sessions", "{}", content_type="application/json", CONTENT_LENGTH="x")
    assert response.status_code == 400
    assert "no-store" in response["Cache-Control"]

"""The bearer check: only a valid access token gets in, and a refused request changes nothing."""
import base64
import json
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from sessions_app.models import Session

from .conftest import PASSWORD, login
from .factories import SessionFactory, UserFactory


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned_token(user) -> str:
    header = b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    payload = b64(json.dumps(dict(AccessToken.for_user(user).payload)).encode())
    return f"{header}.{payload}."


def expired_token(user) -> str:
    token = AccessToken.for_user(user)
    token.set_exp(lifetime=-timedelta(seconds=1))
    return str(token)


def wrongly_signed_token(user) -> str:
    header, payload, signature = str(AccessToken.for_user(user)).split(".")
    flipped = signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")
    return f"{header}.{payload}.{flipped}"


def token_naming_user_id(user_id, token_class=AccessToken) -> str:
    """Signed with the service's key, but naming a user id no account can have."""
    token = token_class.for_user(User.objects.first())
    token["user_id"] = user_id
    return str(token)


BAD_AUTHORIZATION = {
    "missing": lambda user: None,
    "wrong scheme": lambda user: f"Token {AccessToken.for_user(user)}",
    "no token": lambda user: "Bearer",
    "garbage": lambda user: "Bearer not-a-jwt",
    "expired": lambda user: f"Bearer {expired_token(user)}",
    "wrong signature": lambda user: f"Bearer {wrongly_signed_token(user)}",
    "alg none": lambda user: f"Bearer {unsigned_token(user)}",
    "refresh token as access": lambda user: f"Bearer {RefreshToken.for_user(user)}",
    "user id not a number": lambda user: f"Bearer {token_naming_user_id('abc')}",
    "user id with NUL": lambda user: f"Bearer {token_naming_user_id('1' + chr(0))}",
    "user id an object": lambda user: f"Bearer {token_naming_user_id({'id': 1})}",
    "user id past any integer column": lambda user: f"Bearer {token_naming_user_id(2**70)}",
}


@pytest.fixture(params=list(BAD_AUTHORIZATION), ids=list(BAD_AUTHORIZATION))
def badly_authorized_client(request, user):
    client = APIClient()
    header = BAD_AUTHORIZATION[request.param](user)
    if header is not None:
        client.credentials(HTTP_AUTHORIZATION=header)
    return client


def test_token_endpoint_returns_access_and_refresh_for_good_credentials(api_client, user):
    response = api_client.post(
        "/api/auth/token", {"username": "alice", "password": PASSWORD}, format="json"
    )
    assert response.status_code == 200
    assert set(response.json()) == {"access", "refresh"}


def test_token_endpoint_refuses_bad_credentials_with_401(api_client, user):
    response = api_client.post(
        "/api/auth/token", {"username": "alice", "password": "wrong"}, format="json"
    )
    assert response.status_code == 401


def test_token_from_endpoint_opens_session_routes(api_client, user):
    SessionFactory(owner=user, key="session_abc123")
    tokens = api_client.post(
        "/api/auth/token", {"username": "alice", "password": PASSWORD}, format="json"
    ).json()
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    assert api_client.get("/api/sessions/session_abc123").status_code == 200


def test_refresh_returns_a_new_access_token(api_client, user):
    refresh = str(RefreshToken.for_user(user))
    response = api_client.post("/api/auth/token/refresh", {"refresh": refresh}, format="json")
    assert response.status_code == 200
    assert "access" in response.json()


def change_password(user) -> None:
    user.set_password("a-new-password-after-a-leak")
    user.save()


def test_access_token_is_refused_once_the_password_changes(api_client, user):
    tokens = login(api_client)
    change_password(user)
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    response = api_client.get("/api/sessions")
    assert (response.status_code, response.json()["code"]) == (401, "password_changed")


def test_refresh_token_is_refused_once_the_password_changes(api_client, user):
    tokens = login(api_client)
    change_password(user)
    response = api_client.post("/api/auth/token/refresh", {"refresh": tokens["refresh"]}, format="json")
    assert (response.status_code, response.json()["code"]) == (401, "password_changed")


def test_verify_refuses_a_token_issued_before_the_password_changed(api_client, user):
    tokens = login(api_client)
    change_password(user)
    response = api_client.post("/api/auth/token/verify", {"token": tokens["access"]}, format="json")
    assert response.status_code == 401


def test_tokens_issued_after_the_password_changed_work(api_client, user):
    change_password(user)
    tokens = api_client.post(
        "/api/auth/token", {"username": "alice", "password": "a-new-password-after-a-leak"}, format="json"
    ).json()
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    assert api_client.get("/api/sessions").status_code == 200


def test_refresh_refuses_a_deactivated_users_token(api_client, user):
    refresh = login(api_client)["refresh"]
    user.is_active = False
    user.save()
    response = api_client.post("/api/auth/token/refresh", {"refresh": refresh}, format="json")
    assert response.status_code == 401


def test_verify_accepts_a_valid_token(api_client, user):
    token = str(AccessToken.for_user(user))
    response = api_client.post("/api/auth/token/verify", {"token": token}, format="json")
    assert response.status_code == 200


def test_verify_refuses_a_deleted_users_token(api_client, user):
    token = str(AccessToken.for_user(user))
    user.delete()
    response = api_client.post("/api/auth/token/verify", {"token": token}, format="json")
    assert response.status_code == 401


def test_verify_refuses_a_deactivated_users_token(api_client, user):
    token = str(AccessToken.for_user(user))
    user.is_active = False
    user.save()
    response = api_client.post("/api/auth/token/verify", {"token": token}, format="json")
    assert response.status_code == 401


def test_verify_refuses_a_garbage_token(api_client, user):
    response = api_client.post("/api/auth/token/verify", {"token": "garbage"}, format="json")
    assert response.status_code == 401


def test_bad_authorization_cannot_delete(badly_authorized_client, user):
    SessionFactory(owner=user, key="session_abc123")
    response = badly_authorized_client.delete("/api/sessions/session_abc123")
    assert response.status_code == 401
    assert Session.objects.filter(key="session_abc123").exists()


def test_bad_authorization_cannot_read(badly_authorized_client, user):
    SessionFactory(owner=user, key="session_abc123")
    assert badly_authorized_client.get("/api/sessions/session_abc123").status_code == 401


def test_bad_authorization_cannot_create(badly_authorized_client, user):
    response = badly_authorized_client.post("/api/sessions", {"id": "x1"}, format="json")
    assert response.status_code == 401
    assert not Session.objects.exists()


@pytest.mark.parametrize("kind", ["garbage", "expired", "wrong signature", "refresh token as access"])
def test_a_refused_token_is_named_invalid_in_the_challenge(api_client, user, kind):
    api_client.credentials(HTTP_AUTHORIZATION=BAD_AUTHORIZATION[kind](user))
    response = api_client.get("/api/sessions")
    assert response["WWW-Authenticate"] == 'Bearer realm="api", error="invalid_token"'


def test_a_request_without_a_token_gets_the_bare_challenge(api_client):
    response = api_client.get("/api/sessions")
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


@pytest.mark.parametrize("header", ["Bearer", "Bearer a b"], ids=["no token", "two tokens"])
def test_a_malformed_authorization_header_is_401_with_the_bare_challenge(api_client, header):
    api_client.credentials(HTTP_AUTHORIZATION=header)
    response = api_client.get("/api/sessions")
    assert (response.status_code, response["WWW-Authenticate"]) == (401, 'Bearer realm="api"')


def test_a_login_with_a_wrong_password_gets_the_bare_challenge(api_client, user):
    response = api_client.post("/api/auth/token", {"username": "alice", "password": "wrong"}, format="json")
    assert (response.status_code, response["WWW-Authenticate"]) == (401, 'Bearer realm="api"')


def test_inactive_users_token_is_refused(auth_client, user):
    user.is_active = False
    user.save()
    assert auth_client.get("/api/sessions/anything").status_code == 401


@pytest.mark.parametrize("scheme", ["bearer", "BEARER", "bEaReR"])
def test_the_bearer_scheme_is_accepted_in_any_letter_case(api_client, user, scheme):
    api_client.credentials(HTTP_AUTHORIZATION=f"{scheme} {AccessToken.for_user(user)}")
    assert api_client.get("/api/sessions").status_code == 200


def test_verify_refuses_a_signed_token_naming_no_possible_user_id(api_client, user):
    response = api_client.post("/api/auth/token/verify", {"token": token_naming_user_id("abc")}, format="json")
    assert response.status_code == 401


def test_refresh_refuses_a_signed_token_naming_no_possible_user_id(api_client, user):
    token = token_naming_user_id("abc", RefreshToken)
    response = api_client.post("/api/auth/token/refresh", {"refresh": token}, format="json")
    assert response.status_code == 401


def token_with_claims(token_class, user, **claims) -> str:
    """Signed with the service's key, with `claims` set (None: left out), as a foreign issuer might."""
    token = token_class.for_user(user)
    for claim, value in claims.items():
        if value is None:
            del token[claim]
        else:
            token[claim] = value
    return str(token)


MALFORMED_CLAIMS = {
    "exp as a string": {"exp": "1796260078"},
    "exp past year 9999": {"exp": 10**20},
    "exp in year 33658": {"exp": 10**12},
    "no jti": {"jti": None},
    "user_id a list": {"user_id": [1]},
}


def send_token(api_client, route: str, token: str):
    if route == "a session route":
        api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        return api_client.get("/api/sessions")
    field = "token" if route == "/api/auth/token/verify" else "refresh"
    return api_client.post(route, {field: token}, format="json")


@pytest.mark.parametrize("claims", MALFORMED_CLAIMS.values(), ids=MALFORMED_CLAIMS.keys())
@pytest.mark.parametrize(
    "route, token_class",
    [
        ("a session route", AccessToken),
        ("/api/auth/token/verify", AccessToken),
        ("/api/auth/token/refresh", RefreshToken),
        ("/api/auth/logout", RefreshToken),
    ],
)
def test_a_signed_token_with_a_malformed_claim_is_401(api_client, user, route, token_class, claims):
    response = send_token(api_client, route, token_with_claims(token_class, user, **claims))
    assert response.status_code == 401


def test_a_token_naming_user_id_true_does_not_sign_in_as_user_1(api_client, user):
    # In Python True == 1: read as a number, the claim would name the account with id 1.
    first = User.objects.filter(pk=1).first() or UserFactory(pk=1, username="first")
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_with_claims(AccessToken, user, user_id=True)}")
    response = api_client.get("/api/sessions")
    assert (first.pk, response.status_code) == (1, 401)



def test_a_token_login_leaves_the_accounts_last_login_alone(api_client, user):
    # A bot logs in over and over: no write to the account's row each time.
    login(api_client)
    user.refresh_from_db()
    assert user.last_login is None

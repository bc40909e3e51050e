"""Rate limits, read from settings on every request so that tests and operators can change them.

The login limits key on the client address and, separately, on the username
tried, so that guessing one account's password from many addresses is slowed
as much as guessing many from one.
"""
import hashlib

from django.conf import settings
from django.core.cache import caches
from django.db import connection, transaction
from django.utils.crypto import salted_hmac
from rest_framework.exceptions import ValidationError
from rest_framework.throttling import SimpleRateThrottle


class SettingsRateThrottle(SimpleRateThrottle):
    def get_rate(self):
        return settings.API_THROTTLE_RATES[self.scope]


class LoginThrottle(SettingsRateThrottle):
    """Counted in the database, so that every worker process sees every attempt.

    DRF reads a key's attempts and later writes them back; two attempts at once would
    each be counted without the other, and a burst could pass the limit. So each check
    runs in a transaction that first takes the key's lock.
    """

    @property
    def cache(self):
        return caches["login_throttle"]

    def allow_request(self, request, view):
        # Only a POST tries a credential. DRF throttles before it answers 405, so a link
        # checker's GETs would otherwise lock everyone at its address out of logging in.
        if request.method != "POST":
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        with transaction.atomic():
            _lock_attempts(key)
            return super().allow_request(request, view)


def _lock_attempts(key: str) -> None:
    # SQLite: the transaction began with BEGIN IMMEDIATE, which already lets one writer
    # in at a time. PostgreSQL: a lock on the key, held until the transaction ends.
    if connection.vendor == "postgresql":
        lock_id = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [lock_id])


def _stored_ident(value: str) -> str:
    # Keyed with SECRET_KEY: the table names no address or username, not even as a hash
    # that guessing names could reverse. A hash also suits cache keys, which may not hold
    # spaces or be long. surrogatepass: a lone surrogate is refused by validation, not here.
    return salted_hmac(
        "sessions_app.login_throttle", value.encode("utf-8", "surrogatepass"), algorithm="sha256"
    ).hexdigest()


class LoginAddressThrottle(LoginThrottle):
    scope = "login_address"

    def get_cache_key(self, request, view):
        # No address at all (a Unix socket, some test servers): one shared count, as DRF keeps.
        address = self.get_ident(request) or ""
        return self.cache_format % {"scope": self.scope, "ident": _stored_ident(address)}


class LoginUsernameThrottle(LoginThrottle):
    scope = "login_username"

    def get_cache_key(self, request, view):
        username = _username_as_checked(request, view)
        if not username:
            return None
        return self.cache_format % {"scope": self.scope, "ident": _stored_ident(username.casefold())}


def _username_as_checked(request, view) -> str | None:
    """The username as the view's serializer will authenticate it, or None if it takes none.

    Read through the serializer's own field, so that what it makes the same name
    (" alice" and "alice", the number 424242 and "424242") is counted as one.
    """
    serializer = view.get_serializer()
    field = serializer.fields.get(getattr(serializer, "username_field", None))
    if field is None or not isinstance(request.data, dict) or field.field_name not in request.data:
        return None
    try:
        return field.run_validation(request.data[field.field_name])
    except ValidationError:
        return None


class UserThrottle(SettingsRateThrottle):
    scope = "user"

    def get_cache_key(self, request, view):
        if request.user and request.user.is_authenticated:
            ident = request.user.pk
        else:
            ident = self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}

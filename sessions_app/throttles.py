"""Rate limits, read from settings on every request so that tests and operators can change them.

The login limits key on the client address and, separately, on the username
tried, so that guessing one account's password from many addresses is slowed
as much as guessing many from one.
"""
import hashlib

from django.conf import settings
from django.core.cache import caches
from rest_framework.throttling import SimpleRateThrottle


class SettingsRateThrottle(SimpleRateThrottle):
    def get_rate(self):
        return settings.API_THROTTLE_RATES[self.scope]


class LoginThrottle(SettingsRateThrottle):
    """Counted in the database, so that every worker process sees every attempt."""

    @property
    def cache(self):
        return caches["login_throttle"]


class LoginAddressThrottle(LoginThrottle):
    scope = "login_address"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class LoginUsernameThrottle(LoginThrottle):
    scope = "login_username"

    def get_cache_key(self, request, view):
        username = request.data.get("username") if isinstance(request.data, dict) else None
        if not isinstance(username, str) or not username:
            return None
        # Hashed: usernames may hold spaces or be long, which cache keys may not.
        # surrogatepass: a lone surrogate is refused by validation later, not here with a 500.
        ident = hashlib.sha256(username.casefold().encode("utf-8", "surrogatepass")).hexdigest()
        return self.cache_format % {"scope": self.scope, "ident": ident}


class UserThrottle(SettingsRateThrottle):
    scope = "user"

    def get_cache_key(self, request, view):
        if request.user and request.user.is_authenticated:
            ident = request.user.pk
        else:
            ident = self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}

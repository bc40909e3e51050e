"""SimpleJWT's tokens, refusing claims of the wrong type before anything reads them.

A token signed with the key but written by something else (another service sharing
the key, a hand-made test token) could carry `exp` as a string or past year 9999, no
`jti`, or a list for the user id: SimpleJWT read them as it writes them and raised
TypeError or OverflowError, a 500 on every route, where a bad token is a 401.
"""
from numbers import Real

from rest_framework_simplejwt import tokens
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.utils import datetime_from_epoch


class WellTypedClaimsMixin:
    def verify(self) -> None:
        exp = self.payload.get("exp")
        if not _is_a_timestamp(exp):
            raise TokenError("Token has no valid expiry")
        if not isinstance(self.payload.get(jwt_settings.JTI_CLAIM), str):
            raise TokenError("Token has no id")
        user_id = self.payload.get(jwt_settings.USER_ID_CLAIM)
        if user_id is not None and (isinstance(user_id, bool) or not isinstance(user_id, (str, int))):
            raise TokenError("Token contained no recognizable user identification")
        super().verify()


def _is_a_timestamp(value) -> bool:
    if isinstance(value, bool) or not isinstance(value, Real):
        return False
    try:
        datetime_from_epoch(value)
    except (OverflowError, OSError, ValueError):
        return False
    return True


class AccessToken(WellTypedClaimsMixin, tokens.AccessToken):
    pass


class RefreshToken(WellTypedClaimsMixin, tokens.RefreshToken):
    pass


class UntypedToken(WellTypedClaimsMixin, tokens.UntypedToken):
    pass

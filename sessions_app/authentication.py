"""The bearer-token check every API route runs: SimpleJWT's, with two gaps closed."""
from django.core.exceptions import ValidationError
from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.authentication import AUTH_HEADER_TYPE_BYTES, JWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken
from rest_framework_simplejwt.settings import api_settings as jwt_settings


class BearerTokenAuthentication(JWTAuthentication):
    def get_raw_token(self, header: bytes):
        # The scheme's name is case-insensitive (RFC 9110, 11.1): SimpleJWT took
        # "bearer <token>" for no credentials at all and answered 401.
        parts = header.split()
        accepted = {scheme.lower(): scheme for scheme in AUTH_HEADER_TYPE_BYTES}
        if parts and parts[0].lower() in accepted:
            header = b" ".join([accepted[parts[0].lower()], *parts[1:]])
        return super().get_raw_token(header)

    def get_user(self, validated_token):
        # A token signed with the key but naming no possible user id (another service
        # sharing the key, say) made the user lookup raise: a 500 instead of a 401.
        user_id_field = self.user_model._meta.get_field(jwt_settings.USER_ID_FIELD)
        try:
            user_id_field.to_python(validated_token.get(jwt_settings.USER_ID_CLAIM))
        except ValidationError:
            raise InvalidToken("Token contained no recognizable user identification") from None
        return super().get_user(validated_token)


def sent_a_bearer_token(request) -> bool:
    """Whether the request's Authorization header holds a bearer token, good or bad."""
    authentication = BearerTokenAuthentication()
    header = authentication.get_header(request)
    try:
        return header is not None and authentication.get_raw_token(header) is not None
    except AuthenticationFailed:
        return False  # "Bearer" with nothing after it, or more than one token


class BearerTokenScheme(SimpleJWTScheme):
    """Describes the routes' bearer token in the OpenAPI schema, as drf-spectacular does SimpleJWT's."""

    target_class = BearerTokenAuthentication

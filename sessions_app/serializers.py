"""Shapes of the API's input and output. Validation of shape only; rules live in services."""
from datetime import UTC

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import models, transaction
from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers
from rest_framework_simplejwt import serializers as jwt_serializers
from rest_framework_simplejwt.exceptions import InvalidToken
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

from .authentication import BearerTokenAuthentication
from .models import DeletionRecord, Message, Session
from .services import OwnerGone
from .tokens import RefreshToken, UntypedToken
from .validators import validate_session_key, validate_storable_json


class UTCDateTimeField(serializers.DateTimeField):
    """ISO 8601 in UTC with six fraction digits ("2025-03-14T09:30:00.000000Z"), whatever the value.

    DRF's isoformat() drops the fraction when it is zero, so one time in a million broke
    clients that parse a fixed pattern. Every stored time is UTC; on a page of 50 sessions
    DRF's per-value time-zone lookups were half the cost of the response (profiled in bench/).
    """

    def to_representation(self, value):
        return value.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


class StringOnlyMixin:
    """Takes a JSON string and nothing else.

    DRF's CharField stores 5 as "5" and 1.5 as "1.5": a client that sent a number by mistake
    would never hear of it. The API's text fields are strings.
    """

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StringField(StringOnlyMixin, serializers.CharField):
    pass


class StringRegexField(StringOnlyMixin, serializers.RegexField):
    pass


class ModelSerializer(serializers.ModelSerializer):
    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.DateTimeField: UTCDateTimeField,
    }


class SessionCreateInputSerializer(serializers.Serializer):
    id = StringField(
        required=False, max_length=255, trim_whitespace=False, validators=[validate_session_key]
    )
    title = StringField(required=False, max_length=200)
    channel = StringRegexField(
        r"^[A-Za-z0-9_\-.]{1,64}$",
        required=False,
        max_length=64,
        error_messages={"invalid": "Channels are 1-64 letters, digits, '_', '-' or '.'."},
    )


class SessionSerializer(ModelSerializer):
    id = serializers.CharField(source="key")

    class Meta:
        model = Session
        fields = ["id", "title", "channel", "created_at", "updated_at", "message_count"]
        read_only_fields = fields


class MessageCreateInputSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Message.Role.choices)
    content = StringField(
        trim_whitespace=False, max_length=settings.SESSIONS_MESSAGE_MAX_LENGTH
    )
    metadata = serializers.DictField(required=False, validators=[validate_storable_json])


IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"
IDEMPOTENCY_KEY_PATTERN = r"^[\x21-\x7e]{1,255}$"


class IdempotencyKeySerializer(serializers.Serializer):
    """An append's Idempotency-Key header, reported under the header's own name when wrong."""

    def get_fields(self):
        return {
            IDEMPOTENCY_KEY_HEADER: serializers.RegexField(
                IDEMPOTENCY_KEY_PATTERN,
                trim_whitespace=False,
                error_messages={"invalid": "Idempotency keys are 1-255 visible ASCII characters, no spaces."},
            )
        }


@extend_schema_field({"type": "object", "additionalProperties": {}})
class JSONObjectField(serializers.JSONField):
    """A JSON object in the schema, where a JSONField would be any JSON value: a message's
    metadata is only ever stored as one (MessageCreateInputSerializer takes a dict)."""


class MessageSerializer(ModelSerializer):
    timestamp = UTCDateTimeField(source="created_at")
    metadata = JSONObjectField(read_only=True)

    class Meta:
        model = Message
        fields = ["id", "role", "content", "timestamp", "metadata"]
        read_only_fields = fields


class SessionListItemSerializer(SessionSerializer):
    last_activity = UTCDateTimeField(source="updated_at")
    preview = serializers.CharField()

    class Meta(SessionSerializer.Meta):
        fields = [*SessionSerializer.Meta.fields, "last_activity", "preview"]
        read_only_fields = fields


# One object holding the page, not the array DRF's "list" action usually returns.
@extend_schema_serializer(many=False)
class SessionListSerializer(serializers.Serializer):
    sessions = SessionListItemSerializer(many=True)
    total = serializers.IntegerField(help_text="How many sessions the caller has in all.")


# Past this, offsets overflow the databases' integers; no one has that many sessions.
MAX_OFFSET = 2**31 - 1


class SessionListQuerySerializer(serializers.Serializer):
    limit = serializers.IntegerField(min_value=1, max_value=500, default=50)
    offset = serializers.IntegerField(min_value=0, max_value=MAX_OFFSET, default=0)


class SessionTitleInputSerializer(serializers.Serializer):
    title = StringField(max_length=200)


class StatusSerializer(serializers.Serializer):
    status = serializers.CharField(help_text='Always "ok".')


class DetailSerializer(serializers.Serializer):
    detail = serializers.CharField()


class HistoryQuerySerializer(serializers.Serializer):
    limit = serializers.IntegerField(min_value=1, max_value=500, default=50)


class MemorySessionQuerySerializer(HistoryQuerySerializer):
    # Not trimmed: a bare "+" in the query is a space, and "+1234567890" must not find
    # the session "1234567890".
    id = serializers.CharField(max_length=255, trim_whitespace=False, help_text="The session id.")


class SearchQuerySerializer(serializers.Serializer):
    # Required, as in PocketPaw's contract; an empty q is allowed and finds nothing.
    q = serializers.CharField(allow_blank=True, trim_whitespace=False, max_length=500)
    # Up to 200, as PocketPaw's own route takes.
    limit = serializers.IntegerField(min_value=1, max_value=200, default=20)


class SearchResultSerializer(ModelSerializer):
    id = serializers.CharField(source="key")
    match = serializers.CharField(help_text="The first matching message, cut to 200 characters.")
    match_role = serializers.ChoiceField(choices=Message.Role.choices)
    last_activity = UTCDateTimeField(source="updated_at")

    class Meta:
        model = Session
        fields = ["id", "title", "channel", "match", "match_role", "last_activity"]
        read_only_fields = fields


class SearchResultsSerializer(serializers.Serializer):
    sessions = SearchResultSerializer(many=True)


class ExportQuerySerializer(serializers.Serializer):
    format = serializers.ChoiceField(choices=["json", "md"], default="json")


class SessionExportSerializer(serializers.Serializer):
    """The shape of a JSON export, for the schema; the export itself is streamed."""

    export_version = serializers.IntegerField()
    exported_at = UTCDateTimeField()
    session_id = serializers.CharField()
    title = serializers.CharField()
    message_count = serializers.IntegerField(
        help_text="How many messages the session held when the download began: the messages that "
        "follow, unless the session is deleted during the download, which ends them early."
    )
    messages = MessageSerializer(many=True)


class HealthSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["ok", "unavailable"])
    database = serializers.ChoiceField(choices=["ok", "unreachable"])


class JSONBooleanField(serializers.BooleanField):
    """JSON true or false only. DRF's also takes 1, "yes", "on" and the like, which is too
    loose for the flag that deletes every session a user has."""

    def to_internal_value(self, data):
        if isinstance(data, bool):
            return data
        self.fail("invalid", input=data)


class BulkDeleteInputSerializer(serializers.Serializer):
    ids = serializers.ListField(
        child=StringField(max_length=255, trim_whitespace=False),
        required=False,
        allow_empty=False,
        max_length=1000,
        help_text="Ids of the caller's sessions to delete; others are ignored.",
    )
    all = JSONBooleanField(required=False, default=False, help_text="true deletes every session of the caller.")

    def validate(self, data):
        if ("ids" in data) == data["all"]:
            raise serializers.ValidationError('Send either "ids" (a non-empty list) or "all": true.')
        return data


class BulkDeleteResultSerializer(serializers.Serializer):
    status = serializers.CharField(help_text='Always "ok".')
    deleted = serializers.IntegerField(help_text="How many sessions were deleted.")


class DeletionRecordSerializer(ModelSerializer):
    session_id = serializers.CharField(source="session_key")
    actor = serializers.CharField(source="actor_username")

    class Meta:
        model = DeletionRecord
        fields = ["session_id", "via", "actor", "message_count", "deleted_at"]
        read_only_fields = fields


class DeletionRecordListSerializer(serializers.Serializer):
    deletions = DeletionRecordSerializer(many=True)


# SimpleJWT's refresh with rotation, made one transaction. (Comments, not a docstring:
# drf-spectacular would publish a docstring in the API schema.)
#
# Revoking the used token and recording the new one commit together, so a failure
# between them cannot leave the client with neither. Two refreshes with the same
# token queue on its row: the second then finds it revoked (401) instead of also
# getting a new pair. The user is checked as on every route: a deleted or inactive
# user's token, or one issued before the user's password changed, gets 401
# (SimpleJWT's refresh answers a 500 for the first and a new pair for the last).
class TokenRefreshSerializer(jwt_serializers.TokenRefreshSerializer):
    token_class = RefreshToken

    def validate(self, attrs):
        authentication = BearerTokenAuthentication()
        with transaction.atomic():
            token = self._lock_outstanding_token(attrs["refresh"])
            authentication.get_user(token)
            try:
                return super().validate(attrs)
            except get_user_model().DoesNotExist:
                # Deleted since get_user() found it.
                raise OwnerGone from None

    def _lock_outstanding_token(self, raw_token):
        # Checks the signature, expiry and revocation as of now; super().validate()
        # checks revocation again once the lock is held.
        token = self.token_class(raw_token)
        jti = token[jwt_settings.JTI_CLAIM]
        list(OutstandingToken.objects.select_for_update().filter(jti=jti).values_list("pk"))
        return token


# SimpleJWT's verify, answering as the API's routes do: 401 for a revoked token (it
# answers 400) and for a token whose user may no longer sign in (it does not look). The
# user is checked by the routes' own authentication, so an access token called valid here
# is one the API accepts; a valid refresh token is one /api/auth/token/refresh accepts.
# (Comments, not a docstring, as above.)
class TokenVerifySerializer(jwt_serializers.TokenVerifySerializer):

    def validate(self, attrs):
        # Ours first: SimpleJWT's verify reads the token with its own class.
        token = UntypedToken(attrs["token"])
        try:
            data = super().validate(attrs)
        except serializers.ValidationError:
            # The only one it raises once the field is valid: the token is revoked.
            raise InvalidToken("Token is blacklisted") from None
        BearerTokenAuthentication().get_user(token)
        return data


# SimpleJWT's logout, reading the token with the claims checked (tokens.py).
class TokenBlacklistSerializer(jwt_serializers.TokenBlacklistSerializer):
    token_class = RefreshToken

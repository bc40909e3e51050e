"""The REST API: thin views that validate input, call one service or selector and shape the answer."""
import re

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import generics, permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework_simplejwt import views as jwt_views

from . import exports, selectors, services
from .models import DeletionRecord
from .negotiation import IgnoreAcceptHeader
from .selectors import SessionNotFound
from .serializers import (
    IDEMPOTENCY_KEY_HEADER,
    IDEMPOTENCY_KEY_PATTERN,
    BulkDeleteInputSerializer,
    BulkDeleteResultSerializer,
    DeletionRecordListSerializer,
    DetailSerializer,
    ExportQuerySerializer,
    HealthSerializer,
    HistoryQuerySerializer,
    IdempotencyKeySerializer,
    MemorySessionQuerySerializer,
    MessageCreateInputSerializer,
    MessageSerializer,
    SearchQuerySerializer,
    SearchResultsSerializer,
    SessionCreateInputSerializer,
    SessionExportSerializer,
    SessionListItemSerializer,
    SessionListQuerySerializer,
    SessionListSerializer,
    SessionSerializer,
    SessionTitleInputSerializer,
    StatusSerializer,
)
from .throttles import LoginAddressThrottle, LoginUsernameThrottle

SESSION_ID = OpenApiParameter(
    "session_id",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    description="The session id, raw or percent-encoded, e.g. `session_abc123` or `telegram:123456789`.",
)
NOT_FOUND = OpenApiResponse(
    DetailSerializer,
    description="No session with this id belongs to the caller.",
    examples=[OpenApiExample("Not found", value={"detail": "Session not found"})],
)
BAD_REQUEST = OpenApiResponse(
    OpenApiTypes.OBJECT, description="Invalid input: each field with what is wrong with it."
)
IDEMPOTENCY_KEY = OpenApiParameter(
    IDEMPOTENCY_KEY_HEADER,
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    pattern=IDEMPOTENCY_KEY_PATTERN,
    description="Any 1-255 visible ASCII characters the client picks for this message (a UUID, the "
    "chat platform's message id). Sent again with the same message, after a timeout or a dropped "
    "connection, it stores nothing new and answers with the message the first request stored.",
)
# Says that an append's answer is the message an earlier request with the same key stored.
REPLAYED_HEADER = "Idempotent-Replayed"
REPLAYED = OpenApiParameter(
    REPLAYED_HEADER,
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    enum=["true"],
    response=[201],
    description="`true` when the message was stored by an earlier request with the same Idempotency-Key; "
    "absent otherwise.",
)
STATUS_OK = OpenApiResponse(
    StatusSerializer, examples=[OpenApiExample("Done", value={"status": "ok"})]
)


def _query(serializer_class, request) -> dict:
    return _checked(serializer_class, request.query_params)


def _checked(serializer_class, data) -> dict:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _history_response(session, limit: int) -> Response:
    messages = selectors.message_history(session=session, limit=limit)
    return Response(MessageSerializer(messages, many=True).data)


@extend_schema_view(
    list=extend_schema(
        summary="List sessions",
        parameters=[SessionListQuerySerializer],
        responses={200: SessionListSerializer, 400: BAD_REQUEST},
    ),
    create=extend_schema(
        summary="Create a session",
        request=SessionCreateInputSerializer,
        responses={
            201: SessionSerializer,
            400: BAD_REQUEST,
            409: OpenApiResponse(
                DetailSerializer,
                examples=[OpenApiExample("Exists", value={"detail": "Session already exists"})],
            ),
        },
    ),
    retrieve=extend_schema(
        summary="Get a session",
        parameters=[SESSION_ID],
        responses={200: SessionSerializer, 404: NOT_FOUND},
    ),
    destroy=extend_schema(
        summary="Delete a session",
        description="Permanently deletes the session and every message in it, in one transaction.",
        parameters=[SESSION_ID],
        responses={200: STATUS_OK, 404: NOT_FOUND},
    ),
)
class SessionViewSet(viewsets.GenericViewSet):
    serializer_class = SessionSerializer
    lookup_url_kwarg = "session_id"
    # DRF's default refuses dots, which channel keys such as "C01ABC:1705123456.789" contain.
    lookup_value_regex = r"[^/]+"

    def get_queryset(self):
        return selectors.session_list_for_user(user=self.request.user)

    def http_method_not_allowed(self, request, *args, **kwargs):
        # /api/sessions/search and /api/sessions/bulk-delete are also the paths of the
        # sessions with those ids, which can never exist (they are refused at creation): a
        # method of the session route answers as for any missing session, not 405.
        on_a_session_path = not self.detail and "list" not in self.action_map.values()
        if on_a_session_path and request.method in ("GET", "DELETE"):
            raise SessionNotFound(request.path)
        return super().http_method_not_allowed(request, *args, **kwargs)

    def get_object(self):
        session = selectors.session_get_for_user(
            user=self.request.user, key=self.kwargs[self.lookup_url_kwarg]
        )
        self.check_object_permissions(self.request, session)
        return session

    def list(self, request):
        page = _query(SessionListQuerySerializer, request)
        sessions, total = selectors.session_page_for_user(user=request.user, **page)
        return Response(
            {"sessions": SessionListItemSerializer(sessions, many=True).data, "total": total}
        )

    def create(self, request):
        serializer = SessionCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        session = services.session_create(
            owner=request.user,
            key=data.get("id"),
            title=data.get("title"),
            channel=data.get("channel", "web"),
        )
        return Response(SessionSerializer(session).data, status=status.HTTP_201_CREATED)

    def retrieve(self, request, session_id=None):
        return Response(SessionSerializer(self.get_object()).data)

    def destroy(self, request, session_id=None):
        services.session_delete_for_user(
            user=request.user, key=session_id, via=DeletionRecord.Via.API, actor=request.user.get_username()
        )
        # PocketPaw's contract answers 200 with a body, not DRF's 204.
        return Response({"status": "ok"})

    @extend_schema(
        summary="Append a message",
        parameters=[SESSION_ID, IDEMPOTENCY_KEY, REPLAYED],
        request=MessageCreateInputSerializer,
        responses={
            201: OpenApiResponse(
                MessageSerializer,
                description="The message stored, or the one an earlier request with the same "
                "Idempotency-Key stored (then with `Idempotent-Replayed: true`).",
            ),
            400: BAD_REQUEST,
            404: NOT_FOUND,
            422: OpenApiResponse(
                DetailSerializer, description="The Idempotency-Key was used for another message in this session."
            ),
        },
    )
    @action(detail=True, methods=["post"], url_path="messages")
    def messages(self, request, session_id=None):
        session = self.get_object()
        serializer = MessageCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        idempotency_key = request.headers.get(IDEMPOTENCY_KEY_HEADER)
        if idempotency_key is not None:
            idempotency_key = _checked(IdempotencyKeySerializer, {IDEMPOTENCY_KEY_HEADER: idempotency_key})[
                IDEMPOTENCY_KEY_HEADER
            ]
        appended = services.message_create(
            session=session, idempotency_key=idempotency_key, **serializer.validated_data
        )
        response = Response(MessageSerializer(appended.message).data, status=status.HTTP_201_CREATED)
        if appended.replayed:
            response[REPLAYED_HEADER] = "true"
        return response

    @extend_schema(
        summary="Rename a session",
        parameters=[SESSION_ID],
        request=SessionTitleInputSerializer,
        responses={200: STATUS_OK, 400: BAD_REQUEST, 404: NOT_FOUND},
    )
    @action(detail=True, methods=["post", "put"], url_path="title")
    def title(self, request, session_id=None):
        session = self.get_object()
        serializer = SessionTitleInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.session_rename(session=session, title=serializer.validated_data["title"])
        return Response({"status": "ok"})

    @extend_schema(
        summary="Get a session's history",
        parameters=[SESSION_ID, HistoryQuerySerializer],
        responses={200: MessageSerializer(many=True), 400: BAD_REQUEST, 404: NOT_FOUND},
    )
    @action(detail=True, methods=["get"])
    def history(self, request, session_id=None):
        session = self.get_object()
        return _history_response(session, _query(HistoryQuerySerializer, request)["limit"])

    @extend_schema(
        summary="Search sessions",
        description="Sessions with a message containing `q`, in any letter case, newest first.",
        parameters=[SearchQuerySerializer],
        responses={200: SearchResultsSerializer, 400: BAD_REQUEST},
    )
    @action(detail=False, methods=["get"])
    def search(self, request):
        params = _query(SearchQuerySerializer, request)
        sessions = selectors.session_search_for_user(
            user=request.user, query=params["q"], limit=params["limit"]
        )
        return Response(SearchResultsSerializer({"sessions": sessions}).data)

    @extend_schema(
        summary="Delete several sessions, or all of them",
        description="In one transaction. Ids that are not the caller's are ignored and not counted.",
        request=BulkDeleteInputSerializer,
        responses={200: BulkDeleteResultSerializer, 400: BAD_REQUEST},
    )
    @action(detail=False, methods=["post"], url_path="bulk-delete")
    def bulk_delete(self, request):
        serializer = BulkDeleteInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        if serializer.validated_data["all"]:
            sessions = selectors.session_list_for_user(user=request.user)
        else:
            sessions = selectors.session_list_for_user_with_keys(
                user=request.user, keys=serializer.validated_data["ids"]
            )
        result = services.sessions_delete(
            sessions=sessions, via=DeletionRecord.Via.API, actor=request.user.get_username()
        )
        return Response({"status": "ok", "deleted": result.sessions})

    @extend_schema(
        summary="Export a session",
        parameters=[SESSION_ID, ExportQuerySerializer],
        responses={
            (200, "application/json"): SessionExportSerializer,
            (200, "text/markdown"): OpenApiTypes.STR,
            400: BAD_REQUEST,
            404: NOT_FOUND,
        },
    )
    @action(detail=True, methods=["get"], content_negotiation_class=IgnoreAcceptHeader)
    def export(self, request, session_id=None):
        session = self.get_object()
        file_format = _query(ExportQuerySerializer, request)["format"]
        if file_format == "md":
            chunks, content_type = exports.session_export_markdown(session=session), "text/markdown"
        else:
            chunks, content_type = exports.session_export_json(session=session), "application/json"
        filename = re.sub(r"[^A-Za-z0-9_.-]", "_", session.key) + "." + file_format
        response = StreamingHttpResponse(chunks, content_type=f"{content_type}; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response


@extend_schema(
    summary="Get a session's history (PocketPaw's memory route)",
    parameters=[MemorySessionQuerySerializer],
    responses={200: MessageSerializer(many=True), 400: BAD_REQUEST, 404: NOT_FOUND},
)
class MemorySessionView(generics.GenericAPIView):
    """GET /api/memory/session?id=...: the same history, where PocketPaw documents it."""

    serializer_class = MessageSerializer

    def get(self, request):
        params = _query(MemorySessionQuerySerializer, request)
        session = selectors.session_get_for_user(user=request.user, key=params["id"])
        return _history_response(session, params["limit"])


@extend_schema(
    summary="The record of the caller's deleted sessions",
    description="Newest first. Records hold no title or content, only that a session went.",
    parameters=[HistoryQuerySerializer],
    responses={200: DeletionRecordListSerializer, 400: BAD_REQUEST},
)
class DeletionRecordListView(generics.GenericAPIView):
    serializer_class = DeletionRecordListSerializer

    def get(self, request):
        limit = _query(HistoryQuerySerializer, request)["limit"]
        records = selectors.deletion_records_for_user(user=request.user)[:limit]
        return Response(DeletionRecordListSerializer({"deletions": records}).data)


@extend_schema(
    summary="Health check",
    auth=[],
    responses={
        200: HealthSerializer,
        503: OpenApiResponse(HealthSerializer, description="The database cannot be reached."),
    },
)
class HealthView(generics.GenericAPIView):
    """For load balancers and uptime checks: no token, and no data beyond up or down."""

    authentication_classes = []
    permission_classes = [permissions.AllowAny]
    throttle_classes = []
    serializer_class = HealthSerializer
    content_negotiation_class = IgnoreAcceptHeader

    def get(self, request):
        if selectors.database_is_reachable():
            return Response({"status": "ok", "database": "ok"})
        return Response(
            {"status": "unavailable", "database": "unreachable"},
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
        )


# SimpleJWT's verify and logout answer `{}`, which drf-spectacular would call no body.
EMPTY_OBJECT = OpenApiResponse(
    {"type": "object", "additionalProperties": False}, description="An empty object: `{}`."
)


# SimpleJWT's views, with the login limits: per address on every token route,
# and per username where a password is tried.
@extend_schema(
    summary="Get an access and a refresh token",
    description="Takes a username and password; answers an access token and a refresh token.",
)
class TokenObtainView(jwt_views.TokenObtainPairView):
    throttle_classes = [LoginAddressThrottle, LoginUsernameThrottle]


@extend_schema(
    summary="Refresh: a new token pair for a refresh token, which is revoked",
    description="Takes a refresh token; answers a new access token and a new refresh token. "
    "The refresh token sent is revoked: it works once.",
)
class TokenRefreshView(jwt_views.TokenRefreshView):
    throttle_classes = [LoginAddressThrottle]


@extend_schema(
    summary="Verify a token",
    description="`{}` if the token, access or refresh, is valid now; 401 if it is invalid, expired or revoked, "
    "its user is deleted or deactivated, or the password changed since it was issued.",
    responses={200: EMPTY_OBJECT},
)
class TokenVerifyView(jwt_views.TokenVerifyView):
    throttle_classes = [LoginAddressThrottle]


@extend_schema(
    summary="Log out: revoke a refresh token",
    description="The refresh token sent can no longer be refreshed. Access tokens already issued "
    "work until they expire.",
    responses={200: EMPTY_OBJECT},
)
class LogoutView(jwt_views.TokenBlacklistView):
    throttle_classes = [LoginAddressThrottle]


class JSONErrorsMixin:
    """Errors in JSON, as on every other route, from a view whose answer is YAML or HTML:
    DRF would render a 405 or 406 in the format negotiated for the answer."""

    def handle_exception(self, exc):
        self.request.accepted_renderer = JSONRenderer()
        self.request.accepted_media_type = JSONRenderer.media_type
        return super().handle_exception(exc)


class SchemaView(JSONErrorsMixin, SpectacularAPIView):
    pass


class SchemaDocsView(JSONErrorsMixin, SpectacularSwaggerView):
    pass

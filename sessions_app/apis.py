"""The REST API: thin views that validate input, call one service and shape the answer."""
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from . import selectors, services
from .serializers import (
    MessageCreateInputSerializer,
    MessageSerializer,
    SessionCreateInputSerializer,
    SessionSerializer,
)


class SessionViewSet(viewsets.GenericViewSet):
    serializer_class = SessionSerializer
    lookup_url_kwarg = "session_id"
    # DRF's default refuses dots, which channel keys such as "C01ABC:1705123456.789" contain.
    lookup_value_regex = r"[^/]+"

    def get_queryset(self):
        return selectors.session_list_for_user(user=self.request.user)

    def get_object(self):
        session = selectors.session_get_for_user(
            user=self.request.user, key=self.kwargs[self.lookup_url_kwarg]
        )
        self.check_object_permissions(self.request, session)
        return session

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
        self.perform_destroy(self.get_object())
        # PocketPaw's contract answers 200 with a body, not DRF's 204.
        return Response({"status": "ok"})

    def perform_destroy(self, instance):
        services.session_delete(session=instance)

    @action(detail=True, methods=["post"], url_path="messages")
    def messages(self, request, session_id=None):
        session = self.get_object()
        serializer = MessageCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        message = services.message_create(session=session, **serializer.validated_data)
        return Response(MessageSerializer(message).data, status=status.HTTP_201_CREATED)

from django.conf import settings
from django.urls import re_path
from rest_framework.routers import SimpleRouter

from .apis import (
    DeletionRecordListView,
    HealthView,
    LogoutView,
    MemorySessionView,
    SchemaDocsView,
    SchemaView,
    SessionViewSet,
    TokenObtainView,
    TokenRefreshView,
    TokenVerifyView,
)
from .negotiation import SchemaFormatNegotiation

router = SimpleRouter()
# Clients call routes with and without the slash; either must answer, never redirect.
router.trailing_slash = "/?"
router.register("sessions", SessionViewSet, basename="session")

urlpatterns = [
    re_path(r"^auth/token/?$", TokenObtainView.as_view(), name="token-obtain"),
    re_path(r"^auth/token/refresh/?$", TokenRefreshView.as_view(), name="token-refresh"),
    re_path(r"^auth/token/verify/?$", TokenVerifyView.as_view(), name="token-verify"),
    re_path(r"^auth/logout/?$", LogoutView.as_view(), name="logout"),
    re_path(r"^audit/deletions/?$", DeletionRecordListView.as_view(), name="audit-deletions"),
    re_path(r"^health/?$", HealthView.as_view(), name="health"),
    re_path(r"^memory/session/?$", MemorySessionView.as_view(), name="memory-session"),
    # The API has one version: fixing it means ?version= is not read, which drf-spectacular
    # would put unchecked into a response header (a 500 for a newline or NUL in it).
    re_path(
        r"^schema/?$",
        SchemaView.as_view(
            api_version=settings.API_VERSION, content_negotiation_class=SchemaFormatNegotiation
        ),
        name="schema",
    ),
    # No OPTIONS description: DRF would render it through the page's HTML renderer, a 500.
    re_path(r"^docs/?$", SchemaDocsView.as_view(url_name="schema", metadata_class=None), name="swagger-ui"),
    *router.urls,
]

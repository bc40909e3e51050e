from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path

from sessions_app.api_errors import api_route_not_found

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include("sessions_app.urls")),
    # The same routes under a versioned prefix, for clients that pin a version.
    path("api/v1/", include(("sessions_app.urls", "sessions_app"), namespace="v1")),
    # Last: whatever under /api no route above matched.
    re_path(rf"^{settings.API_PATH_PATTERN}", api_route_not_found),
]

handler400 = "sessions_app.api_errors.bad_request"
handler404 = "sessions_app.api_errors.page_not_found"
handler500 = "sessions_app.api_errors.server_error"

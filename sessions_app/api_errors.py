"""How domain errors and unmatched URLs look to API clients: always JSON."""
from django.http import JsonResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.views import exception_handler as drf_exception_handler

from .selectors import SessionNotFound
from .services import SessionAlreadyExists


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


def exception_handler(exc, context):
    """DRF's handler, taught the service layer's exceptions."""
    if isinstance(exc, SessionNotFound):
        exc = exceptions.NotFound("Session not found")
    elif isinstance(exc, SessionAlreadyExists):
        exc = Conflict("Session already exists")
    return drf_exception_handler(exc, context)


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


def page_not_found(request, exception):
    if _is_api(request):
        return JsonResponse({"detail": "Not found."}, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request):
    # Never a traceback or SQL in the body: the details go to the server log.
    if _is_api(request):
        return JsonResponse({"detail": "Internal server error."}, status=500)
    return defaults.server_error(request)

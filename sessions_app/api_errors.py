"""How errors look to clients: always JSON to API clients, whatever raised them."""
import logging
import re
import sqlite3

from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.db import OperationalError
from django.http import HttpResponse
from django.views import defaults
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status
from rest_framework.renderers import JSONRenderer
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework_simplejwt import exceptions as jwt_exceptions

from .authentication import sent_a_bearer_token
from .search import SearchTimedOut
from .selectors import SessionNotFound
from .services import IdempotencyKeyReused, OwnerGone, SessionAlreadyExists

logger = logging.getLogger(__name__)

# Database errors that say "not now" rather than "never": another transaction held
# what this one needed for longer than the connection waits, or the server could
# not be reached. The same request sent again later can succeed.
SQLITE_BUSY_CODES = {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED}
POSTGRES_RETRYABLE_STATES = {
    "40001",  # serialization_failure
    "40P01",  # deadlock_detected
    "53300",  # too_many_connections
    "55P03",  # lock_not_available (lock_timeout)
    "57014",  # query_canceled (statement_timeout)
    "57P01",  # admin_shutdown
}
DATABASE_BUSY = "The database is busy; try again in a moment."
RETRY_AFTER_SECONDS = 1


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


class IdempotencyKeyConflict(exceptions.APIException):
    # What the IETF's Idempotency-Key draft answers a key sent again with another request.
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = "This Idempotency-Key was used for another message in this session."
    default_code = "idempotency_key_reused"


class SearchTooLong(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "search_timed_out"
    default_detail = (
        "The search ran longer than the service allows and was stopped; "
        "a longer or rarer query is found faster."
    )


def is_retryable(error: OperationalError) -> bool:
    driver_error = error.__cause__
    sqlite_code = getattr(driver_error, "sqlite_errorcode", None)
    if sqlite_code is not None:
        # Extended result codes keep the primary code in their low byte.
        return (sqlite_code & 0xFF) in SQLITE_BUSY_CODES
    sqlstate = getattr(driver_error, "sqlstate", None)
    # No SQLSTATE means no answer from the server: refused, dropped or timed out.
    return sqlstate is None or sqlstate.startswith("08") or sqlstate in POSTGRES_RETRYABLE_STATES


def exception_handler(exc, context):
    """DRF's handler, taught the service layer's exceptions."""
    if isinstance(exc, SessionNotFound):
        exc = exceptions.NotFound("Session not found")
    elif isinstance(exc, SessionAlreadyExists):
        exc = Conflict("Session already exists")
    elif isinstance(exc, IdempotencyKeyReused):
        exc = IdempotencyKeyConflict()
    elif isinstance(exc, SearchTimedOut):
        exc = SearchTooLong()
    elif isinstance(exc, SuspiciousOperation):
        # Too many query parameters, say: logged and answered as Django does before any view,
        # with DEBUG on too, where Django's debug page tripped over the same parameters again
        # (a 500 after seconds).
        request = context["request"]._request
        logging.getLogger(f"django.security.{type(exc).__name__}").error(
            str(exc), exc_info=exc, extra={"status_code": 400, "request": request}
        )
        return bad_request(request, exc)
    elif isinstance(exc, OwnerGone):
        # What SimpleJWT answers for a token whose user no longer exists.
        exc = jwt_exceptions.AuthenticationFailed("User not found", code="user_not_found")
        exc.auth_header = context["view"].get_authenticate_header(context["request"])
    if (
        isinstance(exc, exceptions.AuthenticationFailed)
        and getattr(exc, "auth_header", None)
        and sent_a_bearer_token(context["request"])
    ):
        # RFC 6750, 3.1: a token was sent and refused, so the client knows to refresh or log
        # in again; a request that sent none (a login with a wrong password) keeps the bare one.
        exc.auth_header += ', error="invalid_token"'
    return drf_exception_handler(exc, context)


def is_api_request(request) -> bool:
    # path_info, as URL resolution and CORS use: the path below any prefix the site is served at.
    return re.match(rf"/{settings.API_PATH_PATTERN}", request.path_info) is not None


class DatabaseBusyMiddleware:
    """503 with Retry-After, instead of a 500, when a view fails on a busy or unreachable database.

    A middleware rather than DRF's exception handler, so that the admin's views get
    the same answer as the API's.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not (isinstance(exception, OperationalError) and is_retryable(exception)):
            return None
        logger.warning("Answered 503, the database is busy or unreachable: %s", exception)
        response = error_response(request, 503, DATABASE_BUSY)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response


def error_response(request, status_code: int, detail: str) -> HttpResponse:
    """An error answered before any view: JSON on the API's paths, plain text elsewhere."""
    if is_api_request(request):
        return _json_detail(detail, status_code)
    return HttpResponse(detail, status=status_code, content_type="text/plain; charset=utf-8")


def _json_detail(detail: str, status_code: int) -> HttpResponse:
    # Rendered by DRF's renderer, so these bodies are written like every view's.
    return HttpResponse(JSONRenderer().render({"detail": detail}), status=status_code, content_type="application/json")


def bad_request(request, exception):
    # What Django itself refuses before any view (a Host not in ALLOWED_HOSTS, too many
    # query parameters); the reason goes to the security log, not to the client.
    if is_api_request(request):
        return _json_detail("Bad request.", 400)
    return defaults.bad_request(request, exception)


@csrf_exempt
def api_route_not_found(request, *args, **kwargs):
    """What an API path no route matches answers, whatever the method: JSON, with DEBUG on too.

    With DEBUG on (make run), Django answers an unmatched path with its HTML debug page
    and never calls handler404. Exempt from CSRF, as every API view is, so that a POST
    to a mistyped path is a 404 rather than a 403 about cookies.
    """
    return _json_detail("Not found.", 404)


def page_not_found(request, exception):
    if is_api_request(request):
        return _json_detail("Not found.", 404)
    return defaults.page_not_found(request, exception)


def server_error(request):
    # Never a traceback or SQL in the body: the details go to the server log.
    if is_api_request(request):
        return _json_detail("Internal server error.", 500)
    return defaults.server_error(request)

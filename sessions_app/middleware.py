import logging
import re
import time

from django.conf import settings
from django.middleware import common
from django.utils.cache import add_never_cache_headers

from .api_errors import error_response, is_api_request

logger = logging.getLogger("pocketpaw.requests")


class RequestLogMiddleware:
    """Logs one structured line per request, for the application server's log."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        user = getattr(request, "user", None)
        logger.info(
            "request",
            extra={
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                "user_id": user.pk if user is not None and user.is_authenticated else None,
            },
        )
        return response


class ApiNoStoreMiddleware:
    """Cache-Control: no-store on every API answer.

    Sessions hold private conversations, and a deleted one must not live on in a
    browser's disk cache or a shared proxy: no cache may keep any answer of the API.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if is_api_request(request):
            add_never_cache_headers(response)
        return response


class CommonMiddleware(common.CommonMiddleware):
    """Django's, answering the health route's GET and HEAD whatever the Host header names.

    A load balancer or Kubernetes probes each backend at its own address, which is not
    among ALLOWED_HOSTS: Django's host check, made here, answered every probe 400 and
    logged a DisallowedHost error for it. The health answer is built from nothing the
    Host names (no URL, no redirect), so skipping the check there lets nothing through.
    """

    def process_request(self, request):
        if _is_a_health_probe(request):
            return None
        return super().process_request(request)


def _is_a_health_probe(request) -> bool:
    """A GET or HEAD of the health route, by the pattern the HTTPS redirect exempts too."""
    return request.method in ("GET", "HEAD") and re.match(settings.HEALTH_PATH_PATTERN, request.path_info.lstrip("/")) is not None


class HeadWithoutBodyMiddleware:
    """A HEAD answer keeps GET's headers (Content-Length too) and drops the body here.

    The server must drop it anyway: gunicorn logged a warning for every HEAD request that
    carried one (a health check's, say), and an export was read from the database whole
    only to be thrown away.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.method == "HEAD":
            if response.streaming:
                response.streaming_content = []
            else:
                response.content = b""
        return response


class RequestBodyLimitMiddleware:
    """Refuses a request body by its headers, before anything reads it.

    Over API_MAX_BODY_BYTES: 413. Compressed (a Content-Encoding): 415. Chunked, with no Content-Length: 411, and a
    Content-Length that is no number of bytes: 400, because in both cases Django would
    read an empty body, so a create would silently use defaults instead of what the
    client sent. (gunicorn refuses a malformed length itself; runserver passes it on.)
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        length = request.META.get("CONTENT_LENGTH")
        if not length and "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
            return error_response(
                request, 411, "Send the body with a Content-Length header; chunked bodies are not accepted."
            )
        try:
            declared = int(length or 0)
        except ValueError:
            declared = -1
        if declared < 0:
            return error_response(request, 400, "The Content-Length header must be a whole number of bytes.")
        limit = settings.API_MAX_BODY_BYTES
        if declared > limit:
            return error_response(request, 413, f"The request body is larger than the limit of {limit} bytes.")
        codings = request.META.get("HTTP_CONTENT_ENCODING", "").strip()
        if declared and codings.lower() not in ("", "identity"):
            # Nothing decodes it: a compressed body failed as bad JSON, and a plain one
            # labelled compressed was stored as if it were not (RFC 9110, 8.4.1).
            response = error_response(
                request, 415, f"Content-Encoding {codings!r} is not accepted: send the body uncompressed."
            )
            response["Accept-Encoding"] = "identity"
            return response
        return self.get_response(request)


class FormCharsetMiddleware:
    """400 for a form body declared in a charset other than UTF-8, outside the API.

    Django refuses such a body too, but where the CSRF check first reads it, and without
    marking it read: each error page's own CSRF check reads it again and fails in turn,
    and the 400 ends as the server's bare 500, a traceback in the log per request.
    The API reads only JSON, and answers a form with 415.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        # Django's own test: a charset it knows the codec of, named other than "utf-8".
        if (
            request.method == "POST"
            and not is_api_request(request)
            and request.content_type == "application/x-www-form-urlencoded"
            and request.encoding is not None
            and request.encoding.lower() != "utf-8"
        ):
            return error_response(request, 400, "A form body must be UTF-8 encoded.")
        return self.get_response(request)


class NulCharacterMiddleware:
    """400 for NUL in the query string (raw or as %00), which no parameter can mean, and in
    a path outside the API.

    PostgreSQL refuses NUL in text, so the admin, which passes list filters and the object
    id of its "view on site" link straight to the database, answered with a 500. The API
    answers an id holding NUL as it answers any id it does not hold: session not found.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        query = request.META.get("QUERY_STRING", "")
        if "%00" in query or "\x00" in query:
            return error_response(request, 400, "The query string cannot contain NUL characters (%00).")
        if "\x00" in request.path and not is_api_request(request):
            return error_response(request, 400, "The path cannot contain NUL characters (%00).")
        return self.get_response(request)

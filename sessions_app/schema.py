"""Hooks that shape the generated OpenAPI schema, and what OPTIONS says beside it."""
from django.conf import settings
from rest_framework.metadata import SimpleMetadata


def only_unversioned_paths(endpoints, **kwargs):
    """Describe each route once.

    /api/v1/ serves exactly the routes of /api/, and every route accepts an
    optional trailing slash; the schema lists the canonical /api/ form only.
    """
    described = []
    for path, path_regex, method, callback in endpoints:
        if path.startswith("/api/v1/"):
            continue
        described.append((path.rstrip("/"), path_regex, method, callback))
    return described


def _detail_response(description: str) -> dict:
    return {
        "description": description,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {"detail": {"type": "string"}},
                    "required": ["detail"],
                }
            }
        },
    }


BAD_REQUEST = {
    "description": "Malformed JSON, or fields that are missing or invalid.",
    "content": {"application/json": {"schema": {"type": "object", "additionalProperties": {}}}},
}
TOO_LARGE = _detail_response("The request body is larger than API_MAX_BODY_BYTES.")
LENGTH_REQUIRED = _detail_response("A chunked body without a Content-Length header.")
NOT_ACCEPTABLE = _detail_response("The Accept header admits no JSON.")
UNSUPPORTED_MEDIA_TYPE = _detail_response("A body that is not application/json.")
THROTTLED = _detail_response("Too many requests; the Retry-After header says when to try again.")
THROTTLED["headers"] = {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds."}}
DATABASE_BUSY = _detail_response(
    "The database stayed busy longer than the service waits for it, or could not be reached. "
    "The Retry-After header says when to try again."
)
DATABASE_BUSY["headers"] = THROTTLED["headers"]
SEARCH_UNAVAILABLE = _detail_response(
    "The search ran longer than SEARCH_TIME_LIMIT_SECONDS and was stopped (no Retry-After: the same "
    "query would be stopped again), or the database stayed busy or could not be reached (with Retry-After)."
)
SEARCH_UNAVAILABLE["headers"] = THROTTLED["headers"]
UNAUTHORIZED = {
    "description": "Bad credentials, or a bearer token that is missing, malformed, expired or forged.",
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {"detail": {"type": "string"}, "code": {"type": "string"}},
                "required": ["detail"],
            }
        }
    },
}


def document_common_responses(result, **kwargs):
    """Answers that DRF's views can give without saying so in their own schema.

    401 from routes behind the token and the token routes themselves, 429 from every
    throttled route, 400 (malformed or invalid JSON), 411, 413 (middleware.RequestBodyLimitMiddleware)
    and 415 from every route that takes a body, 503 from every route
    (api_errors.DatabaseBusyMiddleware; on search also its time limit, search.time_limited).
    """
    for path, methods in result.get("paths", {}).items():
        for operation in methods.values():
            responses = operation["responses"]
            if operation.get("security") or path.startswith("/api/auth/"):
                responses.setdefault("401", UNAUTHORIZED)
            if path != "/api/health":
                responses.setdefault("429", THROTTLED)
            if "requestBody" in operation:
                responses.setdefault("400", BAD_REQUEST)
                responses.setdefault("411", LENGTH_REQUIRED)
                responses.setdefault("413", TOO_LARGE)
                responses.setdefault("415", UNSUPPORTED_MEDIA_TYPE)
            responses.setdefault("503", SEARCH_UNAVAILABLE if path == "/api/sessions/search" else DATABASE_BUSY)
    return result


def state_the_api_version(result, **kwargs):
    """settings.API_VERSION, which drf-spectacular writes as "1.0.0 (1.0.0)" when the schema
    view names the version it also has from settings."""
    result["info"]["version"] = settings.API_VERSION
    return result


class RouteMetadata(SimpleMetadata):
    """OPTIONS names a route and what it parses and renders, and leaves its input to the
    OpenAPI schema: DRF's own list of fields comes from each view's default serializer,
    which for most actions here is not what they read (a message append listed a
    session's fields, with `id` required)."""

    def determine_actions(self, request, view):
        return {}


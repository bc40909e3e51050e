import io

from django.conf import settings
from rest_framework import exceptions, parsers, status


class RequestTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "request_too_large"


class SizeLimitedJSONParser(parsers.JSONParser):
    """DRF's JSON parser, refusing bodies over API_MAX_BODY_BYTES before parsing them.

    DRF reads the request stream itself, past Django's DATA_UPLOAD_MAX_MEMORY_SIZE
    check; reading one byte beyond the limit also catches chunked bodies that
    declare no length.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.API_MAX_BODY_BYTES
        body = stream.read(limit + 1)
        if len(body) > limit:
            raise RequestTooLarge(f"The request body is larger than the limit of {limit} bytes.")
        return super().parse(io.BytesIO(body), media_type, parser_context)

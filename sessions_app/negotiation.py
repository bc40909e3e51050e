"""How routes pick what they answer in, where DRF's Accept-driven choice does not fit."""
from rest_framework.exceptions import NotAcceptable
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.utils.mediatypes import _MediaType


class AcceptWithQualities(DefaultContentNegotiation):
    """DRF's negotiation, which ignores quality values, minus the formats Accept rules out
    with q=0 ("application/json;q=0", "*/*;q=0"): those are not acceptable (RFC 9110, 12.5.1),
    so the request is a 406 before the view runs, and a delete deletes nothing."""

    def select_renderer(self, request, renderers, format_suffix=None):
        accepts = self._get_parsed_accept_list(request)
        allowed = [renderer for renderer in renderers if _quality(_MediaType(renderer.media_type), accepts) != 0]
        if not allowed:
            raise NotAcceptable(available_renderers=renderers)
        return super().select_renderer(request, allowed, format_suffix)


def _quality(media_type: _MediaType, accepts: list[_MediaType]) -> float | None:
    """The q of the most specific range in Accept that admits media_type; None if none does."""
    matching = [accepted for accepted in accepts if media_type.match(accepted)]
    if not matching:
        return None
    most_specific = max(matching, key=lambda accepted: accepted.precedence)
    try:
        return float(most_specific.params.get("q", 1))
    except ValueError:
        return 1.0  # a malformed q is read as no q, as DRF reads every q


class IgnoreAcceptHeader(DefaultContentNegotiation):
    """A route's one format whatever Accept says: the export's is the file format `?format=`
    names; health's is JSON, also for an uptime checker that asks for text/plain."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class SchemaFormatNegotiation(AcceptWithQualities):
    """The schema, alone among the routes, renders YAML or JSON, chosen by `?format=`."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return super().select_renderer(request, renderers, format_suffix or request.query_params.get("format"))

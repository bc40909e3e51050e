"""How routes pick what they answer in, where DRF's Accept-driven choice does not fit."""
from django.http.request import MediaType
from rest_framework.exceptions import NotAcceptable
from rest_framework.negotiation import DefaultContentNegotiation


class AcceptWithQualities(DefaultContentNegotiation):
    """DRF's negotiation, which ignores quality values, minus the formats Accept rules out
    with q=0 ("application/json;q=0", "*/*;q=0"): those are not acceptable (RFC 9110, 12.5.1),
    so the request is a 406 before the view runs, and a delete deletes nothing."""

    def select_renderer(self, request, renderers, format_suffix=None):
        if format_suffix:
            # A format no renderer has is DRF's 404, whatever Accept says.
            renderers = self.filter_renderers(renderers, format_suffix)
        ranges = _media_ranges(self.get_accept_list(request))
        allowed = [renderer for renderer in renderers if _quality(MediaType(renderer.media_type), ranges) != 0]
        if not allowed:
            raise NotAcceptable(available_renderers=renderers)
        return super().select_renderer(request, allowed)


def _media_ranges(accept_list: list[str]) -> list[MediaType]:
    """Accept's ranges, without those Django cannot parse (an RFC 2231 parameter in an
    unknown charset raised ValueError, a 500): like DRF, a range it cannot read admits nothing."""
    ranges = []
    for token in accept_list:
        try:
            ranges.append(MediaType(token))
        except ValueError:
            continue
    return ranges


def _quality(media_type: MediaType, ranges: list[MediaType]) -> float | None:
    """The q of the most specific range in Accept that admits media_type; None if none does."""
    matching = [media_range for media_range in ranges if media_range.match(media_type)]
    if not matching:
        return None
    return max(matching, key=lambda media_range: media_range.specificity).quality


class IgnoreAcceptHeader(DefaultContentNegotiation):
    """A route's one format whatever Accept says: the export's is the file format `?format=`
    names; health's is JSON, also for an uptime checker that asks for text/plain."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class SchemaFormatNegotiation(AcceptWithQualities):
    """The schema, alone among the routes, renders YAML or JSON, chosen by `?format=`."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return super().select_renderer(request, renderers, format_suffix or request.query_params.get("format"))

"""How routes pick what they answer in, where DRF's Accept-driven choice does not fit."""
from rest_framework.negotiation import DefaultContentNegotiation


class IgnoreAcceptHeader(DefaultContentNegotiation):
    """A route's one format whatever Accept says: the export's is the file format `?format=`
    names; health's is JSON, also for an uptime checker that asks for text/plain."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class SchemaFormatNegotiation(DefaultContentNegotiation):
    """The schema, alone among the routes, renders YAML or JSON, chosen by `?format=`."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return super().select_renderer(request, renderers, format_suffix or request.query_params.get("format"))

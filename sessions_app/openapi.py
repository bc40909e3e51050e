"""The schema class of every view (DEFAULT_SCHEMA_CLASS).

Apart from schema.py, which DRF imports for its metadata class while drf-spectacular's
AutoSchema is still being imported.
"""
from drf_spectacular.openapi import AutoSchema

from .negotiation import IgnoreAcceptHeader
from .schema import NOT_ACCEPTABLE


class ApiAutoSchema(AutoSchema):
    """drf-spectacular's, and 406 where DRF gives it: on routes that choose what they
    answer in by Accept, which then admits nothing they render."""

    def get_operation(self, *args, **kwargs):
        operation = super().get_operation(*args, **kwargs)
        if operation is not None and not isinstance(self.view.get_content_negotiator(), IgnoreAcceptHeader):
            operation["responses"].setdefault("406", NOT_ACCEPTABLE)
        return operation

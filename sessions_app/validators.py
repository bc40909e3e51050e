import re

from django.core.exceptions import ValidationError

# The keys PocketPaw's channels make ("telegram:123", "!room:matrix.org",
# "19:abc@thread.v2", "+1234567890", ...). Each of these characters is safe in a
# URL path segment, so every valid id works raw or percent-encoded.
SESSION_KEY_PATTERN = re.compile(r"[A-Za-z0-9_\-.:@+!=~]{1,255}")

# Ids that would be shadowed by a route under /api/sessions/.
RESERVED_SESSION_KEYS = frozenset({"search", "bulk-delete"})


def validate_session_key(value: str) -> None:
    if not SESSION_KEY_PATTERN.fullmatch(value):
        raise ValidationError(
            "Session ids are 1-255 characters from letters, digits and _ - . : @ + ! = ~.",
            code="invalid_session_id",
        )
    if value.strip(".") == "":
        # HTTP clients fold "." and ".." away as path segments.
        raise ValidationError("A session id cannot consist of dots only.", code="invalid_session_id")
    if value in RESERVED_SESSION_KEYS:
        raise ValidationError(f"'{value}' is reserved by the API.", code="reserved_session_id")

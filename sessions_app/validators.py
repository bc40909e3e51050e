import math
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


# Deeper JSON than this is refused: Python's json module and Django's JSONField recurse
# once per level, and about 900 levels raised RecursionError on save and in the admin.
MAX_JSON_DEPTH = 100


def validate_storable_json(value) -> None:
    """JSON that every database stores and every response can encode again.

    Refuses what JSON escapes can spell but text columns cannot hold: lone UTF-16
    surrogates (no UTF-8 for them), NUL (PostgreSQL refuses it) and numbers too large
    for a float (they become infinity, which is not JSON); and nesting deeper than
    MAX_JSON_DEPTH.
    """
    pending = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                raise ValidationError("Text cannot contain the NUL character (U+0000).", code="null_characters")
            if not item.isascii():
                try:
                    item.encode("utf-8")
                except UnicodeEncodeError:
                    raise ValidationError(
                        "Text cannot contain lone surrogate characters.", code="surrogate_characters"
                    ) from None
        elif isinstance(item, float) and not math.isfinite(item):
            raise ValidationError("Numbers must be finite.", code="non_finite_number")
        elif isinstance(item, (dict, list)):
            if depth == MAX_JSON_DEPTH:
                raise ValidationError(f"Nested deeper than {MAX_JSON_DEPTH} levels.", code="too_deep")
            children = [*item, *item.values()] if isinstance(item, dict) else item
            pending.extend((child, depth + 1) for child in children)

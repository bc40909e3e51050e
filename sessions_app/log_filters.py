"""Filters for the service's logs."""
import logging


class WithoutQueryString(logging.Filter):
    """Cuts the query string from the request lines Django's development server logs (make run).

    A search's terms are a user's own words, and a line like
    "GET /api/sessions/search?q=... HTTP/1.1" would keep them after the session they
    found is deleted. The service's own request log never writes query strings.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args and isinstance(record.args[0], str):
            request_line, *rest = record.args
            parts = request_line.split(" ")
            if len(parts) == 3 and "?" in parts[1]:
                parts[1] = parts[1].split("?", 1)[0] + "?…"
                record.args = (" ".join(parts), *rest)
        return True

"""The format and filters of the service's logs."""
import logging
import re

QUERY_STRING = re.compile(r"\?\S*")

# One JSON object per line, a traceback inside it: Django's records (settings.LOGGING) and
# gunicorn's own (pocketpaw.gunicorn_conf) alike, so a collector reads standard error line by line.
JSON_FORMATTER = {
    "()": "pythonjsonlogger.json.JsonFormatter",
    "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
}


class WithoutQueryString(logging.Filter):
    """Cuts query strings from the request lines Django's development server logs (make run).

    A search's terms are a user's own words, and a line like
    "GET /api/sessions/search?q=... HTTP/1.1" would keep them after the session they
    found is deleted. Any "?..." up to a space goes, so that a malformed request line
    (four words, or HTTP/0.9's two) loses it too. The service's own request log never
    writes query strings.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args and isinstance(record.args[0], str):
            request_line, *rest = record.args
            record.args = (QUERY_STRING.sub("?…", request_line), *rest)
        return True

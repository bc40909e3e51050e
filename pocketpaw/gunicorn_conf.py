"""gunicorn settings for `make serve`, read from the environment.

Defaults: two worker processes with four threads each. A threaded worker keeps
answering while one thread streams a long export to a slow client or waits for a
half-sent request, and its timeout only checks that the worker is alive, so a long
download is not cut off. But each thread waits for a whole request, so the eight
threads are no defence against a few dozen connections that send their requests
slowly on purpose: clients the operator does not trust reach the service through a
buffering proxy (nginx), and there GUNICORN_THREADS=1 (gunicorn's sync worker)
measured a far shorter tail on SQLite for about as many requests: bench/RESULTS.md, section 6.
"""
import os

from gunicorn.glogging import Logger

from pocketpaw.env import env_int, env_log_level
from sessions_app.log_filters import JSON_FORMATTER

bind = os.environ.get("BIND", "127.0.0.1:8000")
workers = env_int("WEB_CONCURRENCY", 2, minimum=1)
threads = env_int("GUNICORN_THREADS", 4, minimum=1)
timeout = env_int("GUNICORN_TIMEOUT", 30)
graceful_timeout = 20
# Django's request log (pocketpaw.requests) already writes one JSON line per request.
accesslog = None
errorlog = "-"
loglevel = env_log_level("GUNICORN_LOG_LEVEL", "INFO")
# gunicorn's own lines (starting, workers booting and exiting) in the JSON Django's have.
logconfig_dict = {
    "root": {"level": "INFO", "handlers": ["json_stderr"]},
    "loggers": {
        # Not propagated: Django points the root logger at standard error too; each line twice.
        "gunicorn.error": {
            "level": loglevel,
            "handlers": ["json_stderr"],
            "propagate": False,
        },
    },
    "handlers": {
        "json_stderr": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"},
    },
    "formatters": {"json": JSON_FORMATTER},
}


class LoggerWithoutAccessLog(Logger):
    """gunicorn's logger, its access log off as `accesslog = None` says.

    A logging config (logconfig_dict) turns the access log on, and gunicorn would then build
    a line for every request (23 µs measured) that no handler writes. pocketpaw.requests
    logs each request, without its query string (a search's words).
    """

    access_log_enabled = False


logger_class = LoggerWithoutAccessLog

# The workers share the code loaded once in the master.
preload_app = True
# No control socket (gunicornc): by default it is one path in $HOME for every gunicorn the
# account runs, so a second server took the first's over, and stopping either removed it.
# The service is managed with signals (HUP, TERM), as a process manager sends them.
control_socket_disable = True
# Room for the longest request line a valid request has: a search for 500 characters of four
# UTF-8 bytes each, percent-encoded, is about 6,050 bytes, which gunicorn's default (4094)
# refused with an HTML 414. 8190 is the most gunicorn allows.
limit_request_line = 8190

# gunicorn reads less than this much of a body the application left unread (an answer given
# before the body was needed: 401, 404, 405, 413, 429...) and then drops the connection, after
# an answer that said "keep-alive": a client sending its next request on it got a connection
# error instead of an answer. Bodies this large, or of unknown size, are answered
# "Connection: close" instead, so clients open a new connection for the next request.
# (tests/test_server.py checks it against gunicorn's own cap.)
UNREAD_BODY_DRAINED_BYTES = 64 * 1024


def pre_request(worker, req):
    # gunicorn has refused a Content-Length that is not one whole number before this runs.
    lengths = [value for name, value in req.headers if name == "CONTENT-LENGTH"]
    chunked = any(name == "TRANSFER-ENCODING" for name, _ in req.headers)
    if chunked or (lengths and int(lengths[0]) >= UNREAD_BODY_DRAINED_BYTES):
        req.force_close()

"""gunicorn settings for `make serve`, read from the environment.

Defaults suit a small machine: two worker processes with a few threads each
(the work is mostly waiting on the database).
"""
import os

bind = os.environ.get("BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 20
# Django's request log (pocketpaw.requests) already writes one JSON line per request.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
# The workers share the code loaded once in the master.
preload_app = True

"""gunicorn settings for `make serve`, read from the environment.

Defaults: two worker processes with four threads each. A threaded worker keeps
answering while one thread streams a long export to a slow client or waits for a
half-sent request, and its timeout only checks that the worker is alive, so a long
download is not cut off. But each thread waits for a whole request, so the eight
threads are no defence against a few dozen connections that send their requests
slowly on purpose: clients the operator does not trust reach the service through a
buffering proxy (nginx), and there GUNICORN_THREADS=1 (gunicorn's sync worker)
measured faster on SQLite: bench/RESULTS.md, section 6.
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

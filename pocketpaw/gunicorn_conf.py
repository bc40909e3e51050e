"""gunicorn settings for `make serve`, read from the environment.

Defaults suit a small machine: two worker processes of one thread each. Threads
measured worse on both databases (bench/RESULTS.md, section 6): a thread holding
SQLite's write lock waits for the interpreter lock while its siblings run, the
writers queued behind it back off in sleeps of up to 100 ms, and the slowest
writes took seconds; on PostgreSQL the worker's CPU is the limit, and threads
only share it. With one thread gunicorn runs its sync worker, which closes each
connection after the response: put a buffering proxy in front (nginx is one).
"""
import os

bind = os.environ.get("BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 20
# Django's request log (pocketpaw.requests) already writes one JSON line per request.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
# The workers share the code loaded once in the master.
preload_app = True

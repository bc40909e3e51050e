"""Settings for the test suite: the production settings, with test-only secrets.

DATABASE_URL still comes from the environment, so the same suite runs on
SQLite (the default) and on PostgreSQL.
"""
import os

os.environ.setdefault("DJANGO_DEBUG", "0")
os.environ.setdefault("DJANGO_SECRET_KEY", "tests-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz")
os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")

from pocketpaw.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    import tempfile
    from pathlib import Path

    # A file rather than Django's default in-memory test database, which the live
    # server would share as one connection across its threads: the concurrency
    # tests need real connections with WAL and the busy timeout, as in production.
    # One file per run, so that two runs side by side do not delete each other's.
    DATABASES["default"]["TEST"] = {  # noqa: F405
        "NAME": str(Path(tempfile.gettempdir()) / f"pocketpaw-test-{os.getpid()}.sqlite3")
    }

# Static files straight from the apps, as under runserver: the suite runs without collectstatic.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True

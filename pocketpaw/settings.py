"""Settings for the PocketPaw sessions service.

Everything that differs between a laptop and a server is read from the
environment here (gunicorn's own settings in gunicorn_conf.py), through the
readers of pocketpaw/env.py. The defaults are safe: DEBUG is off, and with
DEBUG off the service refuses to start without a real secret key and an
explicit host list. `make run` turns DEBUG on for local development.
"""
import os
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
from corsheaders.defaults import default_headers as corsheaders_default_headers
from django.core.exceptions import ImproperlyConfigured

from pocketpaw.env import env_bool, env_int, env_list, env_log_level, env_rate
from sessions_app.log_filters import JSON_FORMATTER

BASE_DIR = Path(__file__).resolve().parent.parent


def development_secret_key(path: Path) -> str:
    """A random key made on the first start and kept in a git-ignored file.

    A key written in the code would let anyone who reaches a development server (make run
    HOST=0.0.0.0) sign tokens for any of its users.
    """
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    draft = path.with_name(f"{path.name}.{os.getpid()}")
    draft.write_text(secrets.token_urlsafe(50))
    draft.chmod(0o600)
    try:
        # A link is created whole or not at all: two processes starting at once keep the first key.
        os.link(draft, path)
    except FileExistsError:
        pass
    finally:
        draft.unlink()
    return path.read_text().strip()


DEBUG = env_bool("DJANGO_DEBUG", False)

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is not set. With DJANGO_DEBUG off the service needs a real "
            "secret key (it signs the API's tokens): set DJANGO_SECRET_KEY to a long random "
            "string, or set DJANGO_DEBUG=1 for local development."
        )
    SECRET_KEY = development_secret_key(BASE_DIR / ".dev-secret-key")

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", [])
if not ALLOWED_HOSTS:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_ALLOWED_HOSTS is not set. With DJANGO_DEBUG off, list the host names "
            "this service answers to, comma-separated (e.g. DJANGO_ALLOWED_HOSTS=api.example.com)."
        )
    ALLOWED_HOSTS = ["localhost", "127.0.0.1", "[::1]"]

INSTALLED_APPS = [
    "sessions_app.apps.AdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt",
    "rest_framework_simplejwt.token_blacklist",
    "corsheaders",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "sessions_app",
]

MIDDLEWARE = [
    "sessions_app.middleware.RequestLogMiddleware",
    # Outside every middleware that may answer on its own, so their answers get it too.
    "sessions_app.middleware.ApiNoStoreMiddleware",
    # Outside CommonMiddleware, which sets Content-Length from the body it removes.
    "sessions_app.middleware.HeadWithoutBodyMiddleware",
    # Django's own, so `check --deploy` audits it; the health route is exempt below.
    "django.middleware.security.SecurityMiddleware",
    # Serves the admin's and Swagger UI's static files under gunicorn, without a web server.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    # Before anything reads the body; after CORS, so browsers can read its 413 and 411.
    "sessions_app.middleware.RequestBodyLimitMiddleware",
    "sessions_app.middleware.NulCharacterMiddleware",
    # Before the CSRF check reads a form: see the class.
    "sessions_app.middleware.FormCharsetMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # Django's, letting health probes through whatever Host they name: see the class.
    "sessions_app.middleware.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, so that its process_exception sees a view's exception first.
    "sessions_app.api_errors.DatabaseBusyMiddleware",
]

ROOT_URLCONF = "pocketpaw.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "pocketpaw.wsgi.application"

# Lower case, so not a setting: Django's debug page would show its password.
database_url = os.environ.get("DATABASE_URL", "").strip() or f"sqlite:///{BASE_DIR / 'db.sqlite3'}"
try:
    DATABASES = {
        "default": dj_database_url.parse(
            database_url,
            # Each thread keeps its connection for the next request: opening one per request
            # cost PostgreSQL two thirds of its throughput (bench/RESULTS-postgres.md).
            conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
            conn_health_checks=True,
        )
    }
except ValueError as error:
    # Its words name the fault (the scheme, the port); the URL is not repeated: it holds the password.
    raise ImproperlyConfigured(f"DATABASE_URL cannot be read: {error}") from None
# How long a statement waits for a lock another transaction holds before it fails, which
# the API answers with 503 and Retry-After: SQLite's busy timeout, and on PostgreSQL the
# lock_timeout each connection gets unless one is set already (sessions_app/database.py).
DATABASE_LOCK_WAIT_SECONDS = 20

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            # WAL lets readers go on while one request writes; IMMEDIATE takes the
            # write lock at BEGIN so two writers queue on the timeout instead of
            # failing with "database is locked" when a read lock is upgraded.
            # secure_delete zeroes deleted rows and freed pages (sessions_app/storage.py).
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA secure_delete=ON;"
            ),
            "transaction_mode": "IMMEDIATE",
            "timeout": DATABASE_LOCK_WAIT_SECONDS,
        }
    )

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# Behind TLS in production; see "Production" in the README for the values to set.
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", False)
# The health route's paths, from the site's root; SECURE_REDIRECT_EXEMPT searches the full
# path, which carries any SCRIPT_NAME prefix. A load balancer probes the backend directly,
# at its own address and over plain HTTP, and reads a 301 or a 400 as down: so no HTTPS
# redirect here, and no Host check in sessions_app.middleware.CommonMiddleware.
HEALTH_PATH_PATTERN = r"api/(?:v1/)?health/?\Z"
SECURE_REDIRECT_EXEMPT = [rf"(?:^|/){HEALTH_PATH_PATTERN}"]
SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("DJANGO_SECURE_HSTS_PRELOAD", False)
if env_bool("DJANGO_BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Every route of the API needs a bearer token unless a view says otherwise.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "sessions_app.authentication.BearerTokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
    ],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["sessions_app.parsers.JSONParser"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "sessions_app.negotiation.AcceptWithQualities",
    "DEFAULT_THROTTLE_CLASSES": ["sessions_app.throttles.UserThrottle"],
    # Behind N proxies, the client address is the Nth from the right in
    # X-Forwarded-For; with 0 the header is ignored, so clients cannot forge it.
    "NUM_PROXIES": env_int("DJANGO_NUM_PROXIES", 0),
    "EXCEPTION_HANDLER": "sessions_app.api_errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "sessions_app.openapi.ApiAutoSchema",
    "DEFAULT_METADATA_CLASS": "sessions_app.schema.RouteMetadata",
    # Every route but the schema renders JSON alone, so DRF's `?format=` renderer override
    # could only turn a request into a 404 (a DELETE with ?format=xml said "Not found." and
    # kept the session). The export reads `format` as its file format; the schema view
    # reads it itself (sessions_app.negotiation.SchemaFormatNegotiation).
    "URL_FORMAT_OVERRIDE": None,
}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env_int("JWT_ACCESS_MINUTES", 15, minimum=1)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env_int("JWT_REFRESH_DAYS", 1, minimum=1)),
    "ALGORITHM": "HS256",
    "SIGNING_KEY": SECRET_KEY,
    "AUTH_HEADER_TYPES": ("Bearer",),
    "UPDATE_LAST_LOGIN": False,
    # Each refresh hands out a new refresh token and revokes the one used.
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    # Tokens carry a hash of the user's password hash: a new password ends every token
    # issued before it (the refresh serializer checks it too, which SimpleJWT's does not).
    "CHECK_REVOKE_TOKEN": True,
    # SimpleJWT's tokens, refusing claims of the wrong type with a 401 (see the module).
    "AUTH_TOKEN_CLASSES": ("sessions_app.tokens.AccessToken",),
    "TOKEN_REFRESH_SERIALIZER": "sessions_app.serializers.TokenRefreshSerializer",
    "TOKEN_VERIFY_SERIALIZER": "sessions_app.serializers.TokenVerifySerializer",
    "TOKEN_BLACKLIST_SERIALIZER": "sessions_app.serializers.TokenBlacklistSerializer",
}

# Requests per period ("N/second|minute|hour|day"); over it, 429 with Retry-After.
# The login limits guard passwords, so every worker and host must count together: in the
# database (the table is made by sessions_app's migration 0006: a new LOCATION needs a
# migration that runs createcachetable again). The per-user API limit stays
# in each process's memory, where counting costs no database write per request.
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "login_throttle": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "sessions_app_login_throttle",
        # Each write counts the table, and expired entries are removed only once it holds
        # more than this; live ones only if more keys than this were tried in one period.
        "OPTIONS": {"MAX_ENTRIES": 10_000},
    },
}
API_THROTTLE_RATES = {
    "login_address": env_rate("THROTTLE_LOGIN_ADDRESS", "30/minute"),
    "login_username": env_rate("THROTTLE_LOGIN_USERNAME", "10/minute"),
    "user": env_rate("THROTTLE_USER", "3000/minute"),
}

# The longest message a client may append, in characters.
SESSIONS_MESSAGE_MAX_LENGTH = env_int("SESSIONS_MESSAGE_MAX_LENGTH", 100_000, minimum=1)
# The largest request body accepted; larger ones get 413 (RequestBodyLimitMiddleware).
# By default room for the longest message however a client's JSON library writes it:
# escaped as \ud83d\ude00 (Python's json does by default), an emoji takes 12 bytes. And 64 KiB
# for the metadata and the rest, or 1 MiB if that is more.
API_MAX_BODY_BYTES = env_int(
    "API_MAX_BODY_BYTES", max(1024 * 1024, 12 * SESSIONS_MESSAGE_MAX_LENGTH + 64 * 1024), minimum=1
)
# A search still running after this long is stopped and answered 503 (search.time_limited).
SEARCH_TIME_LIMIT_SECONDS = env_int("SEARCH_TIME_LIMIT_SECONDS", 5, minimum=1)
# Django's own limit, which would answer an HTML 400, kept from refusing what the API takes.
DATA_UPLOAD_MAX_MEMORY_SIZE = API_MAX_BODY_BYTES
# The admin's "delete selected" confirmation posts a field per object: room for
# sessions_app.admin_site.DELETE_SELECTED_LIMIT of them and the form's own fields.
DATA_UPLOAD_MAX_NUMBER_FIELDS = 10_010

# Browser clients such as PocketPaw's web dashboard on another origin; none by default.
CORS_ALLOWED_ORIGINS = env_list("DJANGO_CORS_ALLOWED_ORIGINS", [])
# The API's paths, relative to the site's root. CORS, the JSON error pages and the catch-all 404
# all read this one pattern. [\s\S], not ".": a path may hold a newline (%0A).
API_PATH_PATTERN = r"api(?:/[\s\S]*)?\Z"
CORS_URLS_REGEX = rf"^/{API_PATH_PATTERN}"
# Headers a browser client may read besides the basic ones: the export's file name, how long
# to wait after a 429 or 503, and whether an append's answer is an earlier one's message.
CORS_EXPOSE_HEADERS = ["Content-Disposition", "Retry-After", "Idempotent-Replayed"]
# And may send besides the basic ones: an append's Idempotency-Key.
CORS_ALLOW_HEADERS = (*corsheaders_default_headers, "idempotency-key")

# The API's one version. The schema view states it too (sessions_app/urls.py), so that
# no ?version= is read.
API_VERSION = "1.0.0"
SPECTACULAR_SETTINGS = {
    "TITLE": "PocketPaw sessions API",
    "DESCRIPTION": "Sessions and messages of PocketPaw conversations, behind bearer tokens.",
    "VERSION": API_VERSION,
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI's files ship with the service instead of coming from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {"MessageRoleEnum": "sessions_app.models.Message.Role"},
    "PREPROCESSING_HOOKS": ["sessions_app.schema.only_unversioned_paths"],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "sessions_app.schema.document_common_responses",
        "sessions_app.schema.state_the_api_version",
    ],
}

# Retention policy: sessions idle for longer than this many days are deleted by
# `manage.py delete_session --retention` (run it from cron). Unset: kept forever.
SESSION_RETENTION_DAYS = env_int("SESSION_RETENTION_DAYS", 0) or None

LOG_LEVEL = env_log_level("DJANGO_LOG_LEVEL", "INFO")
# One JSON line per request on the "pocketpaw.requests" logger: method, path,
# status, duration and user id. Never a body, so no message text reaches a log.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": JSON_FORMATTER,
        # Django's own format for its development server's lines.
        "django.server": {"()": "django.utils.log.ServerFormatter", "format": "[{server_time}] {message}", "style": "{"},
    },
    "filters": {"without_query_string": {"()": "sessions_app.log_filters.WithoutQueryString"}},
    "handlers": {
        # Readable text for make run; in production every record is JSON, like the request lines.
        "console": {"class": "logging.StreamHandler", **({} if DEBUG else {"formatter": "json"})},
        "json_console": {"class": "logging.StreamHandler", "formatter": "json"},
        "django.server": {"class": "logging.StreamHandler", "formatter": "django.server"},
    },
    "loggers": {
        "pocketpaw.requests": {"handlers": ["json_console"], "level": "INFO", "propagate": False},
        # make run's request lines, without the search terms a query string holds.
        "django.server": {
            "handlers": ["django.server"],
            "filters": ["without_query_string"],
            "level": "INFO",
            "propagate": False,
        },
        # Replaces Django's default, whose own console handler (debug only) printed
        # make run's lines twice; its records reach the root's handler instead.
        "django": {"handlers": [], "level": LOG_LEVEL},
        # The request log above already records every 4xx/5xx.
        "django.request": {"handlers": ["console"], "level": "ERROR", "propagate": False},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
}

"""Production footing: refusing unsafe settings, the deploy checklist, health and request logs."""
import json
import logging
import logging.config
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import quote
from unittest import mock

import pytest
from django.core.servers.basehttp import WSGIRequestHandler
from django.db import OperationalError, connection
from django.http import StreamingHttpResponse

from sessions_app.middleware import HeadWithoutBodyMiddleware

from .factories import SessionFactory

PROJECT = Path(__file__).resolve().parent.parent

# What the README's "Production" section tells an operator to set.
PRODUCTION_ENV = {
    "DJANGO_DEBUG": "0",
    "DJANGO_SECRET_KEY": "k7#Pq9$wL2@xZ8!mN4^vB6&cR1*tY5%hJ3(gF0)dS-aQ_eW+uI=oP~lK",
    "DJANGO_ALLOWED_HOSTS": "sessions.example.com",
    "DJANGO_SECURE_SSL_REDIRECT": "1",
    "DJANGO_SECURE_HSTS_SECONDS": "31536000",
    "DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS": "1",
    "DJANGO_SECURE_HSTS_PRELOAD": "1",
    "DJANGO_BEHIND_TLS_PROXY": "1",
}


def manage(*args, env_overrides=None, drop=()):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_") and k not in drop}
    env.update(env_overrides or {})
    env["DJANGO_SETTINGS_MODULE"] = "pocketpaw.settings"
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=PROJECT, env=env, capture_output=True, text=True
    )


def test_debug_off_without_a_secret_key_refuses_to_start():
    result = manage("check", env_overrides={"DJANGO_DEBUG": "0", "DJANGO_ALLOWED_HOSTS": "x"})
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is not set" in result.stderr


def test_a_setting_wrong_in_the_environment_is_one_line_on_stderr_and_exit_1():
    # What a cron job mails: not a traceback.
    result = manage("delete_session", "--retention", "--noinput", env_overrides={"DJANGO_DEBUG": "1", "SESSION_RETENTION_DAYS": "abc"})
    assert (result.returncode, result.stderr) == (
        1,
        "Configuration error: SESSION_RETENTION_DAYS must be an integer, got 'abc'.\n",
    )


def started_with(**env) -> tuple[int, str]:
    """`manage.py check` with these variables: its exit status and standard error."""
    result = manage("check", env_overrides={"DJANGO_DEBUG": "1", **env})
    return result.returncode, result.stderr


def test_a_negative_number_of_proxies_is_refused_in_one_line():
    # DRF would take a client-written entry of X-Forwarded-For for the address to rate-limit.
    assert started_with(DJANGO_NUM_PROXIES="-1") == (
        1,
        "Configuration error: DJANGO_NUM_PROXIES must be 0 or more, got '-1'.\n",
    )


def test_a_token_lifetime_of_zero_is_refused_in_one_line():
    assert started_with(JWT_ACCESS_MINUTES="0") == (
        1,
        "Configuration error: JWT_ACCESS_MINUTES must be 1 or more, got '0'.\n",
    )


def test_a_rate_limit_the_throttles_cannot_read_is_one_line_on_stderr_and_exit_1():
    # It used to start, then answer every request the limit applies to with a 500.
    assert started_with(THROTTLE_USER="3000 per minute") == (
        1,
        "Configuration error: THROTTLE_USER must be a number of requests per second, minute, hour or day, "
        "such as '30/minute', got '3000 per minute'.\n",
    )


@pytest.mark.parametrize("rate", ["5/hour", "5/hr", "5 /h"])
def test_a_rate_limit_in_any_form_the_throttles_read_is_the_one_applied(rate):
    # DRF reads only the period's first letter; deployments written that way kept starting.
    program = "from django.conf import settings; print(settings.API_THROTTLE_RATES['login_username'])"
    assert printed_in_production(program, THROTTLE_LOGIN_USERNAME=rate) == rate


def test_an_on_or_off_setting_misspelt_is_one_line_on_stderr_and_exit_1():
    # It used to be read as off: a misspelt HTTPS redirect was silently not made.
    assert started_with(DJANGO_SECURE_SSL_REDIRECT="ture") == (
        1,
        "Configuration error: DJANGO_SECURE_SSL_REDIRECT must be 1 or 0 (true/false, yes/no, on/off), got 'ture'.\n",
    )


@pytest.mark.parametrize(
    ("spelling", "read_as"),
    [("1", "True"), ("True", "True"), ("YES", "True"), ("on", "True")]
    + [("0", "False"), ("false", "False"), ("No", "False"), ("off", "False")],
)
def test_an_on_or_off_setting_reads_each_spelling(spelling, read_as):
    program = "from django.conf import settings; print(settings.SECURE_HSTS_PRELOAD)"
    assert printed_in_production(program, DJANGO_SECURE_HSTS_PRELOAD=spelling) == read_as


def test_a_database_url_that_cannot_be_read_is_one_line_on_stderr_without_its_password():
    status, stderr = started_with(DATABASE_URL="postgress://app:s3cret-pw@db/app")
    assert (status, stderr.count("\n"), "s3cret-pw" in stderr) == (1, 1, False)
    assert stderr.startswith("Configuration error: DATABASE_URL cannot be read: ")


def test_an_empty_database_url_is_the_default_database():
    program = "from django.conf import settings; print(settings.DATABASES['default']['NAME'])"
    assert printed_in_production(program, DATABASE_URL="") == str(PROJECT / "db.sqlite3")


def test_an_unknown_log_level_is_one_line_on_stderr_and_exit_1():
    assert started_with(DJANGO_LOG_LEVEL="loud") == (
        1,
        "Configuration error: DJANGO_LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, got 'loud'.\n",
    )


@pytest.mark.parametrize(("name", "level"), [("error", logging.ERROR), ("FATAL", logging.CRITICAL)])
def test_a_log_level_in_either_case_or_its_other_name_sets_the_level(name, level):
    # Python's logging refused "error" with a traceback. The settings are read first: a shell
    # whose settings failed to load still runs, with logging's own default level.
    program = "from django.conf import settings; settings.LOGGING; import logging; print(logging.getLogger().level)"
    assert printed_in_production(program, DJANGO_LOG_LEVEL=name) == str(level)


def djangos_lines_written(level: str, debug: str) -> list[str]:
    """What a warning and an error logged by Django leave on standard error."""
    program = (
        "from django.conf import settings; settings.LOGGING; "
        "import logging; probe = logging.getLogger('django.security.Probe'); "
        "probe.warning('probe warning'); probe.error('probe error')"
    )
    env = {**PRODUCTION_ENV, "DJANGO_DEBUG": debug, "DJANGO_LOG_LEVEL": level}
    result = manage("shell", "-c", program, env_overrides=env)
    assert result.returncode == 0, result.stderr
    return [line for line in result.stderr.splitlines() if "probe" in line]


def test_the_log_level_applies_to_djangos_own_lines():
    assert ["probe error" in line for line in djangos_lines_written("ERROR", debug="0")] == [True]


def test_make_run_writes_each_of_djangos_lines_once():
    # Django's default config gave its lines a console handler of their own when debugging.
    assert len(djangos_lines_written("INFO", debug="1")) == 2


def test_traceback_still_shows_where_a_setting_was_refused():
    result = manage("check", "--traceback", env_overrides={"DJANGO_DEBUG": "1", "SESSION_RETENTION_DAYS": "abc"})
    assert "Traceback" in result.stderr


def test_debug_off_without_allowed_hosts_refuses_to_start():
    result = manage("check", env_overrides={"DJANGO_DEBUG": "0", "DJANGO_SECRET_KEY": "x" * 60})
    assert result.returncode != 0
    assert "DJANGO_ALLOWED_HOSTS is not set" in result.stderr


def development_key() -> str:
    result = manage(
        "shell",
        "--no-imports",
        "-c",
        "from django.conf import settings; print(settings.SECRET_KEY)",
        env_overrides={"DJANGO_DEBUG": "1"},
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_debug_without_a_secret_key_signs_with_a_random_key_kept_for_the_next_start():
    first, second = development_key(), development_key()
    assert first == second
    assert len(first) >= 50
    assert first != "django-insecure-local-development-key-do-not-use-in-production"
    assert (PROJECT / ".dev-secret-key").stat().st_mode & 0o077 == 0


def test_check_deploy_passes_with_the_documented_production_settings():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env_overrides=PRODUCTION_ENV)
    assert result.returncode == 0, result.stderr


def printed_in_production(program: str, *, drop=(), **env) -> str:
    """The last line `program` prints in `manage.py shell`, run with the production settings and
    `env`, and without the variables named in `drop`."""
    result = manage("shell", "-c", program, env_overrides={**PRODUCTION_ENV, **env}, drop=drop)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def connection_reuse(**env) -> str:
    return printed_in_production(
        "from django.db import connection as c; "
        "print(c.settings_dict['CONN_MAX_AGE'], c.settings_dict['CONN_HEALTH_CHECKS'])",
        **env,
    )


def test_loading_the_wsgi_application_imports_the_views_without_connecting_to_the_database():
    # gunicorn loads pocketpaw.wsgi once in its master and forks the workers from it:
    # the views should be loaded there, and no connection opened to be shared by the forks.
    probe = (
        "import sys; from django.db import connections; import pocketpaw.wsgi; "
        "print('sessions_app.apis' in sys.modules, connections['default'].connection is None)"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env.update(PRODUCTION_ENV, DJANGO_SETTINGS_MODULE="pocketpaw.settings")
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=PROJECT, env=env, capture_output=True, text=True
    )
    assert result.stdout.split() == ["True", "True"], result.stderr


def test_database_connections_are_kept_for_60_seconds_and_checked_before_reuse_by_default():
    assert connection_reuse() == "60 True"


def test_database_conn_max_age_0_opens_a_connection_per_request():
    assert connection_reuse(DATABASE_CONN_MAX_AGE="0") == "0 True"


postgresql_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's lock_timeout")


def postgresql_setting(name: str, *, url_options: str = "", **env) -> str:
    """The setting a new connection of the service has, on the suite's PostgreSQL server."""
    url = os.environ["DATABASE_URL"] + (f"?options={quote(url_options)}" if url_options else "")
    result = manage(
        "shell",
        "-c",
        f"from django.db import connection as c; cursor = c.cursor(); cursor.execute('SHOW {name}'); "
        "print(cursor.fetchone()[0])",
        env_overrides={"DJANGO_DEBUG": "1", "DATABASE_URL": url, **env},
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


@postgresql_only
def test_postgresql_connections_wait_20_seconds_for_a_lock_as_sqlite_does(db):
    assert postgresql_setting("lock_timeout") == "20s"


@postgresql_only
def test_a_lock_timeout_in_database_url_is_kept(db):
    assert postgresql_setting("lock_timeout", url_options="-c lock_timeout=5s") == "5s"


@postgresql_only
def test_a_lock_timeout_in_pgoptions_is_kept(db):
    assert postgresql_setting("lock_timeout", PGOPTIONS="-c lock_timeout=7s") == "7s"


@postgresql_only
def test_other_settings_in_pgoptions_are_kept_beside_the_lock_timeout(db):
    assert postgresql_setting("statement_timeout", PGOPTIONS="-c statement_timeout=7s") == "7s"


def cookie_security(**env) -> str:
    return printed_in_production(
        "from django.conf import settings as s; print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE)", **env
    )


def test_admin_cookies_are_https_only_with_debug_off():
    assert cookie_security() == "True True"


@pytest.mark.parametrize("on", ["1", "true", "yes", "on", "ON"])
def test_an_on_off_variable_is_on_for_each_spelling_of_yes(on):
    assert cookie_security(DJANGO_DEBUG="1", DJANGO_SECURE_COOKIES=on) == "True True"


def status_of_a_request_forwarded_as_https(**env) -> str:
    return printed_in_production(
        "from django.test import Client; print(Client().get('/api/sessions', "
        "HTTP_HOST='sessions.example.com', HTTP_X_FORWARDED_PROTO='https').status_code)",
        **env,
    )


def test_behind_a_tls_proxy_a_request_it_forwarded_as_https_is_not_redirected():
    assert status_of_a_request_forwarded_as_https() == "401"


def test_without_the_tls_proxy_setting_a_forwarded_proto_header_is_not_believed():
    assert status_of_a_request_forwarded_as_https(DJANGO_BEHIND_TLS_PROXY="0") == "301"


def test_django_secure_cookies_0_lets_the_admin_cookies_travel_over_http():
    assert cookie_security(DJANGO_SECURE_COOKIES="0") == "False False"


def test_health_answers_200_whatever_authorization_header_a_probe_sends(api_client, db):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    assert api_client.get("/api/health").status_code == 200


def test_health_answers_200_without_a_token(api_client, db):
    response = api_client.get("/api/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


@pytest.mark.parametrize("path", ["/api/health", "/api/v1/health/"])
def test_health_answers_over_plain_http_when_https_is_enforced(api_client, db, settings, path):
    settings.SECURE_SSL_REDIRECT = True
    assert api_client.get(path).status_code == 200


@pytest.mark.parametrize("path", ["/api/health", "/api/v1/health/"])
@pytest.mark.parametrize("method", ["get", "head"])
def test_health_answers_a_probe_addressed_to_the_backends_own_address(api_client, db, settings, path, method):
    # A load balancer or Kubernetes probes the backend at its address, not a listed host name.
    settings.ALLOWED_HOSTS = ["sessions.example.com"]
    response = getattr(api_client, method)(path, HTTP_HOST="10.0.0.5:8000")
    assert response.status_code == 200


def test_health_over_an_unlisted_host_is_not_logged_as_a_disallowed_host(api_client, db, settings, caplog):
    settings.ALLOWED_HOSTS = ["sessions.example.com"]
    api_client.get("/api/health", HTTP_HOST="10.0.0.5:8000")
    assert not [r for r in caplog.records if r.name == "django.security.DisallowedHost"]


@pytest.mark.parametrize("path", ["/api/sessions", "/admin/api/health"])
def test_other_routes_still_refuse_an_unlisted_host(auth_client, settings, path):
    settings.ALLOWED_HOSTS = ["sessions.example.com"]
    assert auth_client.get(path, HTTP_HOST="10.0.0.5:8000").status_code == 400


@pytest.mark.parametrize("method", ["post", "delete"])
def test_health_refuses_an_unlisted_host_for_anything_but_a_probe(api_client, db, settings, method):
    settings.ALLOWED_HOSTS = ["sessions.example.com"]
    assert getattr(api_client, method)("/api/health", HTTP_HOST="10.0.0.5:8000").status_code == 400


def test_health_answers_over_plain_http_under_a_path_prefix_when_https_is_enforced(api_client, db, settings):
    settings.SECURE_SSL_REDIRECT = True
    assert api_client.get("/api/health", SCRIPT_NAME="/pocketpaw").status_code == 200


def test_other_routes_are_redirected_to_https_when_it_is_enforced(api_client, db, settings):
    settings.SECURE_SSL_REDIRECT = True
    response = api_client.get("/api/sessions")
    assert (response.status_code, response["Location"]) == (301, "https://testserver/api/sessions")


def test_a_session_named_health_is_still_redirected_to_https(api_client, db, settings):
    settings.SECURE_SSL_REDIRECT = True
    assert api_client.get("/api/sessions/health").status_code == 301


def test_health_answers_json_to_a_checker_that_asks_for_text(api_client, db):
    response = api_client.get("/api/health", HTTP_ACCEPT="text/plain")
    assert (response.status_code, response.json()) == (200, {"status": "ok", "database": "ok"})


def test_health_answers_503_when_the_database_is_unreachable(api_client, db):
    with mock.patch.object(connection, "cursor", side_effect=OperationalError("down")):
        response = api_client.get("/api/health")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "unreachable"}


class RecordsKept(logging.Handler):
    def __init__(self):
        super().__init__()
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


@pytest.mark.parametrize(
    "request_line, logged",
    [
        ("GET /api/sessions/search?q=my+secret+plans HTTP/1.1", "GET /api/sessions/search?… HTTP/1.1"),
        ("GET /api/sessions/search?q=my+secret HTTP/1.1 x", "GET /api/sessions/search?… HTTP/1.1 x"),
        ("GET /api/sessions/search?q=my+secret", "GET /api/sessions/search?…"),
    ],
    ids=["well-formed", "four words", "HTTP/0.9"],
)
def test_the_development_servers_request_lines_keep_no_search_terms(request_line, logged):
    # What runserver (make run) logs for each request, through Django's own method.
    kept = RecordsKept()
    logging.getLogger("django.server").addHandler(kept)
    server = SimpleNamespace(request=None, log_date_time_string=lambda: "02/Dec/2026 16:00:00")
    try:
        WSGIRequestHandler.log_message(server, '"%s" %s %s', request_line, "200", "213")
    finally:
        logging.getLogger("django.server").removeHandler(kept)
    assert kept.lines == [f'"{logged}" 200 213']


def test_each_request_is_logged_as_one_structured_line(auth_client, user, caplog):
    SessionFactory(owner=user, key="s1")
    with caplog.at_level(logging.INFO, logger="pocketpaw.requests"):
        auth_client.delete("/api/sessions/s1")
    (record,) = [r for r in caplog.records if r.name == "pocketpaw.requests"]
    assert (record.method, record.path, record.status, record.user_id) == (
        "DELETE",
        "/api/sessions/s1",
        200,
        user.pk,
    )
    assert record.duration_ms >= 0


def test_the_request_log_records_the_status_answered(auth_client, user, caplog):
    with caplog.at_level(logging.INFO, logger="pocketpaw.requests"):
        auth_client.get("/api/sessions/nope")
    (record,) = [r for r in caplog.records if r.name == "pocketpaw.requests"]
    assert record.status == 404


def test_request_log_lines_are_json(api_client, db, caplog, settings):
    with caplog.at_level(logging.INFO, logger="pocketpaw.requests"):
        api_client.get("/api/health")
    (record,) = [r for r in caplog.records if r.name == "pocketpaw.requests"]
    handler_name = settings.LOGGING["loggers"]["pocketpaw.requests"]["handlers"][0]
    formatter_name = settings.LOGGING["handlers"][handler_name]["formatter"]
    formatter = logging.config.DictConfigurator(settings.LOGGING).configure_formatter(
        settings.LOGGING["formatters"][formatter_name]
    )
    line = json.loads(formatter.format(record))
    assert (line["message"], line["method"], line["path"], line["status"]) == (
        "request",
        "GET",
        "/api/health",
        200,
    )


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's journal settings")
def test_sqlite_runs_in_wal_mode_with_a_busy_timeout_and_secure_delete(db):
    with connection.cursor() as cursor:
        settings_in_force = {}
        for pragma in ["journal_mode", "busy_timeout", "secure_delete"]:
            cursor.execute(f"PRAGMA {pragma}")
            settings_in_force[pragma] = cursor.fetchone()[0]
    assert settings_in_force == {"journal_mode": "wal", "busy_timeout": 20000, "secure_delete": 1}


def migrated_database(tmp_path) -> dict:
    """The environment of a new SQLite database in tmp_path, migrated by `manage.py migrate` alone."""
    env = {"DJANGO_DEBUG": "1", "DATABASE_URL": f"sqlite:///{tmp_path / 'new.sqlite3'}"}
    result = manage("migrate", "--noinput", env_overrides=env)
    assert result.returncode == 0, result.stderr
    return env


def test_migrate_alone_readies_a_new_database_for_logins(tmp_path):
    env = migrated_database(tmp_path)
    # A wrong password is counted against the login limits, in their table, then refused.
    login = (
        "from django.test import Client; "
        "print(Client(HTTP_HOST='localhost').post('/api/auth/token', {'username': 'x', 'password': 'y'}, "
        "content_type='application/json').status_code)"
    )
    result = manage("shell", "-c", login, env_overrides=env)
    assert result.stdout.strip().splitlines()[-1:] == ["401"], result.stderr


def test_a_head_answer_streams_nothing_of_a_streamed_body(rf):
    produced = []

    def body():
        produced.append("a chunk")
        yield b"a chunk"

    middleware = HeadWithoutBodyMiddleware(lambda request: StreamingHttpResponse(body()))
    response = middleware(rf.head("/api/sessions/s1/export"))
    assert (list(response.streaming_content), produced) == ([], [])


# Each variable of the README's configuration table with a plain default, and how the running
# service shows that default, written as the table writes it.
DOCUMENTED_DEFAULTS = {
    "DATABASE_CONN_MAX_AGE": "str(settings.DATABASES['default']['CONN_MAX_AGE'])",
    "DJANGO_LOG_LEVEL": "settings.LOG_LEVEL",
    "JWT_ACCESS_MINUTES": "str(settings.SIMPLE_JWT['ACCESS_TOKEN_LIFETIME'] // timedelta(minutes=1))",
    "JWT_REFRESH_DAYS": "str(settings.SIMPLE_JWT['REFRESH_TOKEN_LIFETIME'] // timedelta(days=1))",
    "THROTTLE_LOGIN_ADDRESS": "settings.API_THROTTLE_RATES['login_address']",
    "THROTTLE_LOGIN_USERNAME": "settings.API_THROTTLE_RATES['login_username']",
    "THROTTLE_USER": "settings.API_THROTTLE_RATES['user']",
    "DJANGO_NUM_PROXIES": "str(settings.REST_FRAMEWORK['NUM_PROXIES'])",
    "SEARCH_TIME_LIMIT_SECONDS": "str(settings.SEARCH_TIME_LIMIT_SECONDS)",
    "SESSIONS_MESSAGE_MAX_LENGTH": "str(settings.SESSIONS_MESSAGE_MAX_LENGTH)",
}


def readme_defaults() -> dict[str, str]:
    """The Default column of the README's configuration table, one entry per variable
    (a row naming several, `A` / `B`, gives each its own)."""
    defaults = {}
    for line in (PROJECT / "README.md").read_text().splitlines():
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if len(cells) == 3 and cells[0].startswith("`"):
            names, values = cells[0].split(" / "), cells[1].split(" / ")
            if len(names) == len(values):
                defaults.update((name.strip("`"), value.strip("`")) for name, value in zip(names, values))
    return defaults


def test_the_readmes_configuration_table_gives_the_defaults_the_service_runs_with():
    shown = ", ".join(f"{name!r}: {expression}" for name, expression in DOCUMENTED_DEFAULTS.items())
    program = f"import json; from datetime import timedelta; from django.conf import settings; print(json.dumps({{{shown}}}))"
    running = json.loads(printed_in_production(program, drop=DOCUMENTED_DEFAULTS))
    assert running == {name: readme_defaults()[name] for name in DOCUMENTED_DEFAULTS}

"""The sessions service's benchmark: every figure a ratio against a baseline measured in the same run.

    .venv/bin/python bench/run.py                     # SQLite, default sizes (under 10 minutes on 2 cores)
    scripts/with-postgres.sh .venv/bin/python bench/run.py --database postgres \\
        --output bench/RESULTS-postgres.md --plot bench/delete-scaling-postgres.png
    .venv/bin/python bench/run.py --quick             # tiny sizes, under a minute (CI): report in a temp dir

It never touches the project's data: on SQLite it works in a new temporary file,
on PostgreSQL in a new database it creates next to DATABASE_URL's and drops at the
end. It runs `migrate` there first and sets its own environment (DEBUG off, a
throwaway secret key, rate limits raised so that nothing is throttled).

Writes a Markdown report (bench/RESULTS.md by default), its raw numbers beside it
(.json) and the delete-scaling plot (bench/delete-scaling.png). A missed target is
reported, not fatal: the exit code is non-zero only when something failed (an
exception, a request that did not answer as documented, results that differ).
"""

import argparse
import cProfile
import io
import itertools
import json
import logging
import os
import pstats
import secrets
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from contextlib import ExitStack, contextmanager
from datetime import UTC
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

BENCH = Path(__file__).resolve().parent
PROJECT = BENCH.parent
sys.path.insert(0, str(PROJECT))
sys.path.insert(0, str(BENCH))

import report  # noqa: E402
from corpus import COMMON_WORD, RARE_WORD, TextPool, rare_sessions  # noqa: E402
from timing import median_of, paired_ratio, trials  # noqa: E402

SIZES = {
    "default": {
        "background_users": 3,
        "background_sessions": 1_000,
        "delete_ns": [1_000, 10_000, 100_000],
        "delete_trials": {1_000: 7, 10_000: 7, 100_000: 9},
        "store_delete_n": 100_000,
        "store_trials": 9,
        "vacuum_trials": 3,
        "store_small": 1_000,
        "store_big": 100_000,
        "list_trials": 21,
        "search_trials": 5,
        "pocketpaw_ms": [1_000, 10_000],
        "pocketpaw_trials": 5,
        "pocketpaw_scaling_others": 1_000,
        "throughput_seconds": 30,
        # The runs beside make serve's own, shorter to keep `make bench` under 10 minutes.
        "throughput_compare_seconds": 8,
        "throughput_sessions": 200,
        "open_loop_conversations": 60,
        "throughput_export_messages": 20_000,
        "reading_trials": 11,
        "export_trials": 3,
        "longest_messages": 500,
        "writing_trials": 21,
        "delete_all_sessions": 5_000,
        "delete_all_trials": 3,
        "delete_all_memory_sessions": [5_000, 100_000],
    },
    "quick": {
        "background_users": 2,
        "background_sessions": 50,
        "delete_ns": [100, 1_000],
        "delete_trials": {100: 3, 1_000: 3},
        "store_delete_n": 500,
        "store_trials": 3,
        "vacuum_trials": 1,
        "store_small": 100,
        "store_big": 1_000,
        "list_trials": 5,
        "search_trials": 3,
        "pocketpaw_ms": [100, 300],
        "pocketpaw_trials": 3,
        "pocketpaw_scaling_others": 50,
        "throughput_seconds": 5,
        "throughput_compare_seconds": 5,
        "throughput_sessions": 20,
        "open_loop_conversations": 10,
        "throughput_export_messages": 1_000,
        "reading_trials": 3,
        "export_trials": 1,
        "longest_messages": 20,
        "writing_trials": 3,
        "delete_all_sessions": 100,
        "delete_all_trials": 3,
        "delete_all_memory_sessions": [100, 1_000],
    },
}
MESSAGES_PER_STORE_SESSION = 10
THROUGHPUT_CLIENTS = 8
POCKETPAW_VENV = BENCH / ".venv-pocketpaw"
PAGE = 50
SEARCH_LIMIT = 20
# The largest page of history the API serves.
HISTORY_LIMIT = 500


def log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


# --- the database and the environment -------------------------------------------------------


class BenchDatabase:
    """The benchmark's own database: a new SQLite file, or a new PostgreSQL database."""

    def __init__(self, kind: str, scratch: Path, keep: bool):
        self.kind = kind
        self.scratch = scratch
        self.keep = keep
        self.admin_url = None
        if kind == "sqlite":
            self.url = f"sqlite:///{scratch / 'bench.sqlite3'}"
            self.label = str(scratch / "bench.sqlite3")
        else:
            self.admin_url = os.environ.get("DATABASE_URL", "")
            if not self.admin_url.startswith(("postgres://", "postgresql://")):
                raise SystemExit(
                    "bench: --database postgres needs DATABASE_URL=postgres://... "
                    "(scripts/with-postgres.sh sets one up)"
                )
            self.name = f"pocketpaw_bench_{os.getpid()}"
            parts = urlsplit(self.admin_url)
            self.url = urlunsplit(parts._replace(path="/" + self.name))
            self.label = f"database {self.name} on {parts.hostname}:{parts.port}"
            self._admin(f'CREATE DATABASE "{self.name}"')

    def _admin(self, statement: str) -> None:
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True) as connection:
            connection.execute(statement)

    def drop(self) -> None:
        if self.keep:
            log(f"kept the benchmark database: {self.label}")
            return
        if self.kind == "postgres":
            self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        shutil.rmtree(self.scratch, ignore_errors=True)


def bench_environment(database_url: str) -> dict:
    return {
        "DJANGO_SETTINGS_MODULE": "pocketpaw.settings",
        "DATABASE_URL": database_url,
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": "bench-only-" + secrets.token_urlsafe(48),
        "DJANGO_ALLOWED_HOSTS": "testserver,localhost,127.0.0.1",
        # A step's clients keep the token they were given; on a slow day a step outlasted the
        # default 15 minutes and its requests got 401.
        "JWT_ACCESS_MINUTES": "1440",
        # settings.API_THROTTLE_RATES: high enough that no request of the benchmark is throttled.
        "THROTTLE_USER": "1000000/second",
        "THROTTLE_LOGIN_ADDRESS": "1000000/second",
        "THROTTLE_LOGIN_USERNAME": "1000000/second",
    }


def configure_django(env: dict) -> None:
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    # As `make serve` does: the static-files middleware serves from this directory.
    call_command("collectstatic", verbosity=0, interactive=False)
    # The request log stays on, as in production (its formatting is part of every
    # request's cost), but is written to /dev/null rather than over our output.
    devnull = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
    for name in ["pocketpaw.requests", "django.request", ""]:
        for handler in logging.getLogger(name).handlers:
            if isinstance(handler, logging.StreamHandler):
                handler.setStream(devnull)


# --- helpers on the service ------------------------------------------------------------------


def bearer_client(user):
    from django.test import Client
    from rest_framework_simplejwt.tokens import RefreshToken

    return Client(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")


def access_token(user) -> str:
    from rest_framework_simplejwt.tokens import RefreshToken

    return str(RefreshToken.for_user(user).access_token)


def api_delete(client, session) -> None:
    response = client.delete(f"/api/sessions/{session.key}")
    if response.status_code != 200 or response.json() != {"status": "ok"}:
        raise AssertionError(f"DELETE answered {response.status_code}: {response.content[:200]!r}")


def raw_delete(session) -> None:
    from baseline import bare_session_delete

    bare_session_delete(session.pk)


def explain_sql(sql: str, params: list) -> str:
    """The plan the database chooses for one statement (EXPLAIN only: not run)."""
    from django.db import connection

    with connection.cursor() as cursor:
        explain = "EXPLAIN QUERY PLAN " if connection.vendor == "sqlite" else "EXPLAIN "
        cursor.execute(explain + sql, params)
        # SQLite's rows end with the step's description, PostgreSQL's are one line each.
        return "\n".join(str(row[-1]) for row in cursor.fetchall())


def explain(queryset) -> str:
    try:
        return queryset.explain()
    except Exception as error:  # noqa: BLE001 - a plan is informative, never essential
        return f"(no plan: {error})"


def profile_top(function, calls: int, top: int = 12) -> str:
    """The functions `calls` runs of `function` spend most of their own time in (cProfile)."""
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(calls):
        function()
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    lines = [line for line in out.getvalue().splitlines() if line.strip()]
    start = next((i for i, line in enumerate(lines) if line.lstrip().startswith("ncalls")), 0)
    site = str(PROJECT / ".venv" / "lib")
    return "\n".join(line.replace(site, "…").replace(str(PROJECT) + "/", "") for line in lines[start:])


# --- the figures ------------------------------------------------------------------------------


def figure_delete_scaling(ctx) -> None:
    """1. DELETE /api/sessions/{id} against the bare SQL DELETEs, for sessions of N messages."""
    from dataset import after_bulk_load

    from sessions_app.models import Message, Session
    from sessions_app.storage import purge_deleted_bytes

    builder, sizes = ctx["builder"], ctx["sizes"]
    owner = builder.user("delete_owner")
    builder.sessions(owner, 20, 10, label="delete_owner's other sessions", prefix="keep")
    client = bearer_client(owner)
    api_delete_warmup(client, owner)
    rows = []
    for n in sizes["delete_ns"]:

        def prepare(n=n):
            session = builder.big_session(owner, n, label=f"delete trials: sessions of {n:,} messages")
            after_bulk_load()
            return session

        result = trials(
            {"api": (prepare, lambda s: api_delete(client, s)), "raw": (prepare, raw_delete)},
            sizes["delete_trials"][n],
        )
        rows.append(
            {
                "n": n,
                **result,
                "ratio": result["api"]["median"] / result["raw"]["median"],
                "paired_ratio": paired_ratio(result["api"]["times"], result["raw"]["times"]),
            }
        )
        log(
            f"delete N={n:,}: api {result['api']['median'] * 1000:.1f} ms, raw {result['raw']['median'] * 1000:.1f} ms"
        )

    # Of the API's fixed cost, the part spent making the delete permanent after the commit
    # (storage.purge_deleted_bytes: on SQLite a TRUNCATE checkpoint of the WAL), after a
    # delete of the smallest N.
    def deleted_session(n=sizes["delete_ns"][0]):
        session = prepare_small(n)
        raw_delete(session)
        return session

    def prepare_small(n):
        session = builder.big_session(owner, n, label=f"delete trials: sessions of {n:,} messages")
        after_bulk_load()
        return session

    purge = median_of(lambda _: purge_deleted_bytes(), 5, prepare=deleted_session)
    left = Message.objects.filter(session__owner=owner, session__key__startswith="big").count()
    if left or Session.objects.filter(owner=owner, key__startswith="big").exists():
        raise AssertionError(f"{left} messages of deleted sessions are still there")

    n = sizes["delete_ns"][-1]
    # Memory, each delete in a fresh process (memprobe.py): the API and the bare SQL at the two
    # largest N (growth per message is the slope), and Python's own allocations at the largest.
    probes = [(m, how, []) for m in sizes["delete_ns"][-2:] for how in ["api", "raw"]]
    probes.append((n, "api", ["--tracemalloc"]))
    memory_by_n = {}
    for m, how, extra in probes:
        session = builder.big_session(owner, m, label=f"memory probes: sessions of {m:,} messages")
        after_bulk_load()
        command = [
            sys.executable,
            str(BENCH / "memprobe.py"),
            "--owner",
            owner.username,
            "--key",
            session.key,
        ]
        probe = run_json([*command, "--how", how, *extra], env=ctx["env"])
        memory_by_n.setdefault(m, {})[how + ("_tracemalloc" if extra else "")] = probe
    memory = memory_by_n[n]
    ctx["results"]["delete"] = {
        "rows": rows,
        "memory": memory,
        "memory_n": n,
        "memory_by_n": memory_by_n,
        "purge_after_smallest": purge,
        "smallest_n": sizes["delete_ns"][0],
    }


def api_delete_warmup(client, owner) -> None:
    from sessions_app import services

    for _ in range(3):
        session = services.session_create(owner=owner)
        services.message_create(session=session, role="user", content="warm-up")
        api_delete(client, session)


def figure_store_size(ctx) -> None:
    """2. The same delete with a small and a big store of other sessions."""
    from baseline import MESSAGES_OF_SESSION
    from dataset import after_bulk_load
    from django.db import connection

    builder, sizes, results = ctx["builder"], ctx["sizes"], ctx["results"]
    owner = ctx["main_user"]
    client = bearer_client(owner)
    n = sizes["store_delete_n"]

    def prepare():
        session = builder.big_session(owner, n, label=f"store-size trials: sessions of {n:,} messages")
        after_bulk_load()
        return session

    def deleted_through_api():
        api_delete(client, prepare())

    def measure():
        result = trials(
            {"api": (prepare, lambda s: api_delete(client, s)), "raw": (prepare, raw_delete)},
            sizes["store_trials"],
        )
        # The plan depends on how much of the table the session is, so it is shown for each store.
        session = prepare()
        result["plan"] = explain_sql(MESSAGES_OF_SESSION, [session.pk])
        raw_delete(session)
        if connection.vendor == "postgresql":
            # What a PostgreSQL delete leaves for later: the dead rows, their TOAST and their index
            # entries stay until a VACUUM (autovacuum's, in production) removes them.
            result["vacuum"] = median_of(
                lambda _: vacuum_messages(), sizes["vacuum_trials"], prepare=deleted_through_api
            )
        return result

    small_m, big_m = sizes["store_small"], sizes["store_big"]
    builder.sessions(owner, small_m, MESSAGES_PER_STORE_SESSION, label="main store", prefix="a", rare=set())
    after_bulk_load()
    small = measure()
    started = time.perf_counter()
    builder.sessions(owner, big_m - small_m, MESSAGES_PER_STORE_SESSION, label="main store", prefix="b")
    after_bulk_load()
    grow_seconds = time.perf_counter() - started
    big = measure()
    results["store_size"] = {
        "n": n,
        "small_m": small_m,
        "big_m": big_m,
        "small": small,
        "big": big,
        "ratio": big["api"]["median"] / small["api"]["median"],
        "raw_ratio": big["raw"]["median"] / small["raw"]["median"],
        "grow_seconds": grow_seconds,
    }
    log(f"store size: ratio {results['store_size']['ratio']:.2f}")


def vacuum_messages() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM sessions_app_message")


def figure_list(ctx) -> None:
    """4. GET /api/sessions?limit=50 for the user with the big store, against one indexed SELECT."""
    from django.db import connection, reset_queries
    from django.test import RequestFactory
    from django.test.utils import CaptureQueriesContext
    from rest_framework_simplejwt.authentication import JWTAuthentication

    from sessions_app import selectors
    from sessions_app.models import Session, SessionTotal
    from sessions_app.serializers import SessionListItemSerializer

    builder, sizes = ctx["builder"], ctx["sizes"]
    owner = ctx["main_user"]
    client = bearer_client(owner)
    floor_user = builder.user("list_floor")
    builder.sessions(floor_user, PAGE, 1, label="list floor user", prefix="f")
    floor_client = bearer_client(floor_user)
    ctx["floor_user"] = floor_user

    def api(c=client, offset=0):
        response = c.get("/api/sessions", {"limit": PAGE, "offset": offset})
        if response.status_code != 200 or len(response.json()["sessions"]) != PAGE:
            raise AssertionError(f"list answered {response.status_code}")

    # The last page: offset paging reads past every session before it.
    last_page = Session.objects.filter(owner=owner).count() - PAGE

    sql = (
        "SELECT id, key, title, channel, created_at, updated_at, message_count, preview "
        "FROM sessions_app_session WHERE owner_id = %s ORDER BY updated_at DESC, id DESC LIMIT 50"
    )

    def raw(_=None):
        with connection.cursor() as cursor:
            cursor.execute(sql, [owner.pk])
            assert len(cursor.fetchall()) == PAGE

    # Each request empties the connection's query log as it starts (Django's reset_queries
    # on request_started), so the log is emptied before each capture too.
    api()
    reset_queries()
    with CaptureQueriesContext(connection) as captured:
        api()
    queries = [q["sql"] for q in captured.captured_queries]
    reset_queries()
    with CaptureQueriesContext(connection) as captured_floor:
        api(floor_client)
    # Read now: captured_queries is a window on the log, which the next request empties.
    floor_queries = len(captured_floor.captured_queries)
    count = sizes["list_trials"]
    # The small user's list is timed in the same interleaved trials, so drift hits both lists alike.
    main = trials(
        {
            "api": (None, lambda _: api()),
            "floor_api": (None, lambda _: api(floor_client)),
            "last_page_api": (None, lambda _: api(offset=last_page)),
            "raw": (None, raw),
        },
        count,
    )
    last_page_api = main.pop("last_page_api")
    mine = selectors.session_list_for_user(user=owner)
    page = list(mine.order_by("-updated_at", "-id")[:PAGE])
    request = RequestFactory().get("/api/sessions", HTTP_AUTHORIZATION=client.defaults["HTTP_AUTHORIZATION"])

    def health(_):
        assert client.get("/api/health").status_code == 200

    def lean_page(_=None):
        """The page as the list answers it, from one .values_list() query and plain dicts (a proposal)."""
        rows = mine.order_by("-updated_at", "-id").values_list(
            "key", "title", "channel", "created_at", "updated_at", "message_count", "preview"
        )[:PAGE]
        return [
            {
                "id": key,
                "title": title,
                "channel": channel,
                "created_at": utc(created),
                "updated_at": utc(updated),
                "message_count": count,
                "last_activity": utc(updated),
                "preview": preview,
            }
            for key, title, channel, created, updated, count, preview in rows
        ]

    if lean_page() != SessionListItemSerializer(page, many=True).data:
        raise AssertionError("the lean page differs from the serializer's")

    parts = {
        "page_orm": median_of(
            lambda _: selectors.session_page_for_user(user=owner, limit=PAGE, offset=0), count
        )["median"],
        # The page's statement reads it in a subquery; here alone, to show what it costs.
        "total": median_of(lambda _: selectors.session_total_for_user(user=owner), count)["median"],
        # What the total cost before SessionTotal: a count of the user's index entries.
        "count_orm": median_of(lambda _: mine.count(), count)["median"],
        "serialize": median_of(lambda _: SessionListItemSerializer(page, many=True).data, count)["median"],
        "lean_page": median_of(lean_page, count)["median"],
        "authenticate": median_of(lambda _: JWTAuthentication().authenticate(request), count)["median"],
        "floor_api": main.pop("floor_api")["median"],
        "health_api": median_of(health, count)["median"],
    }
    ctx["results"]["list"] = {
        "sessions": Session.objects.filter(owner=owner).count(),
        "queries": queries,
        "floor_queries": floor_queries,
        **main,
        "ratio": main["api"]["median"] / main["raw"]["median"],
        "last_page": {"offset": last_page, **last_page_api},
        "parts": parts,
        "plan_page": explain(
            selectors.session_list_with_total_for_user(user=owner).order_by("-updated_at", "-id")[:PAGE]
        ),
        "plan_total": explain(SessionTotal.objects.filter(owner=owner).values_list("sessions")),
        "plan_count": count_plan(owner),
        "profile": profile_top(api, 20),
        "in_request": in_request_breakdown(api, 5 * count),
    }
    log(f"list: ratio {ctx['results']['list']['ratio']:.1f}, {len(queries)} queries")


def in_request_breakdown(request, count: int) -> dict:
    """Where the time of `count` requests goes, timed inside them: per request, the time spent
    in each of a few functions of the stack (their calls summed), then the median over requests.

    Timing the parts in loops of their own understates them: inside a request they run colder.
    """
    from unittest import mock

    from django.core.handlers.base import BaseHandler
    from django.template.response import SimpleTemplateResponse
    from rest_framework import serializers, views
    from rest_framework_simplejwt.authentication import JWTAuthentication

    from sessions_app import apis, selectors

    spots = {
        "handler": (BaseHandler, "get_response"),
        "dispatch": (views.APIView, "dispatch"),
        "initial": (views.APIView, "initial"),
        "authenticate": (JWTAuthentication, "authenticate"),
        "view": (apis.SessionViewSet, "list"),
        "selector": (selectors, "session_page_for_user"),
        "serialize": (serializers.ListSerializer, "to_representation"),
        "render": (SimpleTemplateResponse, "render"),
    }
    spent = dict.fromkeys(spots, 0.0)

    def timed(name, function):
        def wrapper(*args, **kwargs):
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                spent[name] += time.perf_counter() - started

        return wrapper

    per_request = {name: [] for name in [*spots, "client"]}
    with ExitStack() as stack:
        for name, (owner, attribute) in spots.items():
            stack.enter_context(mock.patch.object(owner, attribute, timed(name, getattr(owner, attribute))))
        for _ in range(count):
            spent.update(dict.fromkeys(spots, 0.0))
            started = time.perf_counter()
            request()
            per_request["client"].append(time.perf_counter() - started)
            for name in spots:
                per_request[name].append(spent[name])
    return {name: statistics.median(values) for name, values in per_request.items()}


def figure_reading(ctx) -> None:
    """7. Reading a long session: its history page and its export, against the bare SELECTs."""
    from dataset import after_bulk_load
    from django.conf import settings
    from django.db import connection

    from sessions_app.selectors import MESSAGE_CHUNK_ROWS

    builder, sizes = ctx["builder"], ctx["sizes"]
    small_n, mid_n, big_n = sizes["delete_ns"][0], sizes["delete_ns"][-2], sizes["delete_ns"][-1]
    longest, long_n = settings.SESSIONS_MESSAGE_MAX_LENGTH, sizes["longest_messages"]
    owner = builder.user("reader")
    small = builder.big_session(owner, small_n, label=f"reading: sessions of {small_n:,} messages")
    mid = builder.big_session(owner, mid_n, label=f"reading: sessions of {mid_n:,} messages")
    big = builder.big_session(owner, big_n, label=f"reading: sessions of {big_n:,} messages")
    long = builder.big_session(
        owner, long_n, length=longest, label=f"reading: {long_n:,} messages of {longest:,} characters"
    )
    after_bulk_load()
    client = bearer_client(owner)

    def history(session):
        response = client.get(f"/api/sessions/{session.key}/history", {"limit": HISTORY_LIMIT})
        if response.status_code != 200 or len(response.json()) != min(HISTORY_LIMIT, session.message_count):
            raise AssertionError(f"history answered {response.status_code}")

    def raw_history(_=None):
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT id, role, content, metadata, created_at FROM sessions_app_message "
                "WHERE session_id = %s ORDER BY created_at DESC, id DESC LIMIT %s",
                [big.pk, HISTORY_LIMIT],
            )
            assert len(cursor.fetchall()) == HISTORY_LIMIT

    def export(file_format):
        response = client.get(f"/api/sessions/{big.key}/export", {"format": file_format})
        if response.status_code != 200:
            raise AssertionError(f"export answered {response.status_code}")
        return sum(len(chunk) for chunk in response.streaming_content)

    def raw_read(_=None):
        """Every row of the session, in export order, through one cursor: what any export must read."""
        rows = 0
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT id, role, content, metadata, created_at FROM sessions_app_message "
                "WHERE session_id = %s ORDER BY created_at, id",
                [big.pk],
            )
            while batch := cursor.fetchmany(2_000):
                rows += len(batch)
        assert rows == big_n

    history(big)
    history_times = trials(
        {
            "big": (None, lambda _: history(big)),
            "small": (None, lambda _: history(small)),
            "raw": (None, raw_history),
        },
        sizes["reading_trials"],
    )
    export_bytes = {file_format: export(file_format) for file_format in ["json", "md"]}
    export_times = trials(
        {
            "json": (None, lambda _: export("json")),
            "md": (None, lambda _: export("md")),
            "raw": (None, raw_read),
        },
        sizes["export_trials"],
    )
    # Each in a fresh process: the same export at two sizes (does memory grow with the
    # session?) and a session of the longest messages allowed (what one fetch of rows holds).
    memory = {
        name: run_json(
            [sys.executable, str(BENCH / "memprobe.py"), "--owner", owner.username, "--key", session.key]
            + ["--how", "export"],
            env=ctx["env"],
        )
        for name, session in [("mid", mid), ("big", big), ("long", long)]
    }
    ctx["long_sessions"] = {"small": small, "big": big}
    ctx["results"]["reading"] = {
        "small_n": small_n,
        "mid_n": mid_n,
        "big_n": big_n,
        "long_n": long_n,
        "longest": longest,
        "chunk_rows": MESSAGE_CHUNK_ROWS,
        "history_limit": HISTORY_LIMIT,
        "history": history_times,
        "history_growth": history_times["big"]["median"] / history_times["small"]["median"],
        "export": export_times,
        "export_bytes": export_bytes,
        "export_memory": memory,
        "export_profile": profile_top(lambda: export("json"), 1),
    }
    log(
        f"reading: history {history_times['big']['median'] * 1000:.1f} ms, "
        f"export json {export_times['json']['median']:.2f} s, raw read {export_times['raw']['median']:.2f} s"
    )


def figure_writing(ctx) -> None:
    """8. Appending to a long session, creating in a big store: against their small cases and the bare statements."""
    from django.db import connection, transaction
    from django.utils import timezone

    from sessions_app.models import PREVIEW_LENGTH, Session

    builder, sizes = ctx["builder"], ctx["sizes"]
    # Built by earlier figures: figure 7's sessions of 1,000 and 100,000 messages, the
    # main user's store of figure 2 and figure 4's user with 50 sessions.
    small, big = ctx["long_sessions"]["small"], ctx["long_sessions"]["big"]
    owner, floor_user = ctx["main_user"], ctx["floor_user"]
    store_sessions = Session.objects.filter(owner=owner).count()
    floor_sessions = Session.objects.filter(owner=floor_user).count()
    text = builder.pool.text(0)
    reader, creator, floor_creator = (bearer_client(user) for user in (big.owner, owner, floor_user))

    keys = itertools.count()

    def append(session, idempotency_key=None):
        headers = {} if idempotency_key is None else {"HTTP_IDEMPOTENCY_KEY": idempotency_key}
        response = reader.post(
            f"/api/sessions/{session.key}/messages",
            {"role": "user", "content": text},
            content_type="application/json",
            **headers,
        )
        if response.status_code != 201:
            raise AssertionError(f"append answered {response.status_code}: {response.content[:200]!r}")

    def raw_append(_=None):
        """The rows an append writes: the message, and the session's counter and activity time."""
        # Spelled as Django writes it: SQLite compares times as text, and exports resume by them.
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO sessions_app_message (session_id, role, content, metadata, created_at) "
                "VALUES (%s, 'user', %s, '{}', %s)",
                [big.pk, text, now],
            )
            cursor.execute(
                "UPDATE sessions_app_session SET message_count = message_count + 1, updated_at = %s, "
                "preview = %s WHERE id = %s",
                [now, text[:PREVIEW_LENGTH], big.pk],
            )

    def create(client):
        response = client.post("/api/sessions", {"title": "benchmark"}, content_type="application/json")
        if response.status_code != 201:
            raise AssertionError(f"create answered {response.status_code}: {response.content[:200]!r}")

    for _ in range(3):
        append(big)
        append(small)
        append(big, "bench-replayed")
        create(creator)
        create(floor_creator)
    times = trials(
        {
            "append_big": (None, lambda _: append(big)),
            "append_small": (None, lambda _: append(small)),
            # A new key each time (the lookup finds nothing, the message is stored), and one
            # key sent again (the lookup finds the message, nothing is stored).
            "append_keyed": (None, lambda _: append(big, f"bench-{next(keys)}")),
            "append_replayed": (None, lambda _: append(big, "bench-replayed")),
            "append_raw": (None, raw_append),
            "create_big": (None, lambda _: create(creator)),
            "create_small": (None, lambda _: create(floor_creator)),
        },
        sizes["writing_trials"],
    )
    ctx["results"]["writing"] = {
        "small_n": small.message_count,
        "big_n": big.message_count,
        "store_sessions": store_sessions,
        "floor_sessions": floor_sessions,
        "message_chars": len(text),
        "times": times,
        "append_growth": times["append_big"]["median"] / times["append_small"]["median"],
        "create_growth": times["create_big"]["median"] / times["create_small"]["median"],
        "beside_delete": appends_beside_a_delete(builder, reader, big, text),
    }
    log(
        f"writing: append {times['append_big']['median'] * 1000:.1f} ms, "
        f"create {times['create_big']['median'] * 1000:.1f} ms"
    )


def appends_beside_a_delete(builder, owner_client, victim, text: str, quiet_seconds: float = 1.0) -> dict:
    """Another user appends in a loop, on a connection of its own, while `victim` is deleted.

    What a delete of a long session does to everyone else's writes: on SQLite one
    transaction holds the database's write lock, on PostgreSQL only the deleted rows'.
    """
    import threading

    from django.db import connection

    from sessions_app.models import Message

    messages = Message.objects.filter(session_id=victim.pk).count()
    neighbour = builder.user("writing_neighbour")
    [(_, key)] = builder.sessions(neighbour, 1, 10, label="writing: a neighbour's session", prefix="w")
    samples: list[tuple[float, float, int]] = []
    stop = threading.Event()

    def append_in_a_loop():
        client = bearer_client(neighbour)
        try:
            while not stop.is_set():
                started = time.perf_counter()
                response = client.post(
                    f"/api/sessions/{key}/messages", {"role": "user", "content": text}, content_type="application/json"
                )
                samples.append((started, time.perf_counter() - started, response.status_code))
        finally:
            connection.close()

    appender = threading.Thread(target=append_in_a_loop)
    appender.start()
    try:
        time.sleep(quiet_seconds)
        delete_started = time.perf_counter()
        api_delete(owner_client, victim)
        delete_ended = time.perf_counter()
        time.sleep(quiet_seconds)
    finally:
        stop.set()
        appender.join()
    failed = [status for _, _, status in samples if status != 201]
    if failed:
        raise AssertionError(f"appends beside the delete answered {sorted(set(failed))}")
    alone = [took for started, took, _ in samples if started + took < delete_started or started > delete_ended]
    during = [took for started, took, _ in samples if started < delete_ended and started + took > delete_started]
    return {
        "messages": messages,
        "quiet_seconds": quiet_seconds,
        "delete_seconds": delete_ended - delete_started,
        "alone_median": statistics.median(alone),
        "alone_count": len(alone),
        "during_count": len(during),
        "during_max": max(during, default=0.0),
    }


def figure_delete_all(ctx) -> None:
    """9. Deleting all of a user's sessions at once (bulk-delete with "all") against the bare DELETEs."""
    from baseline import MESSAGES_OF_OWNER, bare_owner_delete
    from dataset import after_bulk_load

    from sessions_app.models import DeletionRecord, Session

    builder, sizes = ctx["builder"], ctx["sizes"]
    count = sizes["delete_all_sessions"]
    owners = iter(range(1_000_000))

    def prepare():
        owner = builder.user(f"delete_all_{next(owners)}")
        builder.sessions(
            owner,
            count,
            MESSAGES_PER_STORE_SESSION,
            label=f"delete-all trials: {count:,} sessions of {MESSAGES_PER_STORE_SESSION} messages",
            prefix="a",
        )
        after_bulk_load()
        return owner, bearer_client(owner)

    def api(prepared):
        owner, client = prepared
        response = client.post("/api/sessions/bulk-delete", {"all": True}, content_type="application/json")
        if response.status_code != 200 or response.json() != {"status": "ok", "deleted": count}:
            raise AssertionError(f"bulk-delete answered {response.status_code}: {response.content[:200]!r}")

    def raw(prepared):
        owner, _ = prepared
        bare_owner_delete(owner.pk)

    result = trials({"api": (prepare, api), "raw": (prepare, raw)}, sizes["delete_all_trials"])
    # The plan the database chose for the baseline's message DELETE.
    planned_owner, _ = prepare()
    raw_plan = explain_sql(MESSAGES_OF_OWNER, [planned_owner.pk])
    raw((planned_owner, None))
    left = Session.objects.filter(owner__username__startswith="delete_all_").count()
    if left:
        raise AssertionError(f"{left} sessions of the delete-all trials are still there")
    records = DeletionRecord.objects.filter(owner_username__startswith="delete_all_").count()
    if records != count * sizes["delete_all_trials"]:
        raise AssertionError(f"{records} deletion records for {count * sizes['delete_all_trials']} deleted sessions")
    # Memory of a fresh process deleting all of a user's sessions, for few and many sessions of one
    # message each: what it holds per session while it locks them all before the first DELETE.
    memory = {}
    for sessions_count in sizes["delete_all_memory_sessions"]:
        owner = builder.user(f"delete_all_memory_{sessions_count}")
        builder.sessions(
            owner, sessions_count, 1, label=f"delete-all memory probes: {sessions_count:,} sessions of 1 message", prefix="m"
        )
        after_bulk_load()
        command = [sys.executable, str(BENCH / "memprobe.py"), "--owner", owner.username, "--how", "delete-all"]
        memory[sessions_count] = run_json(command, env=ctx["env"])
    ctx["results"]["delete_all"] = {
        "sessions": count,
        "messages_per_session": MESSAGES_PER_STORE_SESSION,
        **result,
        "paired_ratio": paired_ratio(result["api"]["times"], result["raw"]["times"]),
        "raw_plan": raw_plan,
        "memory": memory,
    }
    log(f"delete all: api {result['api']['median']:.2f} s, raw {result['raw']['median']:.2f} s")


def utc(value) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def count_plan(owner) -> str:
    return explain_sql("SELECT COUNT(*) FROM sessions_app_session WHERE owner_id = %s", [owner.pk])


@contextmanager
def without_trigram_index():
    """The baselines are scans: on PostgreSQL, keep the planner off the pg_trgm index (bitmap scans only)."""
    from django.db import connection, transaction

    if connection.vendor != "postgresql":
        yield
        return
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        yield


def figure_search(ctx) -> None:
    """5. GET /api/sessions/search over the big store, against plain icontains scans."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.db.models import Exists, OuterRef

    from sessions_app import selectors
    from sessions_app.models import Message, Session

    sizes, results = ctx["sizes"], ctx["results"]
    owner = ctx["main_user"]
    # A user holding a small share of the table: the walk reads what the user holds, the plain scan the table.
    minority = get_user_model().objects.get(username="neighbour_0")
    clients = {owner.pk: bearer_client(owner), minority.pk: bearer_client(minority)}
    newest_first = ("-updated_at", "-id")

    def api(user, word):
        response = clients[user.pk].get("/api/sessions/search", {"q": word, "limit": SEARCH_LIMIT})
        if response.status_code != 200:
            raise AssertionError(f"search answered {response.status_code}")
        return [s["id"] for s in response.json()["sessions"]]

    def exists_query(user, word):
        matching = Message.objects.filter(session=OuterRef("pk"), content__icontains=word)
        found = Session.objects.filter(owner=user).filter(Exists(matching)).order_by(*newest_first)
        return found.values_list("key", flat=True)[:SEARCH_LIMIT]

    def exists_scan(user, word):
        with without_trigram_index():
            return list(exists_query(user, word))

    def plain_sql(user, word):
        """Every message read once (the ORM's icontains, no index); of the sessions found, the user's newest 20.

        MATERIALIZED keeps the scan a scan: as a plain subquery, PostgreSQL's planner turns it
        into the newest-first walk that stops at the 20th match, the EXISTS baseline's plan.
        """
        matching = Message.objects.filter(content__icontains=word).values("session_id")
        inner, params = matching.query.sql_with_params()
        return (
            f"WITH matching AS MATERIALIZED ({inner}) SELECT key FROM sessions_app_session "
            "WHERE owner_id = %s AND id IN (SELECT session_id FROM matching) "
            "ORDER BY updated_at DESC, id DESC LIMIT %s",
            [*params, user.pk, SEARCH_LIMIT],
        )

    def plain_scan(user, word):
        sql, params = plain_sql(user, word)
        with without_trigram_index(), connection.cursor() as cursor:
            cursor.execute(sql, params)
            return [key for (key,) in cursor.fetchall()]

    rows = []
    for label, word, user in [
        ("rare", RARE_WORD, owner),
        ("common", COMMON_WORD, owner),
        (report.MINORITY_SEARCH, RARE_WORD, minority),
    ]:
        by_api, by_exists, by_plain = api(user, word), exists_scan(user, word), plain_scan(user, word)
        same = by_api == by_exists == by_plain
        if not same:
            ctx["errors"].append(
                f"search {label!r}: API {by_api[:5]}..., EXISTS {by_exists[:5]}..., scan {by_plain[:5]}..."
            )

        def selector(_, user=user, word=word):
            return selectors.session_search_for_user(user=user, query=word, limit=SEARCH_LIMIT)

        # Interleaved, so that the machine's drift moves the request and its baselines alike.
        timed = trials(
            {
                "api": (None, lambda _, u=user, w=word: api(u, w)),
                "selector": (None, selector),
                "exists": (None, lambda _, u=user, w=word: exists_scan(u, w)),
                "plain": (None, lambda _, u=user, w=word: plain_scan(u, w)),
            },
            sizes["search_trials"],
        )
        rows.append(
            {
                "word": label,
                "q": word,
                "user_messages": Message.objects.filter(session__owner=user).count(),
                "found": len(by_api),
                "same": same,
                **timed,
                "speedup_exists": timed["exists"]["median"] / timed["api"]["median"],
                "speedup_plain": timed["plain"]["median"] / timed["api"]["median"],
                "matching_messages": Message.objects.filter(content__icontains=word).count()
                if word == RARE_WORD
                else None,
            }
        )
        log(f"search {label}: " + ", ".join(f"{k} {v['median'] * 1000:.1f} ms" for k, v in timed.items()))
    matching = Message.objects.filter(session=OuterRef("pk"), content__icontains=RARE_WORD)
    with without_trigram_index():
        baseline_plan = explain(exists_query(owner, RARE_WORD)) if connection.vendor == "postgresql" else None
        plain_plan = explain_sql(*plain_sql(owner, RARE_WORD))
    results["search"] = {
        "baseline_plan": baseline_plan,
        "plain_plan": plain_plan,
        "messages": Message.objects.count(),
        "owner_messages": Message.objects.filter(session__owner=owner).count(),
        "owner_sessions": Session.objects.filter(owner=owner).count(),
        "rows": rows,
        "plan": explain(
            Session.objects.filter(owner=owner)
            .filter(Exists(matching))
            .order_by(*newest_first)[:SEARCH_LIMIT]
        ),
        "profile_rare": profile_top(lambda: api(owner, RARE_WORD), 1),
        "vendor": connection.vendor,
    }


def ensure_pocketpaw() -> tuple[Path | None, str]:
    """bench/.venv-pocketpaw with the `pocketpaw` package from PyPI; (python, note) or (None, why not)."""
    python = POCKETPAW_VENV / "bin" / "python"
    # From bench/: in the project root, the service's own `pocketpaw` package would shadow PyPI's.
    check = [str(python), "-c", "import pocketpaw.memory.file_store"]
    if python.exists() and subprocess.run(check, capture_output=True, cwd=BENCH).returncode == 0:
        return python, "already installed"
    started = time.perf_counter()
    try:
        if not python.exists():
            subprocess.run(
                [sys.executable, "-m", "venv", str(POCKETPAW_VENV)],
                check=True,
                capture_output=True,
                timeout=300,
            )
        log(f"installing pocketpaw from PyPI into {POCKETPAW_VENV}")
        install = subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "pocketpaw"],
            capture_output=True,
            text=True,
            timeout=900,
            cwd=BENCH,
        )
    except (subprocess.SubprocessError, OSError) as error:
        return None, f"could not create bench/.venv-pocketpaw or run pip: {error}"
    if install.returncode != 0 or subprocess.run(check, capture_output=True, cwd=BENCH).returncode != 0:
        why = " / ".join(line for line in install.stderr.strip().splitlines() if line.startswith("ERROR"))
        return None, "`pip install pocketpaw` failed: " + (
            why or install.stderr.strip()[-400:] or "no output"
        )
    return python, f"installed in {time.perf_counter() - started:.0f} s"


def figure_pocketpaw(ctx) -> None:
    """3. PocketPaw's FileMemoryStore against our service layer, on the same data."""
    builder, sizes, results = ctx["builder"], ctx["sizes"], ctx["results"]
    python, note = ensure_pocketpaw()
    if python is None:
        results["pocketpaw"] = {"skipped": note}
        log(f"PocketPaw part skipped: {note}")
        return
    trials_count = sizes["pocketpaw_trials"]
    ms = sizes["pocketpaw_ms"]
    # Sessions from the middle of the store, none of them one the rare word is in.
    victims = {m: [i for i in range(m // 2, m) if i not in rare_sessions(m)][:trials_count] for m in ms}
    spec = {
        "trials": trials_count,
        "compare": [{"m": m, "n": MESSAGES_PER_STORE_SESSION, "victims": victims[m]} for m in ms],
        "scaling": [
            {"n": n, "others": sizes["pocketpaw_scaling_others"], "trials": 3 if n < 100_000 else 2}
            for n in sizes["delete_ns"]
        ],
    }
    started = time.perf_counter()
    theirs = run_json(
        [str(python), str(BENCH / "pocketpaw_driver.py"), "--spec", json.dumps(spec)], cwd=BENCH
    )
    driver_seconds = time.perf_counter() - started

    rows = []
    for m, their in zip(ms, theirs["compare"], strict=True):
        ours, found_rare = pocketpaw_twin(builder, m, victims[m], trials_count)
        if found_rare != their["found"]["rare"]:
            ctx["errors"].append(
                f"PocketPaw twin M={m}: rare word found in {found_rare} here, {their['found']['rare']} there"
            )
        rows.append({"m": m, "ours": ours, "theirs": their["ops"], "found_rare": found_rare})
        ratios = (f"{op} {their['ops'][op]['median'] / ours[op]['median']:.1f}x" for op in ours)
        log(f"pocketpaw M={m:,}: " + ", ".join(ratios))
    results["pocketpaw"] = {
        "version": theirs["pocketpaw_version"],
        "install": note,
        "rows": rows,
        "scaling": theirs["scaling"],
        "driver_seconds": driver_seconds,
    }


def pocketpaw_twin(builder, m: int, victims: list[int], trials_count: int) -> tuple[dict, list[int]]:
    """Our service layer on a copy of PocketPaw's store of M sessions: the same operations, the same order."""
    from dataset import after_bulk_load
    from sessions_app import selectors, services
    from sessions_app.models import DeletionRecord, Session

    owner = builder.user(f"pocketpaw_twin_{m}")
    built = builder.sessions(
        owner,
        m,
        MESSAGES_PER_STORE_SESSION,
        label=f"PocketPaw twin store, M={m:,}",
        prefix="s",
        same_as_pocketpaw=True,
    )
    # As after every other build: without fresh statistics PostgreSQL's planner took the
    # new owner for one with few sessions and walked all of them for a rare word.
    after_bulk_load()
    keys = [key for _, key in built]
    mine = Session.objects.filter(owner=owner)
    picks = iter(victims)
    renames = iter(range(trials_count))

    def delete(session):
        services.session_delete(session=session, via=DeletionRecord.Via.API, actor=owner.username)

    def rename(_):
        t = next(renames)
        services.session_rename(session=mine.get(key=keys[-1 - t]), title=f"Renamed {t}")

    def listing(_):
        page, total = selectors.session_page_for_user(user=owner, limit=PAGE, offset=0)
        assert len(page) == PAGE and total

    def search(word):
        found = selectors.session_search_for_user(user=owner, query=word, limit=SEARCH_LIMIT)
        return [s.key for s in found]

    ours = {
        "delete": median_of(delete, trials_count, prepare=lambda: mine.get(key=keys[next(picks)])),
        "rename": median_of(rename, trials_count),
        "list": median_of(listing, trials_count),
        "search_rare": median_of(lambda _: search(RARE_WORD), trials_count),
        "search_common": median_of(lambda _: search(COMMON_WORD), trials_count),
    }
    return ours, sorted(int(key[1:]) for key in search(RARE_WORD))


# The runs of figure 6: (name, environment over make serve's, with the exporting client).
# make serve's own settings; a database connection per request; one thread per worker
# (gunicorn's sync worker, for deployments behind a buffering proxy); and both thread
# counts again with a ninth client downloading a long session's export over and over.
# Offered rates of the open-loop runs, as shares of the closed loop's requests per second.
OPEN_LOOP_SHARES = [0.1, 0.5, 0.8]
# The open loop's untimed burst: twice the server's threads (2 workers x 4 threads by default).
OPEN_LOOP_WARM_UP_CONVERSATIONS = 16
THROUGHPUT_RUNS = [
    ("default", {}, False),
    ("per_request", {"DATABASE_CONN_MAX_AGE": "0"}, False),
    ("threads_1", {"GUNICORN_THREADS": "1"}, False),
    ("export", {}, True),
    ("export_threads_1", {"GUNICORN_THREADS": "1"}, True),
]


def figure_throughput(ctx) -> None:
    """6. Requests per second under gunicorn (2 workers) with a mix of create, append, list, history, delete."""
    from django.db import connections
    from load import LOOP, Gunicorn, run_load, run_open_loop

    from pocketpaw import gunicorn_conf

    builder, sizes = ctx["builder"], ctx["sizes"]
    users = builder.users_with_sessions(
        "load",
        THROUGHPUT_CLIENTS,
        sizes["throughput_sessions"],
        MESSAGES_PER_STORE_SESSION,
        label="load users' sessions",
        prefix="l",
    )
    tokens = [access_token(user) for user in users]
    exporting_user = builder.user("load_exporter")
    exported = builder.big_session(
        exporting_user, sizes["throughput_export_messages"], label="throughput: the exported session"
    )
    exporter = (access_token(exporting_user), exported.key)
    connections.close_all()
    runs = {}
    for name, extra, exporting in THROUGHPUT_RUNS:
        if ctx["mode"] == "quick" and name not in ("default", "export"):
            continue
        with Gunicorn(PROJECT, {**os.environ, **ctx["env"], **extra}) as server:
            before = server.worker_memory_mb()
            seconds = sizes["throughput_seconds" if name == "default" else "throughput_compare_seconds"]
            result = run_load(server.port, tokens, seconds, exporter if exporting else None)
            result["workers_before"] = before
            result["workers_after"] = server.worker_memory_mb()
            result["conn_max_age"] = extra.get(
                "DATABASE_CONN_MAX_AGE", os.environ.get("DATABASE_CONN_MAX_AGE", "60 (default)")
            )
            result["threads"] = int(extra.get("GUNICORN_THREADS", gunicorn_conf.threads))
            result["exported_messages"] = sizes["throughput_export_messages"] if exporting else None
        runs[name] = result
        if result["errors"]:
            ctx["errors"].append(
                f"throughput ({name}): {result['errors']} errors, e.g. {result['error_samples']}"
            )
        log(
            f"throughput ({name}): {result['rps']:.0f} req/s, p50 {result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms, {result['errors']} errors"
        )
    ctx["results"]["throughput"] = runs

    # The same mix offered at fixed rates below the closed loop's pace: latency as users arriving on
    # their own schedule feel it, queueing included; at the lowest rate, each route over real HTTP.
    open_runs = []
    closed_rps = runs["default"]["rps"]
    if not closed_rps:
        ctx["errors"].append("open loop: skipped, the closed loop answered nothing")
        return
    with Gunicorn(PROJECT, {**os.environ, **ctx["env"]}) as server:
        # Untimed, all at once: more conversations than the server has threads, so that every
        # thread opens its database connection now rather than during a measured rate.
        warm_up = run_open_loop(server.port, tokens, OPEN_LOOP_WARM_UP_CONVERSATIONS, float("inf"))
        if warm_up["errors"]:
            ctx["errors"].append(f"open loop warm-up: {warm_up['errors']} errors, e.g. {warm_up['error_samples']}")
        for share in OPEN_LOOP_SHARES:
            rate = closed_rps * share / len(LOOP)
            result = run_open_loop(server.port, tokens, sizes["open_loop_conversations"], rate)
            result["share"] = share
            open_runs.append(result)
            if result["errors"]:
                ctx["errors"].append(
                    f"open loop at {share:.0%}: {result['errors']} errors, e.g. {result['error_samples']}"
                )
            log(
                f"open loop at {share:.0%} ({result['offered_rps']:.0f} req/s offered): "
                f"p50 {result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms, {result['errors']} errors"
            )
    ctx["results"]["open_loop"] = open_runs


def run_json(command, cwd=PROJECT, env=None) -> dict:
    completed = subprocess.run(
        command, cwd=cwd, env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=1800
    )
    if completed.returncode != 0:
        raise RuntimeError(f"{shlex.join(map(str, command[:3]))} ... failed:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


# --- main --------------------------------------------------------------------------------------


def render_saved(saved_path: Path, output: Path | None, plot_path: Path | None) -> int:
    """The report and plot of an earlier run, from its saved numbers: nothing is measured again."""
    saved = json.loads(saved_path.read_text())
    output = output or saved_path.with_suffix(".md")
    plot_path = plot_path or output.with_name(output.stem.replace("RESULTS", "delete-scaling") + ".png")
    report.plot(saved["results"], plot_path)
    output.write_text(report.markdown(saved["results"], saved["errors"], plot_path, output))
    log(f"wrote {output} and {plot_path} from {saved_path}")
    return 1 if saved["errors"] else 0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes, under a minute (what CI runs)")
    parser.add_argument(
        "--database",
        choices=["auto", "sqlite", "postgres"],
        default="auto",
        help="sqlite: a new temporary file; postgres: a new database beside DATABASE_URL's; "
        "auto (default): postgres when DATABASE_URL is a postgres URL, else sqlite",
    )
    parser.add_argument(
        "--output", type=Path, help="the report (default bench/RESULTS.md; with --quick, a temporary file)"
    )
    parser.add_argument("--plot", type=Path, help="the PNG (default delete-scaling.png beside the report)")
    parser.add_argument(
        "--render",
        type=Path,
        metavar="RESULTS.json",
        help="only write the report and plot again from a run's saved numbers (after changing report.py)",
    )
    parser.add_argument("--keep-db", action="store_true", help="keep the benchmark's database afterwards")
    args = parser.parse_args()
    if args.render:
        return render_saved(args.render, args.output, args.plot)

    wall_started = time.perf_counter()
    git_at_start = report.git_facts()
    mode = "quick" if args.quick else "default"
    scratch = Path(tempfile.mkdtemp(prefix="pocketpaw-bench-"))
    if args.output:
        output = args.output
    elif args.quick:
        output = Path(tempfile.mkdtemp(prefix="pocketpaw-bench-report-")) / "RESULTS-quick.md"
    else:
        output = BENCH / "RESULTS.md"
    plot_path = args.plot or output.with_name(output.stem.replace("RESULTS", "delete-scaling") + ".png")
    kind = args.database
    if kind == "auto":
        kind = (
            "postgres"
            if os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://"))
            else "sqlite"
        )
    command_line = shlex.join([sys.executable, *sys.argv])
    cwd = os.getcwd()

    database = BenchDatabase(kind, scratch, args.keep_db)
    env = bench_environment(database.url)
    log(f"{mode} run on {kind} ({database.label}); report: {output}")
    errors: list[str] = []
    results: dict = {}
    ctx = {"mode": mode, "sizes": SIZES[mode], "env": env, "results": results, "errors": errors}
    steps_seconds = {}
    try:
        started = time.perf_counter()
        configure_django(env)
        from dataset import Builder, after_bulk_load

        ctx["setup_seconds"] = time.perf_counter() - started
        builder = Builder(TextPool())
        ctx["builder"] = builder
        sizes = ctx["sizes"]
        builder.users_with_sessions(
            "neighbour",
            sizes["background_users"],
            sizes["background_sessions"],
            MESSAGES_PER_STORE_SESSION,
            label="other users' sessions",
            prefix="n",
        )
        after_bulk_load()
        ctx["main_user"] = builder.user("alice")
        steps = [
            ("1. delete scaling", figure_delete_scaling),
            ("2. store size", figure_store_size),
            ("4. list", figure_list),
            ("5. search", figure_search),
            ("7. reading a long session", figure_reading),
            ("8. writing", figure_writing),
            ("9. deleting all of a user's sessions", figure_delete_all),
            ("3. PocketPaw", figure_pocketpaw),
            ("6. throughput", figure_throughput),
        ]
        for name, step in steps:
            step_started = time.perf_counter()
            try:
                step(ctx)
            except Exception:  # noqa: BLE001 - one figure failing must not hide the others
                errors.append(f"{name} failed:\n{traceback.format_exc()}")
                log(f"{name} FAILED:\n{traceback.format_exc()}")
            steps_seconds[name] = time.perf_counter() - step_started
            log(f"{name} done in {steps_seconds[name]:.0f} s")
        meta = report.environment_facts(kind, command_line, cwd, mode, git_at_start)
        meta.update(
            wall_seconds=time.perf_counter() - wall_started,
            steps_seconds=steps_seconds,
            builds=builder.build_log,
            database_label=database.label,
            sizes=sizes,
            setup_seconds=ctx["setup_seconds"],
        )
        results["meta"] = meta
        output.parent.mkdir(parents=True, exist_ok=True)
        plot_path.parent.mkdir(parents=True, exist_ok=True)
        report.plot(results, plot_path)
        output.write_text(report.markdown(results, errors, plot_path, output))
        output.with_suffix(".json").write_text(
            json.dumps({"results": results, "errors": errors}, indent=2, default=str)
        )
        log(f"wrote {output} and {plot_path} in {meta['wall_seconds']:.0f} s")
    except Exception:  # noqa: BLE001
        errors.append(traceback.format_exc())
        log(f"FAILED:\n{traceback.format_exc()}")
    finally:
        try:
            from django.db import connections

            connections.close_all()
        except Exception:  # noqa: BLE001
            pass
        database.drop()
    if errors:
        log(f"{len(errors)} error(s): see the report")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The sessions service's benchmark: every figure a ratio against a baseline measured in the same run.

    make bench            # SQLite, default sizes (under 10 minutes on 2 cores)
    make bench-postgres   # the same on a throwaway PostgreSQL server
    make bench-quick      # tiny sizes, under a minute: CI runs it so this script cannot rot

Writes a Markdown report (bench/RESULTS.md by default) and bench/delete-scaling.png.
A missed target is reported, not fatal: the exit code is non-zero only on errors.
"""
import argparse
import json
import logging
import os
import platform
import shlex
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from datetime import timedelta
from http.client import HTTPConnection
from pathlib import Path

BENCH = Path(__file__).resolve().parent
PROJECT = BENCH.parent
sys.path.insert(0, str(PROJECT))
sys.path.insert(0, str(BENCH))

from corpus import COMMON_WORD, RARE_WORD, message_texts  # noqa: E402

SIZES = {
    "default": {
        "delete_ns": [1_000, 10_000, 100_000],
        "trials": {1_000: 5, 10_000: 5, 100_000: 3},
        "store_delete_n": 10_000,
        "store_small": 1_000,
        "store_big": 100_000,
        "pocketpaw_ms": [1_000, 10_000],
        "throughput_seconds": 30,
    },
    "quick": {
        "delete_ns": [100, 1_000],
        "trials": {100: 3, 1_000: 3},
        "store_delete_n": 1_000,
        "store_small": 100,
        "store_big": 2_000,
        "pocketpaw_ms": [100, 300],
        "throughput_seconds": 5,
    },
}
MESSAGES_PER_STORE_SESSION = 10
THROUGHPUT_CONCURRENCY = 8
PASSWORD = "bench-password-123"


def configure_django(database_url: str) -> None:
    os.environ.update(
        DJANGO_SETTINGS_MODULE="pocketpaw.settings",
        DATABASE_URL=database_url,
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY="benchmark-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
        DJANGO_ALLOWED_HOSTS="testserver,localhost,127.0.0.1",
        THROTTLE_USER="100000000/second",
        THROTTLE_LOGIN_ADDRESS="100000000/second",
        THROTTLE_LOGIN_USERNAME="100000000/second",
    )
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    # One log line per request would cost more than some of the operations measured.
    logging.getLogger("pocketpaw.requests").setLevel(logging.WARNING)


# --- measuring ---------------------------------------------------------------------------


def median_seconds(run_once, trials: int, prepare=lambda: None) -> float:
    """Median wall time of `run_once(prepared)` over `trials`, each after an untimed `prepare()`."""
    times = []
    for _ in range(trials):
        prepared = prepare()
        start = time.perf_counter()
        run_once(prepared)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(field)


def peak_memory_growth_mb(run_once) -> tuple[float, float]:
    """Growth of this process's peak RSS (kernel's VmHWM, reset first) and tracemalloc's peak, in MB."""
    rss_before = _status_kib("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
    tracemalloc.start()
    run_once()
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return (_status_kib("VmHWM") - rss_before) / 1024, traced_peak / 1024 / 1024


# --- data, through the ORM's bulk paths ------------------------------------------------------


class Data:
    def __init__(self):
        from django.contrib.auth import get_user_model

        self.texts = message_texts(seed=42)
        self.users = get_user_model()
        self.counter = 0

    def user(self, username):
        user, created = self.users.objects.get_or_create(username=username)
        if created:
            user.set_password(PASSWORD)
            user.save()
        return user

    def sessions(self, owner, count, messages_each, *, rare_every=None):
        """`count` sessions of `messages_each` messages, oldest activity first."""
        from django.db import transaction
        from django.utils import timezone

        from sessions_app.models import Message, Session

        start = timezone.now() - timedelta(days=30)
        created = []
        batch = 2_000 // max(1, messages_each) or 1
        for first in range(0, count, batch):
            with transaction.atomic():
                sessions = Session.objects.bulk_create(
                    Session(
                        owner=owner,
                        key=f"bench_{self._next()}",
                        title="Benchmark",
                        message_count=messages_each,
                        updated_at=start + timedelta(seconds=first + i),
                    )
                    for i in range(min(batch, count - first))
                )
                Message.objects.bulk_create(
                    (
                        Message(session=session, role="user" if j % 2 == 0 else "assistant", content=text)
                        for index, session in enumerate(sessions)
                        for j, text in enumerate(
                            self._texts(messages_each, rare=rare_every and (first + index) % rare_every == 0)
                        )
                    ),
                    batch_size=2_000,
                )
            created.extend(sessions)
        return created

    def big_session(self, owner, messages):
        return self.sessions(owner, 1, messages)[0] if messages <= 2_000 else self._big(owner, messages)

    def _big(self, owner, messages):
        from django.db import transaction

        from sessions_app.models import Message, Session

        session = Session.objects.create(owner=owner, key=f"bench_{self._next()}", message_count=messages)
        for first in range(0, messages, 5_000):
            with transaction.atomic():
                Message.objects.bulk_create(
                    (Message(session=session, role="user", content=t) for t in self._texts(min(5_000, messages - first))),
                    batch_size=5_000,
                )
        return session

    def _texts(self, count, rare=False):
        for j in range(count):
            text = next(self.texts)
            yield f"{text} {RARE_WORD}" if rare and j == 0 else text

    def _next(self):
        self.counter += 1
        return f"{self.counter:09d}"


def analyze_like_autovacuum():
    """PostgreSQL's autovacuum analyzes a table after a bulk load; do it now rather than wait for it."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


def bearer_client(user):
    from django.test import Client
    from rest_framework_simplejwt.tokens import RefreshToken

    return Client(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")


def raw_delete(session_pk):
    """The bare statements that remove the same rows: the physical limit for the delete."""
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM sessions_app_message WHERE session_id = %s", [session_pk])
        cursor.execute("DELETE FROM sessions_app_session WHERE id = %s", [session_pk])


def api_delete(client, session):
    response = client.delete(f"/api/sessions/{session.key}")
    assert response.status_code == 200, response.content


# --- the figures ---------------------------------------------------------------------------


def figure_delete_scaling(data, sizes, results):
    owner = data.user("delete_owner")
    client = bearer_client(owner)
    rows = []
    for n in sizes["delete_ns"]:
        trials = sizes["trials"][n]
        ours = median_seconds(lambda s: api_delete(client, s), trials, lambda: data.big_session(owner, n))
        raw = median_seconds(lambda s: raw_delete(s.pk), trials, lambda: data.big_session(owner, n))
        row = {"n": n, "api": ours, "raw": raw, "ratio": ours / raw}
        if n == sizes["delete_ns"][-1]:
            session = data.big_session(owner, n)
            row["rss_growth_mb"], row["traced_peak_mb"] = peak_memory_growth_mb(lambda: api_delete(client, session))
        rows.append(row)
    results["delete_scaling"] = rows


def figure_store_size(data, sizes, results):
    owner = data.user("store_owner")
    client = bearer_client(owner)
    n = sizes["store_delete_n"]
    trials = 3
    data.sessions(owner, sizes["store_small"], MESSAGES_PER_STORE_SESSION, rare_every=997)
    small = median_seconds(lambda s: api_delete(client, s), trials, lambda: data.big_session(owner, n))
    started = time.perf_counter()
    data.sessions(owner, sizes["store_big"] - sizes["store_small"], MESSAGES_PER_STORE_SESSION, rare_every=997)
    build_seconds = time.perf_counter() - started
    analyze_like_autovacuum()
    big = median_seconds(lambda s: api_delete(client, s), trials, lambda: data.big_session(owner, n))
    results["store_size"] = {
        "n": n,
        "small_m": sizes["store_small"],
        "big_m": sizes["store_big"],
        "small": small,
        "big": big,
        "ratio": big / small,
        "build_seconds": build_seconds,
    }
    return owner, client


def figure_list(owner, client, results):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def api_list(_):
        assert client.get("/api/sessions", {"limit": 50}).status_code == 200

    def raw_list(_):
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT id, key, title, channel, created_at, updated_at, message_count, preview "
                "FROM sessions_app_session WHERE owner_id = %s ORDER BY updated_at DESC, id DESC LIMIT 50",
                [owner.pk],
            )
            cursor.fetchall()

    with CaptureQueriesContext(connection) as queries:
        api_list(None)
    # Read now: the captured list is a window on a log that later requests clear.
    query_count = len(queries)
    ours, raw = median_seconds(api_list, 21), median_seconds(raw_list, 21)
    # Where the API's time goes: its two queries through the ORM, and the rest (auth, DRF, JSON).
    from sessions_app import selectors

    count = median_seconds(lambda _: selectors.session_list_for_user(user=owner).count(), 21)
    page = median_seconds(lambda _: list(selectors.session_list_for_user(user=owner).order_by("-updated_at", "-id")[:50]), 21)
    results["list"] = {
        "sessions": owner.chat_sessions.count(),
        "queries": query_count,
        "api": ours,
        "raw": raw,
        "ratio": ours / raw,
        "count": count,
        "page": page,
    }


def figure_search(owner, client, results):
    from django.db.models import Exists, OuterRef

    from sessions_app.models import Message, Session

    def api_ids(word):
        response = client.get("/api/sessions/search", {"q": word, "limit": 20})
        assert response.status_code == 200
        return [s["id"] for s in response.json()["sessions"]]

    def scan_ids(word):
        """The plain case-insensitive scan: every message that contains the word, then the newest sessions."""
        matching = Message.objects.filter(content__icontains=word).values("session_id")
        sessions = Session.objects.filter(owner=owner, pk__in=matching).order_by("-updated_at", "-id")
        return list(sessions.values_list("key", flat=True)[:20])

    def exists_scan_ids(word):
        """The same scan written as a per-session EXISTS, newest first (it can stop early)."""
        matching = Message.objects.filter(session_id=OuterRef("pk"), content__icontains=word)
        sessions = Session.objects.filter(owner=owner).filter(Exists(matching)).order_by("-updated_at", "-id")
        return list(sessions.values_list("key", flat=True)[:20])

    rows = []
    for label, word in [("rare", RARE_WORD), ("common", COMMON_WORD)]:
        expected = scan_ids(word)
        assert api_ids(word) == expected == exists_scan_ids(word), label
        ours = median_seconds(lambda _: api_ids(word), 7)
        scan = median_seconds(lambda _: scan_ids(word), 3)
        exists_scan = median_seconds(lambda _: exists_scan_ids(word), 3)
        rows.append(
            {
                "word": label,
                "found": len(expected),
                "api": ours,
                "scan": scan,
                "exists_scan": exists_scan,
                "speedup": scan / ours,
                "speedup_vs_exists": exists_scan / ours,
            }
        )
    results["search"] = {"messages": Message.objects.count(), "rows": rows}


def figure_pocketpaw(data, sizes, results):
    venv = BENCH / ".venv-pocketpaw"
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    install = subprocess.run([str(python), "-m", "pip", "install", "--quiet", "pocketpaw"], capture_output=True, text=True)
    if install.returncode != 0:
        results["pocketpaw"] = {"skipped": "the pocketpaw package would not install: " + install.stderr.strip()[-300:]}
        return

    from sessions_app import selectors, services
    from sessions_app.models import DeletionRecord

    rows = []
    for m in sizes["pocketpaw_ms"]:
        theirs = json.loads(
            subprocess.run(
                [str(python), str(BENCH / "pocketpaw_driver.py"), "--sessions", str(m), "--messages", str(MESSAGES_PER_STORE_SESSION)],
                capture_output=True,
                text=True,
                check=True,
                cwd=BENCH,
            ).stdout
        )
        owner = data.user(f"pocketpaw_{m}")
        sessions = data.sessions(owner, m, MESSAGES_PER_STORE_SESSION, rare_every=997)
        victims = iter(sessions)
        ours = {
            "delete": median_seconds(
                lambda s: services.session_delete(session=s, via=DeletionRecord.Via.API), 5, lambda: next(victims)
            ),
            "rename": median_seconds(lambda _: services.session_rename(session=sessions[-1], title="Renamed"), 5),
            "list": median_seconds(lambda _: selectors.session_page_for_user(user=owner, limit=50, offset=0), 5),
            "search_rare": median_seconds(lambda _: selectors.session_search_for_user(user=owner, query=RARE_WORD, limit=20), 5),
            "search_common": median_seconds(lambda _: selectors.session_search_for_user(user=owner, query=COMMON_WORD, limit=20), 5),
        }
        rows.append({"m": m, "ours": ours, "theirs": theirs})
    results["pocketpaw"] = {"rows": rows}


def figure_pocketpaw_delete_scaling(sizes, results):
    """PocketPaw's delete of one session of N messages, for the scaling plot."""
    python = BENCH / ".venv-pocketpaw" / "bin" / "python"
    if "skipped" in results.get("pocketpaw", {}):
        return
    points = []
    for n in sizes["delete_ns"]:
        out = subprocess.run(
            [str(python), str(BENCH / "pocketpaw_driver.py"), "--sessions", "1", "--messages", str(n), "--trials", "1"],
            capture_output=True,
            text=True,
            check=True,
            cwd=BENCH,
        ).stdout
        points.append({"n": n, "delete": json.loads(out)["delete"]})
    results["pocketpaw_delete_scaling"] = points


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def figure_throughput(data, sizes, results, database_url):
    from django.db import connections

    owner = data.user("load_owner")
    token = bearer_client(owner).defaults["HTTP_AUTHORIZATION"]
    connections.close_all()
    port = free_port()
    env = {**os.environ, "BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": "2", "DATABASE_URL": database_url}
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "-c", "python:pocketpaw.gunicorn_conf", "pocketpaw.wsgi"],
        cwd=PROJECT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.time() + 30
        while True:
            try:
                connection = HTTPConnection("127.0.0.1", port, timeout=5)
                connection.request("GET", "/api/health")
                if connection.getresponse().status == 200:
                    break
            except OSError:
                pass
            if time.time() > deadline:
                raise RuntimeError("gunicorn did not start")
            time.sleep(0.2)
        results["throughput"] = run_load(port, token, sizes["throughput_seconds"])
    finally:
        server.terminate()
        server.wait(timeout=30)


def run_load(port, token, seconds):
    """A fixed number of clients, each looping create, append x3, list, history, delete."""
    latencies, errors, lock = [], [], threading.Lock()
    stop_at = time.perf_counter() + seconds
    headers = {"Authorization": token, "Content-Type": "application/json"}
    texts = message_texts(seed=9)

    def call(connection, method, path, body, expected):
        started = time.perf_counter()
        connection.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
        response = connection.getresponse()
        response.read()
        elapsed = time.perf_counter() - started
        with lock:
            latencies.append(elapsed)
            if response.status != expected:
                errors.append(f"{method} {path}: {response.status}")

    def client(number):
        connection = HTTPConnection("127.0.0.1", port, timeout=30)
        loop = 0
        while time.perf_counter() < stop_at:
            key = f"load_{number}_{loop}"
            loop += 1
            call(connection, "POST", "/api/sessions", {"id": key}, 201)
            for role in ["user", "assistant", "user"]:
                call(connection, "POST", f"/api/sessions/{key}/messages", {"role": role, "content": next(texts)}, 201)
            call(connection, "GET", "/api/sessions?limit=50", None, 200)
            call(connection, "GET", f"/api/sessions/{key}/history", None, 200)
            call(connection, "DELETE", f"/api/sessions/{key}", None, 200)

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(THROUGHPUT_CONCURRENCY)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "seconds": elapsed,
        "concurrency": THROUGHPUT_CONCURRENCY,
        "requests": len(latencies),
        "rps": len(latencies) / elapsed,
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
        "errors": len(errors),
        "error_samples": errors[:5],
    }


# --- report --------------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def machine_lines(database_url):
    from django.db import connection

    cpu = next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines() if l.startswith("model name")), "?")
    memory_gb = _meminfo_kib("MemTotal") / 1024 / 1024
    database = f"SQLite {connection.Database.sqlite_version}" if connection.vendor == "sqlite" else None
    if database is None:
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            database = f"PostgreSQL {cursor.fetchone()[0]}"
    return [
        f"- Machine: {os.cpu_count()} cores ({cpu}), {memory_gb:.0f} GiB, {platform.platform()}",
        f"- Python {platform.python_version()}, Django {__import__('django').get_version()}, {database}",
        f"- Command: `{' '.join(shlex.quote(a) for a in sys.argv)}`",
    ]


def _meminfo_kib(field):
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def ms(seconds):
    return f"{seconds * 1000:.2f} ms"


def report(results, database_url, mode, wall_seconds, plot_name) -> str:
    lines = [f"# Benchmark results ({mode})", "", *machine_lines(database_url), f"- Wall time of the run: {wall_seconds:.0f} s", ""]
    lines += ["## 1. Delete vs the bare SQL that removes the same rows", "", "| N messages | API DELETE | bare SQL | ratio | target |", "| --- | --- | --- | --- | --- |"]
    for row in results["delete_scaling"]:
        last = row is results["delete_scaling"][-1]
        target = f"≤ 1.2: {verdict(row['ratio'] <= 1.2)}" if last else "-"
        lines.append(f"| {row['n']:,} | {ms(row['api'])} | {ms(row['raw'])} | {row['ratio']:.2f} | {target} |")
    last = results["delete_scaling"][-1]
    lines += ["", "At small N the fixed cost of the request dominates: the token check, three short queries, the "
              "audit record and, after the commit, the WAL checkpoint that keeps the delete permanent (docs/deletion.md). "
              "The target is set where the rows themselves dominate. Medians of a few trials on a shared machine: "
              "expect a few tenths of variation between runs.", "",
              f"Memory of the process serving one API delete of {last['n']:,} messages: peak RSS grew {last['rss_growth_mb']:.2f} MB "
              f"(kernel's VmHWM), Python allocations peaked at {last['traced_peak_mb']:.2f} MB (tracemalloc); target < 5 MB: "
              f"{verdict(last['rss_growth_mb'] < 5)}.", ""]
    store = results["store_size"]
    lines += ["## 2. Delete does not care how big the store is", "",
              f"Deleting a session of {store['n']:,} messages with {store['small_m']:,} other sessions: {ms(store['small'])}; "
              f"with {store['big_m']:,}: {ms(store['big'])}. Ratio {store['ratio']:.2f}, target ≤ 1.3: {verdict(store['ratio'] <= 1.3)}. "
              f"(Building the {store['big_m'] - store['small_m']:,} extra sessions took {store['build_seconds']:.0f} s.)", ""]
    lines += ["## 3. Against PocketPaw's own FileMemoryStore", ""]
    pocketpaw = results["pocketpaw"]
    if "skipped" in pocketpaw:
        lines += [f"Skipped: {pocketpaw['skipped']}", ""]
    else:
        lines += ["| sessions (10 messages each) | operation | this service | PocketPaw | PocketPaw ÷ ours | faster? |", "| --- | --- | --- | --- | --- | --- |"]
        for row in pocketpaw["rows"]:
            for op in ["delete", "rename", "list", "search_rare", "search_common"]:
                ratio = row["theirs"][op] / row["ours"][op]
                lines.append(f"| {row['m']:,} | {op} | {ms(row['ours'][op])} | {ms(row['theirs'][op])} | {ratio:.1f}× | {verdict(ratio > 1)} |")
        lines.append("")
    listing = results["list"]
    lines += ["## 4. List", "",
              f"`GET /api/sessions?limit=50` for a user with {listing['sessions']:,} sessions: {ms(listing['api'])} in {listing['queries']} queries "
              f"(authentication, page, total); one indexed `SELECT ... ORDER BY updated_at DESC LIMIT 50`: {ms(listing['raw'])}. "
              f"Ratio {listing['ratio']:.2f}, target ≤ 3: {verdict(listing['ratio'] <= 3)}. The query count is pinned by "
              "`tests/test_api_browse.py::test_list_query_count_does_not_grow_with_sessions`.", "",
              f"Where the time goes: `total` (a `COUNT(*)` over the user's sessions, which grows with them) takes "
              f"{ms(listing['count'])}; the page of 50 through the ORM, model instances included, {ms(listing['page'])}; "
              f"the remaining {ms(max(0.0, listing['api'] - listing['count'] - listing['page']))} is the request itself "
              "(JWT check and its user query, DRF, serialising 50 sessions, JSON). The bare `SELECT` does none of that, "
              "so 3× of it is out of reach for any Django view; a per-user session counter would take the `COUNT(*)` out.", ""]
    search = results["search"]
    lines += ["## 5. Search", "", f"Over {search['messages']:,} messages, the same 20 sessions found by every method:", "",
              "| word | sessions found | API search | plain icontains scan | speed-up | per-session EXISTS scan | speed-up | target ≥ 10× |",
              "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for row in search["rows"]:
        lines.append(f"| {row['word']} | {row['found']} | {ms(row['api'])} | {ms(row['scan'])} | {row['speedup']:.1f}× | "
                     f"{ms(row['exists_scan'])} | {row['speedup_vs_exists']:.1f}× | {verdict(row['speedup'] >= 10)} |")
    lines += ["", "Search reads the user's sessions newest first and asks of each whether a message matches, so a common word "
              "stops after 20 sessions. A rare word has to read every message: on SQLite there is deliberately no "
              "full-text index, because keeping deleted text out of an FTS5 index (its `secure-delete`) cost about 2.5 ms "
              "per deleted message in our measurements, which would make deleting a 100,000-message session take minutes "
              "(see `sessions_app/search.py`, `docs/deletion.md`). PostgreSQL has a `pg_trgm` GIN index for it.", ""]
    load = results["throughput"]
    lines += ["## 6. Throughput under gunicorn (2 workers)", "",
              f"{load['concurrency']} clients on loopback for {load['seconds']:.0f} s, each looping create, 3 appends, list, history, delete: "
              f"{load['requests']:,} requests, {load['rps']:.0f} requests/s, p50 {load['p50_ms']:.1f} ms, p99 {load['p99_ms']:.1f} ms, "
              f"{load['errors']} errors (target 0: {verdict(load['errors'] == 0)}). {', '.join(load['error_samples'])}", ""]
    lines += [f"![Delete time against session size]({plot_name})", ""]
    return "\n".join(lines)


def plot(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4.5))
    ns = [row["n"] for row in results["delete_scaling"]]
    axes.plot(ns, [row["api"] * 1000 for row in results["delete_scaling"]], "o-", label="this service (DELETE /api/sessions/{id})")
    axes.plot(ns, [row["raw"] * 1000 for row in results["delete_scaling"]], "s--", label="bare SQL DELETEs")
    if results.get("pocketpaw_delete_scaling"):
        points = results["pocketpaw_delete_scaling"]
        axes.plot([p["n"] for p in points], [p["delete"] * 1000 for p in points], "^:", label="PocketPaw FileMemoryStore")
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("messages in the deleted session")
    axes.set_ylabel("delete time (ms, median)")
    axes.set_title("Delete time against session size")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, under a minute")
    parser.add_argument("--output", type=Path, help="the report (default bench/RESULTS.md, or a temporary file with --quick)")
    parser.add_argument("--plot", type=Path, help="the PNG (default bench/delete-scaling.png, or a temporary file with --quick)")
    args = parser.parse_args()
    mode = "quick" if args.quick else "default"
    scratch = Path(tempfile.mkdtemp(prefix="pocketpaw-bench-"))
    output = args.output or (scratch / "RESULTS.md" if args.quick else BENCH / "RESULTS.md")
    plot_path = args.plot or (scratch / "delete-scaling.png" if args.quick else BENCH / "delete-scaling.png")
    database_url = os.environ.get("DATABASE_URL") if os.environ.get("DATABASE_URL", "").startswith("postgres") else f"sqlite:///{scratch / 'bench.sqlite3'}"

    started = time.perf_counter()
    configure_django(database_url)
    sizes = SIZES[mode]
    data = Data()
    results = {}
    steps = [
        ("delete scaling", lambda: figure_delete_scaling(data, sizes, results)),
        ("store size", lambda: results.setdefault("_store", figure_store_size(data, sizes, results))),
        ("list", lambda: figure_list(*results["_store"], results)),
        ("search", lambda: figure_search(*results["_store"], results)),
        ("pocketpaw", lambda: figure_pocketpaw(data, sizes, results)),
        ("pocketpaw delete scaling", lambda: figure_pocketpaw_delete_scaling(sizes, results)),
        ("throughput", lambda: figure_throughput(data, sizes, results, database_url)),
    ]
    for name, step in steps:
        step_started = time.perf_counter()
        step()
        print(f"bench: {name} done in {time.perf_counter() - step_started:.0f} s", file=sys.stderr, flush=True)
    results.pop("_store")
    output.parent.mkdir(parents=True, exist_ok=True)
    plot_path.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(report(results, database_url, mode, time.perf_counter() - started, plot_path.name))
    plot(results, plot_path)
    (output.with_suffix(".json")).write_text(json.dumps(results, indent=2, default=str))
    print(f"bench: wrote {output} and {plot_path}", file=sys.stderr)


if __name__ == "__main__":
    main()

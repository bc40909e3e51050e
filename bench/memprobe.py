"""How much memory one delete (or export) costs the process that serves it, measured in a fresh process.

Run by run.py with the benchmark's environment (same DATABASE_URL). It warms the
whole request path up on a small session first (imports, URL resolver, the
serializer and renderer, the on-commit purge), so that what is left to grow
during the measured delete is the delete itself. Then it resets the kernel's
peak-RSS mark (VmHWM, via /proc/self/clear_refs), runs one delete and reports
(with `--how export`, one JSON export of the session, read to its end, instead; with
`--how delete-all`, the owner's `POST /api/sessions/bulk-delete {"all": true}`):

- rss_growth_kib: VmHWM after the delete minus VmRSS just before it (the kernel's
  own accounting of this process: Python objects, malloc arenas, SQLite's page cache);
- maxrss_growth_kib: the same from resource.getrusage's ru_maxrss, which cannot be
  reset, so it only shows growth beyond the warm-up's peak (a lower bound);
- traced_peak_kib (with --tracemalloc): the peak of Python's own allocations.

Prints one JSON object.
"""

import argparse
import gc
import json
import os
import resource
import sys
import time
import tracemalloc
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))
sys.path.insert(0, str(BENCH))


from timing import status_kib  # noqa: E402

RSS_KINDS = ["RssAnon", "RssFile", "RssShmem"]


def reset_peak(pid: str = "self") -> bool:
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


class ProcessMemory:
    """The kernel's accounting of one process's memory across a measured step (its peak reset first)."""

    def __init__(self, pid: str = "self"):
        self.pid = pid

    def start(self) -> None:
        self.peak_reset = reset_peak(self.pid)
        self.rss_before, self.hwm_before = status_kib("VmRSS", self.pid), status_kib("VmHWM", self.pid)
        self.kinds_before = {kind: status_kib(kind, self.pid) for kind in RSS_KINDS}

    def stop(self) -> dict:
        hwm_after, rss_after = status_kib("VmHWM", self.pid), status_kib("VmRSS", self.pid)
        return {
            "peak_reset": self.peak_reset,
            "rss_before_kib": self.rss_before,
            "hwm_before_kib": self.hwm_before,
            "hwm_after_kib": hwm_after,
            "rss_after_kib": rss_after,
            # Without the reset, the peak may predate the step: growth is then a lower bound.
            "rss_growth_kib": hwm_after - (self.rss_before if self.peak_reset else self.hwm_before),
            # Where resident memory is after the step against before: the heap (anonymous), mapped
            # files (the SQLite library, WAL index) and shared memory (PostgreSQL's shared buffers).
            "rss_kinds_delta_kib": {
                kind: status_kib(kind, self.pid) - self.kinds_before[kind] for kind in RSS_KINDS
            },
        }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--owner", required=True)
    parser.add_argument("--key", help="the session to delete (or export); not with --how delete-all")
    parser.add_argument("--how", choices=["api", "raw", "export", "delete-all"], default="api")
    parser.add_argument("--tracemalloc", action="store_true")
    args = parser.parse_args()
    if (args.how == "delete-all") == (args.key is not None):
        parser.error("--key names the session to delete or export; --how delete-all takes none")

    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from rest_framework_simplejwt.tokens import RefreshToken

    from baseline import bare_session_delete
    from sessions_app import services
    from sessions_app.models import Message, Session

    def bearer_client(user):
        return Client(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")

    owner = get_user_model().objects.get(username=args.owner)
    client = bearer_client(owner)
    victim = Session.objects.get(owner=owner, key=args.key) if args.how != "delete-all" else None

    def api_delete(key):
        response = client.delete(f"/api/sessions/{key}")
        assert response.status_code == 200, response.content

    def delete_all(user_client, expected=None):
        response = user_client.post("/api/sessions/bulk-delete", {"all": True}, content_type="application/json")
        assert response.status_code == 200, response.content
        assert expected is None or response.json()["deleted"] == expected, response.content

    def export(key):
        response = client.get(f"/api/sessions/{key}/export")
        assert response.status_code == 200, response.content
        return sum(len(chunk) for chunk in response.streaming_content)

    # Warm-up: the same path on a session of a few messages (for delete-all, another
    # user's few sessions, since the owner's would all go).
    warm_owner = owner
    if args.how == "delete-all":
        warm_owner = get_user_model().objects.create(username=f"memprobe_warm_{os.getpid()}")
    for _ in range(2):
        warm = services.session_create(owner=warm_owner)
        for i in range(3):
            services.message_create(session=warm, role="user", content=f"warm-up message {i}")
        if args.how == "api":
            assert client.get(f"/api/sessions/{warm.key}").status_code == 200
            api_delete(warm.key)
        elif args.how == "export":
            export(warm.key)
            bare_session_delete(warm.pk)
        elif args.how == "delete-all":
            delete_all(bearer_client(warm_owner), expected=1)
        else:
            bare_session_delete(warm.pk)
    if args.how == "delete-all":
        warm_owner.delete()
        sessions_before = Session.objects.filter(owner=owner).count()
    gc.collect()

    # On PostgreSQL the delete runs in the server's backend process for this connection: its memory
    # is measured alike when that process is on this machine (its peak can be reset only by its
    # user or root; otherwise the growth is a lower bound).
    backend = None
    if connection.vendor == "postgresql" and connection.settings_dict["HOST"] in ("", "localhost", "127.0.0.1", "::1"):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            pid = str(cursor.fetchone()[0])
        try:
            is_postgres = Path(f"/proc/{pid}/comm").read_text().strip() == "postgres"
        except OSError:
            is_postgres = False
        backend = ProcessMemory(pid) if is_postgres else None
    if args.tracemalloc:
        tracemalloc.start()
    this_process = ProcessMemory()
    this_process.start()
    if backend:
        try:
            backend.start()
        except OSError:
            backend = None
    maxrss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    exported_bytes = None
    if args.how == "api":
        api_delete(victim.key)
    elif args.how == "export":
        exported_bytes = export(victim.key)
    elif args.how == "delete-all":
        delete_all(client, expected=sessions_before)
    else:
        bare_session_delete(victim.pk)
    seconds = time.perf_counter() - started
    try:
        backend_memory = backend.stop() if backend else None
    except (OSError, KeyError):
        backend_memory = None
    memory = this_process.stop()
    maxrss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    traced_peak = tracemalloc.get_traced_memory()[1] if args.tracemalloc else None
    if args.tracemalloc:
        tracemalloc.stop()
    if args.how == "delete-all":
        assert not Session.objects.filter(owner=owner).exists()
    elif args.how != "export":
        assert not Message.objects.filter(session_id=victim.pk).exists()

    print(
        json.dumps(
            {
                "how": args.how,
                "seconds": seconds,
                "exported_bytes": exported_bytes,
                **memory,
                "maxrss_growth_kib": maxrss_after - maxrss_before,
                "traced_peak_kib": traced_peak / 1024 if traced_peak is not None else None,
                "backend": backend_memory,
                "pid": os.getpid(),
            }
        )
    )


if __name__ == "__main__":
    main()

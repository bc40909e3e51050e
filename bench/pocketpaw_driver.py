"""Times PocketPaw's own FileMemoryStore on the benchmark's data.

Runs inside bench/.venv-pocketpaw (the `pocketpaw` package from PyPI), never in the
service's environment. For each store size it writes M sessions of N messages
into a temporary directory in the store's own file format (one JSON list per
session, exactly as FileMemoryStore._save_session_entry writes it, checked
against a message saved through the store's API), builds the index with the
store's own rebuild_session_index(), and times what PocketPaw's
/api/v1/sessions routes do with the store: delete_session, update_session_title,
the list route (read _index.json, sort by last activity, take 50) and
search_sessions. Session i holds the same texts as session i of the service's
copy (corpus.session_messages), so both stores hold the same data.

    bench/.venv-pocketpaw/bin/python bench/pocketpaw_driver.py --spec '{"compare": [...], "scaling": [...]}'

Prints one JSON object on standard output.
"""

import argparse
import asyncio
import json
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from pathlib import Path

from corpus import COMMON_WORD, RARE_WORD, TextPool, rare_sessions, session_messages
from pocketpaw.memory.file_store import FileMemoryStore
from pocketpaw.memory.protocol import MemoryEntry, MemoryType

LOOP = asyncio.new_event_loop()
run = LOOP.run_until_complete
START = datetime(2025, 1, 1, tzinfo=UTC)


def status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def session_rows(pool, index, messages, rare, offset=0):
    at = START + timedelta(seconds=index)
    return [
        {
            "id": str(uuid.UUID(int=(offset + index * messages + j) + 1)),
            "role": role,
            "content": content,
            "timestamp": (at - timedelta(milliseconds=messages - j)).isoformat(),
            "metadata": {},
        }
        for j, (role, content) in enumerate(session_messages(pool, index, messages, rare=rare, offset=offset))
    ]


def write_session(store, key, rows):
    # json.dumps(..., indent=2): what _save_session_entry writes.
    store._get_session_file(key).write_text(json.dumps(rows, indent=2), encoding="utf-8")


def check_file_format(store) -> None:
    """A message saved through the store's own API is stored in the same shape as ours."""
    key = "web:format-check"
    entry = MemoryEntry(id="", type=MemoryType.SESSION, content="hello", role="user", session_key=key)
    run(store.save(entry))
    saved = json.loads(store._get_session_file(key).read_text(encoding="utf-8"))
    ours = session_rows(TextPool(size=4), 0, 1, set())
    assert [sorted(row) for row in saved] == [sorted(row) for row in ours], (saved, ours)
    assert run(store.delete_session(key))


def timed(function, trials):
    times = []
    for trial in range(trials):
        started = time.perf_counter()
        function(trial)
        times.append(time.perf_counter() - started)
    return {"median": statistics.median(times), "times": times}


def compare(pool, m, n, trials, victims):
    with tempfile.TemporaryDirectory(prefix="pocketpaw-store-") as directory:
        store = FileMemoryStore(base_path=Path(directory))
        check_file_format(store)
        rare = rare_sessions(m)
        keys = [f"web:s{i:07d}" for i in range(m)]
        started = time.perf_counter()
        for i, key in enumerate(keys):
            write_session(store, key, session_rows(pool, i, n, rare))
        store.rebuild_session_index()
        build_seconds = time.perf_counter() - started
        loaded = run(store.get_session(keys[0]))
        assert [e.content for e in loaded] == [c for _, c in session_messages(pool, 0, n, rare=rare)]

        def list_route(_):
            # PocketPaw's GET /api/v1/sessions?limit=50, minus HTTP.
            index = store._load_session_index()
            entries = sorted(index.items(), key=lambda kv: kv[1].get("last_activity", ""), reverse=True)[:50]
            return {"sessions": [{"id": k, **meta} for k, meta in entries], "total": len(index)}

        def delete(trial):
            assert run(store.delete_session(keys[victims[trial]]))

        def rename(trial):
            assert run(store.update_session_title(keys[-1 - trial], f"Renamed {trial}"))

        ops = {
            "delete": timed(delete, len(victims)),
            "rename": timed(rename, trials),
            "list": timed(list_route, trials),
            "search_rare": timed(lambda _: run(store.search_sessions(RARE_WORD, 20)), trials),
            "search_common": timed(lambda _: run(store.search_sessions(COMMON_WORD, 20)), trials),
        }
        assert len(list_route(0)["sessions"]) == min(50, m - len(victims))
        found = {
            "rare": sorted(int(r["id"].rsplit("s", 1)[1]) for r in run(store.search_sessions(RARE_WORD, 20))),
            "common": len(run(store.search_sessions(COMMON_WORD, 20))),
        }
        return {"m": m, "n": n, "build_seconds": build_seconds, "found": found, "ops": ops}


def scaling(pool, n, others, trials, measure_memory):
    """Deleting one session of n messages from a store of `others` sessions of 10 messages."""
    with tempfile.TemporaryDirectory(prefix="pocketpaw-store-") as directory:
        store = FileMemoryStore(base_path=Path(directory))
        for i in range(others):
            write_session(store, f"web:s{i:07d}", session_rows(pool, i, 10, set()))
        store.rebuild_session_index()
        times, memory = [], None
        for trial in range(trials + 1):
            key = f"web:big{trial}"
            rows = session_rows(pool, others + trial, n, set(), offset=others * 10)
            write_session(store, key, rows)
            run(store._update_session_index(key, None, rows))
            del rows
            last = trial == trials
            if last and measure_memory:
                try:
                    Path("/proc/self/clear_refs").write_text("5")
                except OSError:
                    pass
                rss_before = status_kib("VmRSS")
            started = time.perf_counter()
            assert run(store.delete_session(key))
            elapsed = time.perf_counter() - started
            if trial == 0:
                continue  # warm-up: the first delete starts asyncio's thread pool
            times.append(elapsed)
            if last and measure_memory:
                memory = (status_kib("VmHWM") - rss_before) / 1024
        return {
            "n": n,
            "others": others,
            "median": statistics.median(times),
            "times": times,
            "rss_growth_mb": memory,
        }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--spec", required=True, help="JSON: compare [{m, n}], scaling [{n, others, trials}], trials"
    )
    args = parser.parse_args()
    spec = json.loads(args.spec)
    pool = TextPool()
    out = {"pocketpaw_version": version("pocketpaw"), "compare": [], "scaling": []}
    for job in spec.get("compare", []):
        out["compare"].append(compare(pool, job["m"], job["n"], spec["trials"], job["victims"]))
    for i, job in enumerate(spec.get("scaling", [])):
        last = i == len(spec["scaling"]) - 1
        out["scaling"].append(scaling(pool, job["n"], job["others"], job["trials"], measure_memory=last))
    print(json.dumps(out))


if __name__ == "__main__":
    main()

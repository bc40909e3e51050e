"""Times PocketPaw's own FileMemoryStore on the benchmark's data.

Runs inside bench/.venv-pocketpaw (the `pocketpaw` package from PyPI), never in
the service's environment. Writes M sessions of N messages in the store's own
file format (one JSON list per session, then its own index rebuild), and times
the operations its API routes perform: delete, rename, list (limit 50) and search.
Prints one JSON object on standard output.
"""
import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

from corpus import RARE_WORD, message_texts
from pocketpaw.memory.file_store import FileMemoryStore


def write_sessions(store: FileMemoryStore, *, sessions: int, messages: int, seed: int) -> list[str]:
    keys = []
    texts = message_texts(seed=seed)
    for i in range(sessions):
        key = f"web:bench{i:07d}"
        rows = []
        for j in range(messages):
            content = next(texts)
            if i % 997 == 0 and j == 0:
                content += f" {RARE_WORD}"
            rows.append(
                {
                    "id": f"{i}-{j}",
                    "role": "user" if j % 2 == 0 else "assistant",
                    "content": content,
                    "timestamp": f"2025-01-01T00:{(i // 60) % 60:02d}:{i % 60:02d}.{j:06d}+00:00",
                    "metadata": {},
                }
            )
        store._get_session_file(key).write_text(json.dumps(rows, indent=2), encoding="utf-8")
        keys.append(key)
    store.rebuild_session_index()
    return keys


def median_time(function, trials: int) -> float:
    times = []
    for trial in range(trials):
        start = time.perf_counter()
        function(trial)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, required=True)
    parser.add_argument("--messages", type=int, required=True)
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as directory:
        store = FileMemoryStore(base_path=Path(directory))
        keys = write_sessions(store, sessions=args.sessions, messages=args.messages, seed=args.seed)
        run = asyncio.run

        def list_sessions(_):
            # What PocketPaw's GET /api/v1/sessions does with the store.
            index = store._load_session_index()
            sorted(index.items(), key=lambda kv: kv[1].get("last_activity", ""), reverse=True)[:50]

        results = {
            "delete": median_time(lambda t: run(store.delete_session(keys[t])), args.trials),
            "rename": median_time(
                lambda t: run(store.update_session_title(keys[-1 - t], f"Renamed {t}")), args.trials
            ),
            "list": median_time(list_sessions, args.trials),
            "search_rare": median_time(lambda t: run(store.search_sessions(RARE_WORD, 20)), args.trials),
            "search_common": median_time(lambda t: run(store.search_sessions("the", 20)), args.trials),
        }
    print(json.dumps(results))


if __name__ == "__main__":
    main()

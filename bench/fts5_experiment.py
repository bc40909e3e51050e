"""What an FTS5 trigram index would give SQLite's search, and what it would cost deletes.

Not part of `make bench`: the evidence behind the report's note on rare-word search
on SQLite. It needs no Django: plain SQLite files in a temporary directory, with the
service's pragmas (WAL, synchronous=NORMAL, secure_delete=ON), a message table shaped
like sessions_app_message, and the benchmark's corpus. For each variant it measures
the build rate, the file size, a rare-word search (newest-first EXISTS scan, and
through the index where there is one; same sessions found) and deleting a session of
`--delete` messages with the bare DELETE statements.

    .venv/bin/python bench/fts5_experiment.py [--sessions 10000] [--delete 1000]

FTS5's `secure-delete` option (which removes a deleted row's entries from the index
at once, instead of leaving them in older segments until a merge) needs SQLite 3.44
or newer: the script uses pysqlite3 (pysqlite3-binary) when it is installed, and
skips that variant otherwise.
"""

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from corpus import RARE_WORD, TextPool, rare_sessions, session_messages

try:
    import pysqlite3 as sqlite3
except ImportError:
    import sqlite3

MESSAGES_PER_SESSION = 10
VARIANTS = {
    "no index (the service today)": None,
    "FTS5 trigram, external content, triggers": "plain",
    "FTS5 trigram, external content, triggers, secure-delete": "secure",
}


def open_db(path: Path, fts: str | None):
    db = sqlite3.connect(path, isolation_level=None)
    db.executescript("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA secure_delete=ON;")
    db.execute("CREATE TABLE session (id INTEGER PRIMARY KEY, owner_id INTEGER, updated_at INTEGER)")
    db.execute("CREATE INDEX session_owner_recent ON session (owner_id, updated_at DESC, id DESC)")
    db.execute(
        "CREATE TABLE message (id INTEGER PRIMARY KEY, session_id INTEGER, role TEXT, content TEXT, "
        "metadata TEXT, created_at INTEGER)"
    )
    db.execute("CREATE INDEX message_session_time ON message (session_id, created_at)")
    if fts:
        db.execute(
            "CREATE VIRTUAL TABLE message_fts USING fts5("
            "content, tokenize='trigram', content='message', content_rowid='id')"
        )
        if fts == "secure":
            db.execute("INSERT INTO message_fts(message_fts, rank) VALUES ('secure-delete', 1)")
        db.execute(
            "CREATE TRIGGER message_fts_insert AFTER INSERT ON message BEGIN "
            "INSERT INTO message_fts(rowid, content) VALUES (new.id, new.content); END"
        )
        db.execute(
            "CREATE TRIGGER message_fts_delete AFTER DELETE ON message BEGIN "
            "INSERT INTO message_fts(message_fts, rowid, content) VALUES ('delete', old.id, old.content); END"
        )
    return db


def fill(db, pool, sessions: int) -> float:
    rare = rare_sessions(sessions)
    started = time.perf_counter()
    for first in range(0, sessions, 2_000):
        db.execute("BEGIN")
        for i in range(first, min(sessions, first + 2_000)):
            db.execute("INSERT INTO session VALUES (?, 1, ?)", (i + 1, i))
            db.executemany(
                "INSERT INTO message (session_id, role, content, metadata, created_at) VALUES (?, ?, ?, '{}', ?)",
                [
                    (i + 1, role, text, j)
                    for j, (role, text) in enumerate(
                        session_messages(pool, i, MESSAGES_PER_SESSION, rare=rare)
                    )
                ],
            )
        db.execute("COMMIT")
    seconds = time.perf_counter() - started
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return seconds


def search_scan(db, word):
    return [
        row[0]
        for row in db.execute(
            "SELECT s.id FROM session s WHERE s.owner_id = 1 AND EXISTS (SELECT 1 FROM message m "
            "WHERE m.session_id = s.id AND m.content LIKE ?) ORDER BY s.updated_at DESC, s.id DESC LIMIT 20",
            (f"%{word}%",),
        )
    ]


def search_index(db, word):
    # The index narrows to candidate messages; LIKE keeps icontains' exact meaning.
    return [
        row[0]
        for row in db.execute(
            "SELECT s.id FROM session s WHERE s.owner_id = 1 AND s.id IN (SELECT m.session_id FROM message m "
            "WHERE m.id IN (SELECT rowid FROM message_fts WHERE message_fts MATCH ?) AND m.content LIKE ?) "
            "ORDER BY s.updated_at DESC, s.id DESC LIMIT 20",
            ('"' + word.replace('"', '""') + '"', f"%{word}%"),
        )
    ]


def best_of(function, times=3):
    results = []
    for _ in range(times):
        started = time.perf_counter()
        found = function()
        results.append(time.perf_counter() - started)
    return min(results), found


def delete_session(db, pool, session_id: int, messages: int) -> float:
    db.execute("BEGIN")
    db.execute("INSERT INTO session VALUES (?, 1, ?)", (session_id, 10**9 + session_id))
    db.executemany(
        "INSERT INTO message (session_id, role, content, metadata, created_at) VALUES (?, 'user', ?, '{}', ?)",
        [(session_id, pool.text(7 + j), j) for j in range(messages)],
    )
    db.execute("COMMIT")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    started = time.perf_counter()
    db.execute("BEGIN IMMEDIATE")
    db.execute("DELETE FROM message WHERE session_id = ?", (session_id,))
    db.execute("DELETE FROM session WHERE id = ?", (session_id,))
    db.execute("COMMIT")
    return time.perf_counter() - started


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sessions", type=int, default=10_000, help="sessions of 10 messages in the store")
    parser.add_argument("--delete", type=int, default=1_000, help="messages in the deleted session")
    parser.add_argument("--trials", type=int, default=3)
    args = parser.parse_args()
    secure_ok = tuple(int(x) for x in sqlite3.sqlite_version.split(".")) >= (3, 44)
    print(
        f"SQLite {sqlite3.sqlite_version} ({sqlite3.__name__}); store: {args.sessions:,} sessions × "
        f"{MESSAGES_PER_SESSION} messages; deleted session: {args.delete:,} messages"
    )
    pool = TextPool()
    directory = Path(tempfile.mkdtemp(prefix="fts5-experiment-"))
    try:
        for name, fts in VARIANTS.items():
            if fts == "secure" and not secure_ok:
                print(f"- {name}: skipped (needs SQLite 3.44+; pip install pysqlite3-binary)")
                continue
            path = directory / f"{fts or 'none'}.sqlite3"
            db = open_db(path, fts)
            build = fill(db, pool, args.sessions)
            rows = args.sessions * MESSAGES_PER_SESSION
            scan_seconds, expected = best_of(lambda db=db: search_scan(db, RARE_WORD))
            line = (
                f"- {name}: build {rows / build:,.0f} messages/s, file {os.path.getsize(path) / 2**20:.0f} MB, "
                f"rare word by scan {scan_seconds * 1000:.1f} ms"
            )
            if fts:
                index_seconds, found = best_of(lambda db=db: search_index(db, RARE_WORD))
                assert found == expected, (found, expected)
                line += f", through the index {index_seconds * 1000:.2f} ms"
            deletes = [delete_session(db, pool, 10**7 + t, args.delete) for t in range(args.trials)]
            median = statistics.median(deletes)
            line += f"; delete {median * 1000:,.0f} ms ({median / args.delete * 1e6:,.0f} µs per message)"
            print(line, flush=True)
            db.close()
    finally:
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()

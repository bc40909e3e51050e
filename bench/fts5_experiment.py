"""What an FTS5 trigram index would give SQLite's search, and what it would cost deletes.

Not part of `make bench`: the evidence behind the report's note on rare-word search
on SQLite, and `bench/FTS5.md` is its committed output. It needs no Django: plain SQLite
files in a temporary directory, with the service's pragmas (WAL, synchronous=NORMAL,
secure_delete=ON), tables shaped like the service's session and message tables, and the
benchmark's corpus at the benchmark's scale. For each variant it measures the build rate,
the file size, a rare-word search (the service's newest-first EXISTS scan, and through the
index where there is one; same sessions found) and deleting a session with the bare DELETE
statements (the index's triggers fire for them, as they would for the service).

    .venv/bin/python bench/fts5_experiment.py [--sessions 100000] [--delete 10000] \
        [--output bench/FTS5.md]

Variants: no index (the service); FTS5 trigram over the message table with triggers
(external content, the issue's design), whose deleted trigrams stay in older index
segments until a merge, so the script also times `optimize`, the merge that removes
them all; the same with `detail=none` (no positions: a smaller index, searched as an AND
of the word's trigrams); a contentless table with `contentless_delete=1` (SQLite 3.43+;
a delete marks the row instead of tokenizing its text); and FTS5's `secure-delete`
(SQLite 3.44+; removes a deleted row's entries at once). The service's SQLite is 3.40.1,
so the script runs on pysqlite3 (pysqlite3-binary, in bench/requirements.txt), a newer
SQLite with the same pragmas, and says which it ran on.
"""

import argparse
import os
import shlex
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from corpus import RARE_WORD, TextPool, rare_sessions, session_messages

try:
    import pysqlite3 as sqlite3
except ImportError:
    import sqlite3

MESSAGES_PER_SESSION = 10
# name: (FTS5 options or None, minimum SQLite version)
VARIANTS = {
    "no index (the service)": (None, (3, 0)),
    "FTS5 trigram, external content, triggers": ("external", (3, 34)),
    "the same, detail=none": ("detail-none", (3, 34)),
    "FTS5 trigram, contentless_delete=1, triggers": ("contentless", (3, 43)),
    "FTS5 trigram, external content, triggers, secure-delete": ("secure", (3, 44)),
}
FTS_TABLE = {
    "external": "content, tokenize='trigram', content='message', content_rowid='id'",
    "detail-none": "content, tokenize='trigram', content='message', content_rowid='id', detail=none",
    "contentless": "content, tokenize='trigram', content='', contentless_delete=1",
    "secure": "content, tokenize='trigram', content='message', content_rowid='id'",
}
FORGET = {
    # An external-content index forgets a row by being told its old text, which it tokenizes.
    "external": "INSERT INTO message_fts(message_fts, rowid, content) VALUES ('delete', old.id, old.content)",
    "contentless": "DELETE FROM message_fts WHERE rowid = old.id",
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
        db.execute(f"CREATE VIRTUAL TABLE message_fts USING fts5({FTS_TABLE[fts]})")
        if fts == "secure":
            db.execute("INSERT INTO message_fts(message_fts, rank) VALUES ('secure-delete', 1)")
        db.execute(
            "CREATE TRIGGER message_fts_insert AFTER INSERT ON message BEGIN "
            "INSERT INTO message_fts(rowid, content) VALUES (new.id, new.content); END"
        )
        forget = FORGET["contentless" if fts == "contentless" else "external"]
        db.execute(f"CREATE TRIGGER message_fts_delete AFTER DELETE ON message BEGIN {forget}; END")
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


def match_expression(word: str, fts: str) -> str:
    if fts == "detail-none":
        # Without positions FTS5 takes no phrase: every trigram of the word, in any order.
        return " AND ".join('"' + word[i : i + 3].replace('"', '""') + '"' for i in range(len(word) - 2))
    return '"' + word.replace('"', '""') + '"'


def search_index(db, word, fts):
    # The index narrows to candidate messages; LIKE keeps icontains' exact meaning.
    return [
        row[0]
        for row in db.execute(
            "SELECT s.id FROM session s WHERE s.owner_id = 1 AND s.id IN (SELECT m.session_id FROM message m "
            "WHERE m.id IN (SELECT rowid FROM message_fts WHERE message_fts MATCH ?) AND m.content LIKE ?) "
            "ORDER BY s.updated_at DESC, s.id DESC LIMIT 20",
            (match_expression(word, fts), f"%{word}%"),
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


def optimize(db) -> float:
    """Merge every segment into one: the deleted rows' entries go, and the whole index is rewritten."""
    started = time.perf_counter()
    db.execute("INSERT INTO message_fts(message_fts) VALUES ('optimize')")
    return time.perf_counter() - started


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms" if seconds >= 0.1 else f"{seconds * 1000:.2f} ms"


def measure(name, fts, path, pool, args) -> dict:
    db = open_db(path, fts)
    row = {"name": name, "rate": args.sessions * MESSAGES_PER_SESSION / fill(db, pool, args.sessions)}
    row["size_mb"] = os.path.getsize(path) / 2**20
    row["scan"], expected = best_of(lambda: search_scan(db, RARE_WORD))
    if fts:
        row["index"], found = best_of(lambda: search_index(db, RARE_WORD, fts))
        assert found == expected, (found, expected)
    row["deleted"] = args.delete_secure if fts == "secure" else args.delete
    row["delete"] = statistics.median(
        delete_session(db, pool, 10**7 + t, row["deleted"]) for t in range(args.trials)
    )
    if fts in ("external", "detail-none", "contentless"):
        row["optimize"] = optimize(db)
    db.close()
    return row


def markdown(rows: list[dict], args, skipped: list[str]) -> str:
    bare = rows[0]["delete"] / rows[0]["deleted"]
    lines = [
        "# FTS5 trigram index on SQLite: what it gives search, what it costs deletes",
        "",
        f"Written by `bench/fts5_experiment.py` on SQLite {sqlite3.sqlite_version} ({sqlite3.__name__}; "
        f"the service runs on Python's own sqlite3, SQLite {args.service_sqlite}). A store of "
        f"{args.sessions:,} sessions × {MESSAGES_PER_SESSION} messages of the benchmark's corpus "
        f"({args.sessions * MESSAGES_PER_SESSION:,} messages, the scale of the benchmark's search figure), with "
        "the service's pragmas (WAL, synchronous=NORMAL, secure_delete=ON). Search: the rare word "
        f"`{RARE_WORD}`, best of 3, the same sessions found by the scan and through the index. Delete: "
        "the bare `DELETE` statements for one session (the index's triggers fire for them, so the service "
        f"would pay the same), median of {args.trials}. `optimize` merges every index segment into one: "
        "the only way, without `secure-delete`, to be sure a deleted message's trigrams have left the index "
        "file; it rewrites the whole index.",
        "",
        "| variant | build (messages/s) | file | rare word, scan | rare word, index | deleted session | "
        "delete | per message | × the delete without index | `optimize` afterwards |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        per_message = row["delete"] / row["deleted"]
        lines.append(
            f"| {row['name']} | {row['rate']:,.0f} | {row['size_mb']:,.0f} MB | {ms(row['scan'])} | "
            f"{ms(row['index']) if 'index' in row else '-'} | {row['deleted']:,} messages | {ms(row['delete'])} | "
            f"{per_message * 1e6:,.1f} µs | {per_message / bare:,.1f} | "
            f"{ms(row['optimize']) if 'optimize' in row else '-'} |"
        )
    lines += [""] + [f"- {line}" for line in skipped]
    lines += [
        "",
        f"Command: `{shlex.join([os.path.relpath(sys.executable), *sys.argv])}`; date "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {os.cpu_count()} CPUs.",
        "",
    ]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sessions", type=int, default=100_000, help="sessions of 10 messages in the store")
    parser.add_argument("--delete", type=int, default=10_000, help="messages in the deleted session")
    parser.add_argument(
        "--delete-secure", type=int, default=200, help="messages in the deleted session, secure-delete variant"
    )
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--output", type=Path, help="write the results as Markdown here")
    args = parser.parse_args()
    import sqlite3 as service_sqlite

    args.service_sqlite = service_sqlite.sqlite_version
    version = tuple(int(x) for x in sqlite3.sqlite_version.split("."))
    print(f"SQLite {sqlite3.sqlite_version} ({sqlite3.__name__}); {args.sessions:,} sessions", flush=True)
    pool = TextPool()
    directory = Path(tempfile.mkdtemp(prefix="fts5-experiment-"))
    rows, skipped = [], []
    try:
        for name, (fts, needs) in VARIANTS.items():
            if version < needs:
                skipped.append(f"{name}: skipped, needs SQLite {'.'.join(map(str, needs))}+ (pysqlite3-binary)")
                print(skipped[-1], flush=True)
                continue
            rows.append(measure(name, fts, directory / f"{fts or 'none'}.sqlite3", pool, args))
            print(rows[-1], flush=True)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    text = markdown(rows, args, skipped)
    print(text)
    if args.output:
        args.output.write_text(text)


if __name__ == "__main__":
    main()

"""How fast PostgreSQL takes messages with the search index, and whether indexing afterwards is faster.

Not part of `make bench-postgres`: the evidence behind its running time, most of which
is building data. A table shaped like sessions_app_message (session id and content)
in the database DATABASE_URL names, the benchmark's corpus, rows inserted the way
bulk_create does (multi-row INSERTs in transactions of 20,000 rows). Variants: the
trigram index as the service has it; the same with more memory for the index's
pending list; no trigram index; and no index while loading, built afterwards.

    scripts/with-postgres.sh .venv/bin/python bench/gin_build_experiment.py [--messages 60000]
"""

import argparse
import os
import time

import psycopg
from corpus import TextPool

TRIGRAM_INDEX = "CREATE INDEX m_trgm ON m USING gin (UPPER(content) gin_trgm_ops)"
ROWS_PER_INSERT = 500
ROWS_PER_TRANSACTION = 20_000


def load(url: str, texts: list[str], *, index: bool, settings: list[str]) -> float:
    """Messages per second into a new table, with or without the trigram index."""
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("DROP TABLE IF EXISTS m")
        connection.execute("CREATE TABLE m (id bigserial PRIMARY KEY, session_id bigint, content text)")
        connection.execute("CREATE INDEX m_session ON m (session_id)")
        if index:
            connection.execute(TRIGRAM_INDEX)
    started = time.perf_counter()
    with psycopg.connect(url) as connection:
        for first in range(0, len(texts), ROWS_PER_TRANSACTION):
            with connection.transaction():
                for statement in settings:
                    connection.execute(statement)
                last = min(len(texts), first + ROWS_PER_TRANSACTION)
                for start in range(first, last, ROWS_PER_INSERT):
                    rows = range(start, min(last, start + ROWS_PER_INSERT))
                    connection.execute(
                        "INSERT INTO m (session_id, content) VALUES " + ",".join(["(%s, %s)"] * len(rows)),
                        [value for i in rows for value in (i // 10, texts[i])],
                    )
    return len(texts) / (time.perf_counter() - started)


def index_afterwards(url: str, messages: int) -> float:
    started = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("SET maintenance_work_mem = '512MB'")
        connection.execute(TRIGRAM_INDEX)
    return messages / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=60_000)
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        raise SystemExit("needs DATABASE_URL=postgres://... (scripts/with-postgres.sh sets one up)")
    pool = TextPool()
    texts = [pool.text(i) for i in range(args.messages)]
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        version = connection.execute("SHOW server_version").fetchone()[0]
    print(f"PostgreSQL {version}; {args.messages:,} messages of the benchmark's corpus")
    variants = [
        ("with the trigram index (the service)", True, []),
        ("with it, work_mem 256MB, gin_pending_list_limit 64MB", True,
         ["SET LOCAL work_mem = '256MB'", "SET LOCAL gin_pending_list_limit = '64MB'"]),
        ("without the trigram index", False, []),
    ]
    for label, index, settings in variants:
        print(f"- {label}: {load(url, texts, index=index, settings=settings):,.0f} messages/s", flush=True)
    print(f"- the index built afterwards over the loaded rows: {index_afterwards(url, len(texts)):,.0f} messages/s")
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("DROP TABLE m")


if __name__ == "__main__":
    main()

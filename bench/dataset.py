"""Benchmark data, written through the ORM's bulk paths (bulk_create), never one row at a time.

A delete trial needs a new session of N messages each time. The first of each size is
built through bulk_create; the rest are copies of its messages made inside the database
(INSERT ... SELECT from a side table), the same rows through the same indexes at a few
times the speed, since the builds were most of the run's wall time.

Call only after django.setup().
"""

import time
from datetime import timedelta

from corpus import TextPool, rare_sessions, session_messages
from django.contrib.auth import get_user_model
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from sessions_app.models import Message, Session
from sessions_app.services import session_totals_adjust

# Rows per INSERT on PostgreSQL; Django caps it on SQLite (999 bound parameters).
INSERT_BATCH = 2_000
# Rows per transaction while building, so that no transaction holds gigabytes.
ROWS_PER_TRANSACTION = 20_000


class Builder:
    def __init__(self, pool: TextPool):
        self.pool = pool
        # One fake clock for every session built: each is one second newer than the
        # one before, so "most recent first" is deterministic and ties never occur.
        self.clock = timezone.now() - timedelta(days=400)
        self.text_offset = 0
        self.build_log: list[dict] = []
        self._serial = 0
        # Message count -> side table holding the messages of the first session of that size.
        self._templates: dict[int, str] = {}

    def user(self, username: str):
        users = get_user_model()
        user, _ = users.objects.get_or_create(username=username)
        return user

    def sessions(
        self,
        owner,
        count: int,
        messages: int,
        *,
        label: str,
        prefix: str = "s",
        rare=None,
        same_as_pocketpaw=False,
    ):
        """`count` sessions of `messages` messages each, newest last; returns their (pk, key) pairs.

        RARE_WORD goes into the sessions `rare` names (default: corpus.rare_sessions).
        With `same_as_pocketpaw`, session i holds exactly the texts the PocketPaw driver
        writes into its session i (corpus.session_messages with offset 0).
        """
        started = time.perf_counter()
        rare = rare_sessions(count) if rare is None else rare
        offset = 0 if same_as_pocketpaw else self._take_offset(count * messages)
        per_transaction = max(1, ROWS_PER_TRANSACTION // max(1, messages))
        created = []
        for first in range(0, count, per_transaction):
            indexes = range(first, min(count, first + per_transaction))
            with transaction.atomic():
                rows = []
                for i in indexes:
                    texts = list(session_messages(self.pool, i, messages, rare=rare, offset=offset))
                    first_user = next((c for r, c in texts if r == "user"), "")
                    self.clock += timedelta(seconds=1)
                    rows.append(
                        (
                            Session(
                                owner=owner,
                                key=f"{prefix}{i:07d}",
                                title=first_user.strip()[:80] or "New Chat",
                                channel="web",
                                created_at=self.clock - timedelta(minutes=5),
                                updated_at=self.clock,
                                message_count=messages,
                                preview=texts[-1][1][:120] if texts else "",
                            ),
                            texts,
                            self.clock,
                        )
                    )
                sessions = Session.objects.bulk_create([s for s, _, _ in rows], batch_size=INSERT_BATCH)
                session_totals_adjust(changes={owner.pk: len(sessions)})
                Message.objects.bulk_create(
                    (
                        Message(
                            session_id=session.pk,
                            role=role,
                            content=content,
                            created_at=at - timedelta(seconds=len(texts) - j),
                        )
                        for session, (_, texts, at) in zip(sessions, rows, strict=True)
                        for j, (role, content) in enumerate(texts)
                    ),
                    batch_size=INSERT_BATCH,
                )
                created.extend((s.pk, s.key) for s in sessions)
        self._log(label, count, count * messages, started)
        return created

    def users_with_sessions(self, name: str, users: int, sessions: int, messages: int, *, label: str, prefix: str):
        """`users` users (name_0, name_1, ...), each holding `sessions` sessions of `messages` messages."""
        built = []
        for i in range(users):
            user = self.user(f"{name}_{i}")
            self.sessions(user, sessions, messages, label=label, prefix=prefix)
            built.append(user)
        return built

    def big_session(self, owner, messages: int, *, label: str, length: int | None = None) -> Session:
        """One session of `messages` messages (the one a delete trial removes), each `length` characters if given."""
        started = time.perf_counter()
        self._serial += 1
        self.clock += timedelta(seconds=1)
        offset = self._take_offset(messages)
        session = Session.objects.create(
            owner=owner,
            key=f"big{messages}_{self._serial:05d}",
            title="A long conversation",
            updated_at=self.clock,
            message_count=messages,
        )
        session_totals_adjust(changes={owner.pk: 1})
        template = self._templates.get(messages) if length is None else None
        if template:
            self._copy_messages(template, session)
            self._log(f"{label} (copies of the first, made in the database)", 1, messages, started)
            return session
        for first in range(0, messages, ROWS_PER_TRANSACTION):
            with transaction.atomic():
                Message.objects.bulk_create(
                    (
                        Message(
                            session_id=session.pk,
                            role="user" if j % 2 == 0 else "assistant",
                            content=self._text(offset + j, length),
                            created_at=self.clock - timedelta(milliseconds=messages - j),
                        )
                        for j in range(first, min(messages, first + ROWS_PER_TRANSACTION))
                    ),
                    batch_size=INSERT_BATCH,
                )
        if length is None:
            self._keep_as_template(session, messages)
        self._log(label, 1, messages, started)
        return session

    def _keep_as_template(self, session: Session, messages: int) -> None:
        """Keep a copy of `session`'s messages outside the service's tables, where no figure sees it."""
        table = f"bench_template_{messages}"
        with connection.cursor() as cursor:
            cursor.execute(
                f"CREATE TABLE {table} AS SELECT id AS position, role, content, metadata, created_at "
                f"FROM {Message._meta.db_table} WHERE session_id = {int(session.pk)}"
            )
        self._templates[messages] = table

    def _copy_messages(self, template: str, session: Session) -> None:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {Message._meta.db_table} (session_id, role, content, metadata, created_at) "
                f"SELECT {int(session.pk)}, role, content, metadata, created_at FROM {template} ORDER BY position"
            )

    def _text(self, k: int, length: int | None) -> str:
        text = self.pool.text(k)
        if length is None:
            return text
        repeats = length // (len(text) + 1) + 1
        return ((text + " ") * repeats)[:length]

    def _take_offset(self, rows: int) -> int:
        offset = self.text_offset
        self.text_offset += rows
        return offset

    def _log(self, label, sessions, messages, started):
        seconds = time.perf_counter() - started
        for entry in self.build_log:
            if entry["label"] == label:
                entry["sessions"] += sessions
                entry["messages"] += messages
                entry["seconds"] += seconds
                entry["builds"] += 1
                return
        self.build_log.append(
            {"label": label, "sessions": sessions, "messages": messages, "seconds": seconds, "builds": 1}
        )


def after_bulk_load() -> None:
    """What the database would do on its own soon after a bulk load, done now so trials do not race it.

    PostgreSQL: VACUUM ANALYZE, as autovacuum would (planner statistics, and the
    GIN index's pending list merged), then a CHECKPOINT, so that the checkpointer
    does not write out the load in the middle of a trial. SQLite: a WAL checkpoint
    that empties the log.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
            try:
                with transaction.atomic():
                    cursor.execute("CHECKPOINT")
            except DatabaseError:
                pass  # needs a superuser or pg_checkpoint; the trials then share the checkpointer's timing
    else:
        checkpoint()


def checkpoint() -> None:
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")

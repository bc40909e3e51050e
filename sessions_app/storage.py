"""Making a delete reach the bytes on disk, not just the rows.

SQLite runs with `secure_delete` on (settings.py), so deleted rows and freed
pages are overwritten with zeros. In WAL mode the older frames that still hold
the text stay in the `-wal` file until a checkpoint copies the zeroed pages into
the database file and the log is truncated; that is what purge_deleted_bytes
does after every committed delete, before the delete answers.

PostgreSQL keeps dead tuples until VACUUM; see docs/deletion.md.
"""
import logging
import time

from django.db import DatabaseError, connection

logger = logging.getLogger(__name__)

CHECKPOINT_RETRY_SECONDS = 0.01


class PurgeInterrupted(KeyboardInterrupt):
    """Ctrl-C while the log was being purged: after the delete committed, not instead of it."""


def purge_deleted_bytes() -> None:
    """Checkpoints and empties the WAL, waiting up to the busy timeout for other
    connections to stop using it (a query still running, another program's open
    transaction; exports hold none between chunks, see selectors.session_for_export).

    It waits by trying again, not inside SQLite: a TRUNCATE checkpoint that is waiting
    for readers holds off every new writer, so one long reader stalled every create
    and append until the delete's checkpoint got through.
    """
    if connection.vendor != "sqlite":
        return
    try:
        busy = _checkpoint_until_done_or_timeout()
    except KeyboardInterrupt:
        raise PurgeInterrupted from None
    except DatabaseError as error:
        # The delete has committed; what is left undone is only the purge of the log.
        logger.warning(
            "WAL checkpoint after a delete failed (%s); the next delete retries it, or run "
            "PRAGMA wal_checkpoint(TRUNCATE).",
            error,
        )
        return
    if busy:
        logger.warning(
            "WAL checkpoint after a delete was blocked; the next delete retries it, or run "
            "PRAGMA wal_checkpoint(TRUNCATE) once the database is idle."
        )


def _checkpoint_until_done_or_timeout() -> bool:
    """Whether the log was still busy when the connection's busy timeout ran out."""
    with connection.cursor() as cursor:
        # The connection's own wait, however it was set, bounds the retries and is restored.
        cursor.execute("PRAGMA busy_timeout")
        (timeout_ms,) = cursor.fetchone()
        deadline = time.monotonic() + timeout_ms / 1000
        cursor.execute("PRAGMA busy_timeout = 0")
        try:
            while True:
                cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                busy, _log_frames, _checkpointed = cursor.fetchone()
                if not busy or time.monotonic() >= deadline:
                    break
                time.sleep(CHECKPOINT_RETRY_SECONDS)
        finally:
            cursor.execute(f"PRAGMA busy_timeout = {int(timeout_ms)}")
    return busy

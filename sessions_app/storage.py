"""Making a delete reach the bytes on disk, not just the rows.

SQLite runs with `secure_delete` on (settings.py), so deleted rows and freed
pages are overwritten with zeros. In WAL mode the older frames that still hold
the text stay in the `-wal` file until a checkpoint copies the zeroed pages into
the database file and the log is truncated; that is what purge_deleted_bytes
does after every committed delete.

PostgreSQL keeps dead tuples until VACUUM; see docs/deletion.md.
"""
import logging

from django.db import connection

logger = logging.getLogger(__name__)


def purge_deleted_bytes() -> None:
    if connection.vendor != "sqlite":
        return
    with connection.cursor() as cursor:
        # TRUNCATE waits (up to the busy timeout) for readers of older snapshots.
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        busy, _log_frames, _checkpointed = cursor.fetchone()
    if busy:
        logger.warning("WAL checkpoint after a delete was blocked; the next delete retries it.")

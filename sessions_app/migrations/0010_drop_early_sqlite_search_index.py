"""Drops the FTS5 search index that the first version of 0003 made on SQLite.

0003 made it for a few hours (commit 3fcdd2d) before it was changed to make none, and a
database migrated then kept it: its triggers copy every message's text into an index
that keeps a deleted message's text in the file (docs/deletion.md). On any other
database this changes nothing.
"""
from django.db import migrations

EARLY_INDEX = "sessions_app_message_fts"


def drop_early_search_index(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        return
    for statement in [
        f"DROP TRIGGER IF EXISTS {EARLY_INDEX}_insert",
        f"DROP TRIGGER IF EXISTS {EARLY_INDEX}_delete",
        # Its pages are zeroed as they are freed (secure_delete).
        f"DROP TABLE IF EXISTS {EARLY_INDEX}",
    ]:
        schema_editor.execute(statement)


def purge_dropped_bytes(apps, schema_editor):
    # Moves the zeroed pages from the log into the database file. If another connection
    # keeps it busy, the service's next delete finishes the job (sessions_app.storage).
    if schema_editor.connection.vendor == "sqlite":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")


class Migration(migrations.Migration):
    # The checkpoint cannot run inside the transaction that freed the pages.
    atomic = False

    dependencies = [("sessions_app", "0009_deletion_record_indexes_in_reading_order")]

    operations = [
        migrations.RunPython(drop_early_search_index, migrations.RunPython.noop, atomic=True),
        migrations.RunPython(purge_dropped_bytes, migrations.RunPython.noop),
    ]

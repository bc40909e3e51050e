"""What every new database connection is set up with."""
from django.conf import settings
from django.db.backends.signals import connection_created
from django.dispatch import receiver


@receiver(connection_created, dispatch_uid="sessions_app.database.lock_wait")
def bound_the_lock_wait_on_postgresql(sender, connection, **kwargs):
    """A statement waits at most DATABASE_LOCK_WAIT_SECONDS for a lock, as on SQLite, then fails (503).

    Without it, a transaction left open elsewhere would hold a server thread or a cron run
    for as long as it lasted. Only where nothing else chose a lock_timeout (the role's or
    the database's settings, PGOPTIONS, options in DATABASE_URL); and set once connected
    rather than as a startup option, which connection poolers such as PgBouncer refuse.
    """
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('lock_timeout', %s, false) WHERE current_setting('lock_timeout') = '0'",
            [f"{settings.DATABASE_LOCK_WAIT_SECONDS}s"],
        )

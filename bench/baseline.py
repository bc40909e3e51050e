"""The physical limit a delete is compared with: the bare SQL statements, nothing else.

They remove the same rows the service removes and keep the owner's session count
(sessions_app_sessiontotal) true, so later figures see a consistent store. They skip
what the service adds on purpose: the row lock, the audit record and, on SQLite,
the checkpoint that makes the delete permanent on disk.
"""

from django.db import connection, transaction

SESSION_COUNT_DOWN = (
    "UPDATE sessions_app_sessiontotal SET sessions = sessions - 1 "
    "WHERE owner_id = (SELECT owner_id FROM sessions_app_session WHERE id = %s)"
)
MESSAGES_OF_SESSION = "DELETE FROM sessions_app_message WHERE session_id = %s"
SESSION = "DELETE FROM sessions_app_session WHERE id = %s"

SESSION_COUNT_ZERO = "UPDATE sessions_app_sessiontotal SET sessions = 0 WHERE owner_id = %s"
MESSAGES_OF_OWNER = (
    "DELETE FROM sessions_app_message WHERE session_id IN "
    "(SELECT id FROM sessions_app_session WHERE owner_id = %s)"
)
SESSIONS_OF_OWNER = "DELETE FROM sessions_app_session WHERE owner_id = %s"


def bare_session_delete(session_pk: int) -> None:
    """One session and its messages, in one transaction."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(SESSION_COUNT_DOWN, [session_pk])
        cursor.execute(MESSAGES_OF_SESSION, [session_pk])
        cursor.execute(SESSION, [session_pk])


def bare_owner_delete(owner_pk: int) -> None:
    """Every session of one owner and their messages, in one transaction."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(SESSION_COUNT_ZERO, [owner_pk])
        cursor.execute(MESSAGES_OF_OWNER, [owner_pk])
        cursor.execute(SESSIONS_OF_OWNER, [owner_pk])

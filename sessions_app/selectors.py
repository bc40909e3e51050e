"""Reads. Every queryset that scopes sessions to a user is built here."""
from collections.abc import Iterator

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import DatabaseError, connection
from django.db.models import Exists, OuterRef, QuerySet, Subquery
from django.db.models.functions import Substr

from . import search
from .models import DeletionRecord, Message, Session, SessionTotal

SEARCH_MATCH_LENGTH = 200


class SessionNotFound(Exception):
    """The session does not exist, or belongs to somebody else (which callers must not reveal)."""


def session_list_for_user(*, user: AbstractBaseUser) -> QuerySet[Session]:
    return Session.objects.filter(owner=user)


def session_list_for_users(*, users) -> QuerySet[Session]:
    return Session.objects.filter(owner__in=users)


def session_list_for_user_with_keys(*, user: AbstractBaseUser, keys: list[str]) -> QuerySet[Session]:
    return session_list_for_user(user=user).filter(key__in=[key for key in keys if _could_be_stored(key)])


def session_get_for_user(*, user: AbstractBaseUser, key: str) -> Session:
    try:
        return session_list_for_user_with_keys(user=user, keys=[key]).get()
    except Session.DoesNotExist:
        raise SessionNotFound(key) from None


def _could_be_stored(key: str) -> bool:
    # PostgreSQL's text cannot hold NUL, and asking for it is an error there rather
    # than no row: such a key, which a URL can spell (%00), names no session anywhere.
    return "\x00" not in key


def session_page_for_user(
    *, user: AbstractBaseUser, limit: int, offset: int
) -> tuple[list[Session], int]:
    """One page of the user's sessions, most recent activity first, and how many there are.

    Each row carries the user's total, so that the page and the total come from one
    statement and agree while sessions come and go (read apart, a page of one session
    could say there were none).
    """
    sessions = session_list_with_total_for_user(user=user)
    page = list(sessions.order_by("-updated_at", "-id")[offset : offset + limit])
    if page and page[0].owner_total is not None:
        return page, page[0].owner_total
    if not page and offset == 0:
        return page, 0  # no sessions when the page was read
    # Past the last page, or an owner without a SessionTotal row: counted apart.
    return page, session_total_for_user(user=user)


def session_list_with_total_for_user(*, user: AbstractBaseUser) -> QuerySet[Session]:
    """The user's sessions, each with `owner_total`: their SessionTotal (None without a row)."""
    total = SessionTotal.objects.filter(owner=user).values("sessions")[:1]
    return session_list_for_user(user=user).annotate(owner_total=Subquery(total))


def session_total_for_user(*, user: AbstractBaseUser) -> int:
    """How many sessions the user has: their SessionTotal, or a count where there is none."""
    total = SessionTotal.objects.filter(owner=user).values_list("sessions", flat=True).first()
    return session_list_for_user(user=user).count() if total is None else total


def message_history(*, session: Session, limit: int) -> list[Message]:
    """The latest `limit` messages of a session, oldest first."""
    latest = Message.objects.filter(session_id=session.pk).order_by("-created_at", "-id")[:limit]
    return list(reversed(latest))


# Rows per fetch when reading a whole session. Memory is bounded by rows, not bytes: at
# 2,000 rows, exporting messages of the longest allowed length held 243 MB at once.
MESSAGE_CHUNK_ROWS = 100


def session_for_export(*, session: Session) -> tuple[Session, Iterator[Message]]:
    """The session as it is now, and its messages up to its newest one now, oldest first.

    Both come from one statement, so the header's `message_count` and the messages
    agree, and an export of a session that keeps growing still ends. The messages
    are read a chunk of rows at a time, each chunk a query of its own resumed after
    the last message it held: one cursor kept open for the whole download would hold
    a read snapshot for as long as the slowest client takes, and on SQLite a
    delete's purge waits for every older snapshot (storage.py).
    """
    newest = Message.objects.filter(session_id=OuterRef("pk")).order_by("-created_at", "-id")
    now = (
        Session.objects.filter(pk=session.pk)
        .annotate(
            newest_message_at=Subquery(newest.values("created_at")[:1]),
            newest_message_id=Subquery(newest.values("id")[:1]),
        )
        .first()
    )
    if now is None or now.newest_message_id is None:
        return now or session, iter(())
    return now, _in_chunks(session, through=(now.newest_message_at, now.newest_message_id))


def _in_chunks(session: Session, through: tuple) -> Iterator[Message]:
    in_order = Message.objects.filter(session_id=session.pk).order_by("created_at", "id")
    rest = in_order
    while chunk := list(rest[:MESSAGE_CHUNK_ROWS]):
        for message in chunk:
            # Checked here, not in SQL: a bound on both sides of created_at made PostgreSQL
            # expect a handful of rows and sort the rest of the session for every chunk.
            if (message.created_at, message.id) > through:
                return
            yield message
        last = chunk[-1]
        del chunk  # so the next chunk's rows do not join this one's in memory
        rest = in_order.filter(created_at__gte=last.created_at).exclude(
            created_at=last.created_at, id__lte=last.id
        )


def session_search_for_user(*, user: AbstractBaseUser, query: str, limit: int) -> list[Session]:
    """The user's sessions with a message containing `query` (any letter case), newest first.

    Each session carries `match` (the start of its first matching message) and
    `match_role`. The sessions are read newest first, each asked whether one of
    its messages matches, so a common word stops after `limit` sessions; a rare
    word reads every message (through the trigram index on PostgreSQL, search.py).
    A search still running after SEARCH_TIME_LIMIT_SECONDS raises search.SearchTimedOut.
    Measured against the alternatives in bench/RESULTS.md.
    """
    if not query:
        return []
    matching = search.messages_containing(Message.objects.filter(session_id=OuterRef("pk")), query)
    first_match = matching.order_by("created_at", "id")
    with search.time_limited(settings.SEARCH_TIME_LIMIT_SECONDS):
        found = list(
            session_list_for_user(user=user)
            .filter(Exists(matching))
            .order_by("-updated_at", "-id")
            .values_list("pk", flat=True)[:limit]
        )
        # Annotated only for the sessions found: the database would otherwise work
        # out the first match of every session it considers.
        return list(
            Session.objects.filter(pk__in=found)
            .annotate(
                match=Substr(Subquery(first_match.values("content")[:1]), 1, SEARCH_MATCH_LENGTH),
                match_role=Subquery(first_match.values("role")[:1]),
            )
            .order_by("-updated_at", "-id")
        )


def sessions_with_keys(*, keys: list[str], owner_username: str | None = None) -> QuerySet[Session]:
    """Every session with one of these keys, across owners unless one is named."""
    sessions = Session.objects.filter(key__in=keys).select_related("owner")
    if owner_username is not None:
        sessions = sessions.filter(owner__username=owner_username)
    return sessions.order_by("key", "owner__username")


def sessions_with_pks(*, pks: list[int]) -> QuerySet[Session]:
    """These sessions, listed as sessions_with_keys lists them."""
    return Session.objects.filter(pk__in=pks).select_related("owner").order_by("key", "owner__username")


def sessions_idle_since(*, cutoff, owner_username: str | None = None) -> QuerySet[Session]:
    """Sessions with no activity since `cutoff`: what a retention policy deletes."""
    sessions = Session.objects.filter(updated_at__lt=cutoff).select_related("owner")
    if owner_username is not None:
        sessions = sessions.filter(owner__username=owner_username)
    return sessions.order_by("updated_at", "pk")


def deletion_records_for_user(*, user: AbstractBaseUser) -> QuerySet[DeletionRecord]:
    return DeletionRecord.objects.filter(owner_id=user.pk).order_by("-deleted_at", "-id")


def database_is_reachable() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except DatabaseError:
        return False

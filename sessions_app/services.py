"""Writes. The API, the admin and the management command all change data through these."""
import hashlib
import json
import secrets
from array import array
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import chain
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, connection, transaction
from django.db.models import (
    Case,
    Count,
    Exists,
    F,
    Model,
    OuterRef,
    PositiveBigIntegerField,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from .models import (
    DEFAULT_SESSION_TITLE,
    PREVIEW_LENGTH,
    DeletionRecord,
    Message,
    Session,
    SessionTotal,
)
from . import selectors
from .selectors import SessionNotFound
from .storage import purge_deleted_bytes
from .text import HAS_WORDS_REGEX, one_line

AUTO_TITLE_LENGTH = 80
# Ids per statement (the DELETEs, the totals' UPDATE, the recount's): far below
# every backend's limit on bound parameters.
IDS_PER_STATEMENT = 500
# Sessions a delete locks with one plain query; beyond it, rows per fetch of the rest.
LOCK_FETCH_SIZE = 2_000


class SessionAlreadyExists(Exception):
    pass


class OwnerGone(Exception):
    """The account was deleted while its request was on the way."""


class IdempotencyKeyReused(Exception):
    """An Idempotency-Key sent again with another message than the one it first stored."""


@dataclass(frozen=True)
class MessageAppended:
    message: Message
    # True when the message was stored before, by an earlier request with the same key.
    replayed: bool = False


@dataclass(frozen=True)
class DeletionResult:
    sessions: int
    messages: int


@dataclass(frozen=True)
class RecountResult:
    totals_checked: int
    totals_corrected: int
    sessions_checked: int
    message_counts_corrected: int


def session_key_generate() -> str:
    return f"session_{secrets.token_hex(6)}"


def session_create(
    *,
    owner: AbstractBaseUser,
    key: str | None = None,
    title: str | None = None,
    channel: str = "web",
) -> Session:
    now = timezone.now()
    session = Session(
        owner=owner,
        created_at=now,
        updated_at=now,
        key=key or session_key_generate(),
        title=title or DEFAULT_SESSION_TITLE,
        title_set_by_user=title is not None,
        channel=channel,
    )
    # The unique (owner, key) constraint is left to the database, which also
    # settles two concurrent creates of the same id.
    session.full_clean(exclude=["owner"], validate_unique=False, validate_constraints=False)
    try:
        with transaction.atomic():
            # The owner's row first, which deleting the account locks too: either this
            # session commits first and goes with the account, or the account is gone
            # and nothing is written (on PostgreSQL the session would otherwise fail its
            # foreign key when one of the two commits).
            if not _owner_lock(owner.pk):
                raise OwnerGone
            session.save(force_insert=True)
            session_totals_adjust(changes={session.owner_id: 1})
    except IntegrityError:
        # With the owner locked, only the unique (owner, key) constraint is left to fail.
        raise SessionAlreadyExists(session.key) from None
    return session


def _owner_lock(owner_pk: int) -> bool:
    # FOR NO KEY UPDATE, the weakest lock Django takes that conflicts with the one
    # sessions_of_deleted_users_delete takes.
    owner = get_user_model().objects.filter(pk=owner_pk).select_for_update(no_key=True)
    return bool(list(owner.values_list("pk", flat=True)))


@transaction.atomic
def message_create(
    *,
    session: Session,
    role: str,
    content: str,
    metadata: dict[str, Any] | None = None,
    idempotency_key: str | None = None,
) -> MessageAppended:
    """Append a message, keeping the session's counter, activity time, preview and auto title in step.

    With an idempotency_key that this session's messages already hold, nothing is stored:
    the message stored with it is returned, if it is the same one (IdempotencyKeyReused if not).
    """
    message = Message(session=session, role=role, content=content, metadata=metadata or {})
    if idempotency_key is not None:
        message.idempotency_key = idempotency_key
        message.idempotency_digest = _append_digest(role, content, message.metadata)
    message.full_clean(exclude=["session"], validate_constraints=False)
    # The session's row lock first, then the clock: appends to one session go one at a
    # time, each no earlier than the last, so the session's time, preview and title always
    # come from its newest messages. A delete at the same moment either finished before
    # (no row here) or waits for this commit. Under the lock, a second append with the
    # same key finds the first one's message.
    locked = list(Session.objects.select_for_update().filter(pk=session.pk).values_list("updated_at", flat=True))
    if not locked:
        raise SessionNotFound(session.key)
    if idempotency_key is not None:
        stored = Message.objects.filter(session_id=session.pk, idempotency_key=idempotency_key).first()
        if stored is not None:
            if stored.idempotency_digest != message.idempotency_digest:
                raise IdempotencyKeyReused(idempotency_key)
            return MessageAppended(stored, replayed=True)
    # Never before the session's last activity, even if the clock was stepped back (NTP)
    # or another server's runs behind: ties keep their order by id.
    now = max(timezone.now(), locked[0])
    changes = {"message_count": F("message_count") + 1, "updated_at": now, "preview": content[:PREVIEW_LENGTH]}
    # One line of words: titles are shown in lists and as the export's heading.
    auto_title = one_line(content)[:AUTO_TITLE_LENGTH].rstrip()
    if role == Message.Role.USER and auto_title:
        # The first user message with words names a session that nobody has titled (a
        # blank one names nothing, so it does not stop the next from naming it).
        earlier_with_words = Message.objects.filter(
            session_id=OuterRef("pk"), role=Message.Role.USER, content__regex=HAS_WORDS_REGEX
        )
        changes["title"] = Case(
            When(
                Q(title_set_by_user=False, title=DEFAULT_SESSION_TITLE) & ~Exists(earlier_with_words),
                then=Value(auto_title),
            ),
            default=F("title"),
        )
    Session.objects.filter(pk=session.pk).update(**changes)
    message.created_at = now
    message.save(force_insert=True)
    return MessageAppended(message)


def _append_digest(role: str, content: str, metadata: dict[str, Any]) -> str:
    """What an append sent, as the client's JSON said it: `true` is not `1`, nor `1.0` `1`."""
    sent = json.dumps([role, content, metadata], sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(sent.encode("utf-8", "surrogatepass")).hexdigest()


def session_rename(*, session: Session, title: str) -> None:
    """Give a session the user's own title, which automatic titles never replace."""
    touched = Session.objects.filter(pk=session.pk).update(title=title, title_set_by_user=True)
    if not touched:
        raise SessionNotFound(session.key)


def session_delete(*, session: Session, via: str, actor: str = "") -> DeletionResult:
    """Permanently delete one session and every message in it.

    Raises SessionNotFound when another request deleted it first.
    """
    result = sessions_delete(sessions=Session.objects.filter(pk=session.pk), via=via, actor=actor)
    if result.sessions == 0:
        raise SessionNotFound(session.key)
    return result


def session_delete_for_user(*, user: AbstractBaseUser, key: str, via: str, actor: str = "") -> DeletionResult:
    """Permanently delete the user's session `key` and every message in it, in one lookup:
    the row lock sessions_delete takes is also the check that the user owns the session.

    Raises SessionNotFound when the user has no such session, or another request deleted it first.
    """
    result = sessions_delete(
        sessions=selectors.session_list_for_user_with_keys(user=user, keys=[key]), via=via, actor=actor
    )
    if result.sessions == 0:
        raise SessionNotFound(key)
    return result


@transaction.atomic
def sessions_of_deleted_users_delete(*, users, actor: str = "") -> DeletionResult:
    """Every session of these users, whose accounts are being deleted (`users`: a queryset
    or a list). `actor`: the admin deleting them; empty where no person is known.

    Locks the accounts first, as session_create does: a session being created for one of
    them meanwhile is waited for and deleted too, and a later one is refused. The lock
    is FOR NO KEY UPDATE, not FOR UPDATE, so that the foreign-key checks of rows that
    merely point at an account (a token being refreshed, an admin log entry) do not wait
    for the deletion while it waits for those rows.
    """
    user_pks = users.values("pk") if isinstance(users, QuerySet) else [user.pk for user in users]
    locked_user_pks = list(
        get_user_model()
        .objects.filter(pk__in=user_pks)
        .order_by("pk")
        .select_for_update(no_key=True)
        .values_list("pk", flat=True)
    )
    return sessions_delete(
        sessions=selectors.session_list_for_users(users=locked_user_pks),
        via=DeletionRecord.Via.USER_DELETED,
        actor=actor,
    )


@transaction.atomic
def sessions_delete(*, sessions: QuerySet[Session], via: str, actor: str = "") -> DeletionResult:
    """The one deletion path for sessions; all or nothing.

    Called by SessionViewSet.destroy (through session_delete_for_user) and the bulk-delete
    route, by SessionAdmin.delete_model and SessionAdmin.delete_queryset (the
    admin's single and bulk delete), by the delete_session management command
    (named ids and retention), and when a user is deleted (sessions_of_deleted_users_delete,
    from signals.py and UserWithSessionsAdmin).

    Messages go in one set-based DELETE per batch of sessions, never loaded into
    memory, so the cost does not grow with what a session holds beyond the
    rows the database itself must remove. Each deleted session leaves a
    content-free DeletionRecord written in the same transaction; once it commits,
    the freed bytes are purged from the database files (storage.py).
    """
    # Lock in a stable order so that two bulk deletes cannot deadlock, and so
    # that a message appended concurrently cannot outlive its session.
    if sessions.query.distinct or sessions.query.is_sliced:
        # Neither takes a row lock (FOR UPDATE); their ids as a subquery do.
        sessions = Session.objects.filter(pk__in=sessions.values("pk"))
    # Otherwise the caller's own filter, not a join of the table with itself: with
    # statistics from when the table was empty, PostgreSQL planned that join as a
    # nested loop that read the owner's 200,000 sessions once per session.
    lock = sessions.order_by("pk").select_for_update(of=("self",)).values_list("pk", "owner_id")
    # Every id is read before the first DELETE and kept in 8 bytes, not a Python tuple
    # of two ints (200,000 sessions: 15 MB on SQLite, 18 MB on PostgreSQL as tuples).
    # Most deletes select a few sessions: one plain query reads them. Past a page the
    # rest is streamed (a server-side cursor on PostgreSQL), since a plain query's
    # whole result sits in the driver (6 MB per 100,000 sessions); streaming every
    # delete would cost three more round trips each (bench/RESULTS.md, figure 9).
    first_page = list(lock[:LOCK_FETCH_SIZE])
    rows: Iterable[tuple[int, int]] = first_page
    if len(first_page) == LOCK_FETCH_SIZE:
        rest = lock.filter(pk__gt=first_page[-1][0]).iterator(chunk_size=LOCK_FETCH_SIZE)
        rows = chain(first_page, rest)
    locked_pks = array("q")
    deleted_per_owner: Counter[int] = Counter()
    for pk, owner_id in rows:
        locked_pks.append(pk)
        deleted_per_owner[owner_id] += 1
    deleted_at = timezone.now()
    deleted_sessions = deleted_messages = 0
    for start in range(0, len(locked_pks), IDS_PER_STATEMENT):
        batch_pks = locked_pks[start : start + IDS_PER_STATEMENT].tolist()
        _deletion_records_insert(session_pks=batch_pks, via=via, actor=actor, deleted_at=deleted_at)
        deleted_messages += Message.objects.filter(session_id__in=batch_pks)._raw_delete(
            Message.objects.db
        )
        # Raw, because the Collector behind QuerySet.delete() would select the
        # sessions again and repeat the message DELETE we have just run.
        deleted_sessions += Session.objects.filter(pk__in=batch_pks)._raw_delete(
            Session.objects.db
        )
    if locked_pks:
        session_totals_adjust(changes={owner: -count for owner, count in deleted_per_owner.items()})
        # Robust: the delete has committed by then, so a failing purge must not turn
        # into an answer that says it failed (a 503, or the command's "rolled back").
        transaction.on_commit(purge_deleted_bytes, robust=True)
    return DeletionResult(sessions=deleted_sessions, messages=deleted_messages)


def _deletion_records_insert(*, session_pks: list[int], via: str, actor: str, deleted_at) -> None:
    """A DeletionRecord for each of these sessions, copied by the database from their rows.

    One INSERT ... SELECT, which the ORM cannot express: building the records as
    model instances for bulk_create cost more than the DELETEs themselves when
    many small sessions go at once (bench/RESULTS.md, figure 9).
    """
    quote = connection.ops.quote_name
    user_model = get_user_model()
    users, record, session = user_model._meta, DeletionRecord._meta, Session._meta

    def column(meta, name: str) -> str:
        return quote(meta.get_field(name).column)

    record_columns = ", ".join(
        column(record, name)
        for name in ["session_key", "owner_id", "owner_username", "actor_username", "via", "message_count", "deleted_at"]
    )
    sql = (
        f"INSERT INTO {quote(record.db_table)} ({record_columns}) "
        f"SELECT s.{column(session, 'key')}, s.{column(session, 'owner')}, "
        f"u.{column(users, user_model.USERNAME_FIELD)}, %s, %s, s.{column(session, 'message_count')}, %s "
        f"FROM {quote(session.db_table)} s JOIN {quote(users.db_table)} u "
        f"ON u.{quote(users.pk.column)} = s.{column(session, 'owner')} "
        f"WHERE s.{quote(session.pk.column)} IN ({', '.join(['%s'] * len(session_pks))})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [actor, via, connection.ops.adapt_datetimefield_value(deleted_at), *session_pks])


def session_totals_adjust(*, changes: Mapping[int, int]) -> None:
    """Add to each owner's SessionTotal the sessions just created (+) or deleted (-).

    Runs inside the caller's transaction, after its inserts or deletes. Bulk loads
    that bypass session_create call it too.
    """
    # Totals are locked in owner order by every writer (and by counters_recount), so that
    # two deletes across the same owners cannot each hold a total the other one needs.
    changes = dict(sorted(changes.items()))
    decreases = [(owner_id, -change) for owner_id, change in changes.items() if change < 0]
    counter = PositiveBigIntegerField()
    for start in range(0, len(decreases), IDS_PER_STATEMENT):
        batch = decreases[start : start + IDS_PER_STATEMENT]
        owner_ids = [owner_id for owner_id, _ in batch]
        if len(batch) > 1:
            # An UPDATE locks rows in whatever order its plan reads them.
            list(
                SessionTotal.objects.filter(owner_id__in=owner_ids)
                .order_by("pk")
                .select_for_update(no_key=True)
                .values_list("pk", flat=True)
            )
        decrease = Case(
            *(When(owner_id=owner_id, then=Value(n)) for owner_id, n in batch),
            default=Value(0),
            output_field=counter,
        )
        # Never below zero: a total that had drifted must not make a delete fail.
        SessionTotal.objects.filter(owner_id__in=owner_ids).update(
            sessions=Greatest(F("sessions") - decrease, Value(0), output_field=counter)
        )
    for owner_id, change in changes.items():
        if change > 0:
            _session_total_increase(owner_id, change)


def _session_total_increase(owner_id: int, by: int) -> None:
    if SessionTotal.objects.filter(owner_id=owner_id).update(sessions=F("sessions") + by):
        return
    # The owner's first counted session: start from the sessions there are, which
    # include the ones this transaction has just inserted. Locking them waits out
    # a delete still in flight, which finds no total to lower and would otherwise
    # leave its sessions in this count.
    try:
        with transaction.atomic():
            existing = len(
                Session.objects.filter(owner_id=owner_id)
                .order_by("pk")
                .select_for_update()
                .values_list("pk", flat=True)
            )
            SessionTotal.objects.create(owner_id=owner_id, sessions=existing)
    except IntegrityError:
        # A concurrent create made the row first; our sessions are not in it yet.
        SessionTotal.objects.filter(owner_id=owner_id).update(sessions=F("sessions") + by)


def counters_recount() -> RecountResult:
    """Correct every SessionTotal and Session.message_count that no longer matches the rows.

    The services keep both in step; they drift only when sessions or messages are
    written around them (raw SQL, a QuerySet.delete() in a shell). Owners without a
    SessionTotal are counted by the list already and get none.
    """
    totals_checked, totals_corrected = _recount(SessionTotal, "sessions", counted=Session, by="owner_id")
    sessions_checked, counts_corrected = _recount(Session, "message_count", counted=Message, by="session_id")
    return RecountResult(totals_checked, totals_corrected, sessions_checked, counts_corrected)


def _recount(model: type[Model], field: str, *, counted: type[Model], by: str) -> tuple[int, int]:
    """Set `field` of every `model` row to how many `counted` rows point at it; (checked, corrected).

    A batch of rows per transaction, set-based. Each batch locks its rows before it
    counts, so a write in flight either committed first (and is in the count) or
    waits and then adjusts the corrected value. Rows are locked in pk order, the
    order every delete locks sessions and totals in, so the two cannot deadlock.
    """
    actual = Coalesce(
        Subquery(
            counted.objects.filter(**{by: OuterRef("pk")}).order_by().values(by).annotate(n=Count("*")).values("n")
        ),
        0,
    )
    checked = corrected = 0
    after = None
    while True:
        with transaction.atomic():
            page = model.objects.order_by("pk").select_for_update(no_key=True)
            if after is not None:
                page = page.filter(pk__gt=after)
            pks = list(page.values_list("pk", flat=True)[:IDS_PER_STATEMENT])
            if not pks:
                return checked, corrected
            corrected += model.objects.filter(pk__in=pks).exclude(**{field: actual}).update(**{field: actual})
        checked += len(pks)
        after = pks[-1]

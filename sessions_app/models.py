from django.conf import settings
from django.db import models
from django.utils import timezone

from .validators import validate_session_key, validate_storable_json

DEFAULT_SESSION_TITLE = "New Chat"
PREVIEW_LENGTH = 120


class Session(models.Model):
    """One conversation with PocketPaw: the messages of one chat, owned by one user.

    Not to be confused with django.contrib.sessions' Session (login cookies).
    """

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="chat_sessions",
        # The (owner, key) and (owner, updated_at) indexes already lead with owner.
        db_index=False,
    )
    # The id clients use in URLs; unique per owner, since channel keys such as
    # "telegram:123" are only unique within one PocketPaw installation.
    key = models.CharField(max_length=255, validators=[validate_session_key])
    title = models.CharField(max_length=200, default=DEFAULT_SESSION_TITLE)
    title_set_by_user = models.BooleanField(default=False)
    channel = models.CharField(max_length=64, default="web")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    # Kept in step by the services in the same transaction as each write, so
    # listing never has to count messages.
    message_count = models.PositiveIntegerField(default=0)
    # The start of the latest message, kept for the same reason.
    preview = models.CharField(max_length=PREVIEW_LENGTH, blank=True, default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["owner", "key"], name="session_unique_key_per_owner"),
        ]
        indexes = [
            # Serves the session list, newest activity first, without a sort.
            models.Index(fields=["owner", "-updated_at", "-id"], name="session_owner_recent_idx"),
        ]
        verbose_name = "session"
        verbose_name_plural = "sessions"

    def __str__(self) -> str:
        # Django's admin log stores str() of what it deletes: never the title.
        return f"Session {self.key}"


class SessionTotal(models.Model):
    """How many sessions an owner has, so that the session list never counts them.

    Kept in step by the services in the same transaction as each create and
    delete. An owner without a row is counted instead (selectors.py). Rows changed
    around the services leave it wrong until `manage.py recount_sessions`.
    """

    owner = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="session_total",
    )
    sessions = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.sessions} sessions of user {self.owner_id}"


class Message(models.Model):
    class Role(models.TextChoices):
        USER = "user", "User"
        ASSISTANT = "assistant", "Assistant"
        SYSTEM = "system", "System"

    session = models.ForeignKey(
        Session,
        on_delete=models.CASCADE,
        related_name="messages",
        # The (session, created_at, id) index serves every lookup by session.
        db_index=False,
    )
    role = models.CharField(max_length=16, choices=Role.choices)
    content = models.TextField()
    metadata = models.JSONField(default=dict, blank=True, validators=[validate_storable_json])
    created_at = models.DateTimeField(default=timezone.now)
    # The client's Idempotency-Key for this append, if it sent one: the same append sent
    # again (after a timeout) finds this message instead of storing a second copy. With it,
    # a digest of what was sent, to tell that append from another under the same key: the
    # stored metadata cannot, since PostgreSQL's jsonb reads 1.5e19 back as an integer.
    idempotency_key = models.CharField(max_length=255, null=True, blank=True, editable=False)
    idempotency_digest = models.CharField(max_length=64, null=True, blank=True, editable=False)

    class Meta:
        indexes = [
            # The order messages are read in (history, export chunks): with `id` last a page
            # comes straight off the index. With (session, created_at) alone PostgreSQL has to
            # sort, and expecting few rows it sorted the rest of a session per export chunk.
            models.Index(fields=["session", "created_at", "id"], name="message_session_time_idx"),
        ]
        constraints = [
            # Partial: the messages sent without a key never touch it.
            models.UniqueConstraint(
                fields=["session", "idempotency_key"],
                condition=models.Q(idempotency_key__isnull=False),
                name="message_idempotency_key_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"Message {self.pk} ({self.role})"


class DeletionRecord(models.Model):
    """That a session was deleted, by whom and how: never what it said.

    Holds no title, content or metadata, and no foreign keys, so it outlives
    both the session and the users it names.
    """

    class Via(models.TextChoices):
        API = "api", "API"
        ADMIN = "admin", "Admin"
        COMMAND = "command", "Management command"
        RETENTION = "retention", "Retention policy"
        USER_DELETED = "user_deleted", "Owner's account deleted"

    session_key = models.CharField(max_length=255)
    # The owner's id as well as their name: ids are never reused, names may be.
    owner_id = models.BigIntegerField()
    owner_username = models.CharField(max_length=150)
    # Empty when no person asked for it: the configured retention policy (delete_session
    # --retention alone), or an account deleted outside the admin.
    actor_username = models.CharField(max_length=150, blank=True)
    via = models.CharField(max_length=16, choices=Via.choices)
    message_count = models.PositiveIntegerField()
    deleted_at = models.DateTimeField(default=timezone.now)

    class Meta:
        # Ending in id, the order both lists read in: one bulk delete or retention sweep
        # gives thousands of records the same deleted_at, which the page would sort.
        indexes = [
            models.Index(fields=["owner_id", "-deleted_at", "-id"], name="deletion_owner_recent_idx"),
            models.Index(fields=["-deleted_at", "-id"], name="deletion_recent_idx"),
        ]

    def __str__(self) -> str:
        return f"Deletion of {self.session_key} via {self.via}"

from django.contrib import admin
from django.contrib.admin.models import LogEntry
from django.contrib.admin.templatetags.admin_urls import add_preserved_filters
from django.contrib.admin.views.main import ChangeList
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.db.models import Count, Sum
from django.db.models.constants import LOOKUP_SEP
from django.db.models.functions import Substr
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.translation import ngettext
from rest_framework_simplejwt.token_blacklist.admin import BlacklistedTokenAdmin, OutstandingTokenAdmin
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from . import services
from .models import DeletionRecord, Message, Session
from .selectors import SessionNotFound

RECENT_MESSAGES_SHOWN = 50
RECENT_MESSAGE_CHARACTERS = 500
# A delete confirmation names this many of the objects it deletes, and counts the rest.
DELETION_NAMES_SHOWN = 100


class NoAddOrChangeMixin:
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ViewOnlyMixin(NoAddOrChangeMixin):
    def has_delete_permission(self, request, obj=None):
        return False


def _cut(text: str, length: int) -> str:
    return text[:length] + "…" if len(text) > length else text


def deletion_summary(
    model_admin, request, objs, *, sessions: int, messages: int, also: dict | None = None, describe=str
):
    """What the admin's delete confirmation shows: counts, not one line per message.

    Django's default lists every related row, and with 20,000 messages the page
    takes seconds and megabytes to build. Sessions and messages are deleted by
    the deletion service, which needs no per-message permission; deleting
    sessions needs the permission to, whichever page they go from. `also`: other
    rows that go with the objects, by verbose name, listed when there are any;
    `describe`: how each object is named.
    """
    model_count = {
        Session._meta.verbose_name_plural: sessions,
        Message._meta.verbose_name_plural: messages,
        **{name: count for name, count in (also or {}).items() if count},
    }
    if model_admin.model is not Session:
        model_count = {model_admin.model._meta.verbose_name_plural: len(objs), **model_count}
    model_count = {name: f"{count:,}" for name, count in model_count.items()}
    perms_needed = set()
    if not model_admin.has_delete_permission(request):
        perms_needed.add(model_admin.model._meta.verbose_name)
    if sessions and not model_admin.admin_site.get_model_admin(Session).has_delete_permission(request):
        perms_needed.add(Session._meta.verbose_name)
    names = [describe(obj) for obj in objs[:DELETION_NAMES_SHOWN]]
    if len(objs) > DELETION_NAMES_SHOWN:
        names.append(f"… and {len(objs) - DELETION_NAMES_SHOWN:,} more")
    return names, model_count, perms_needed, []


class BackToTheListAfterDeleteMixin:
    def response_delete(self, request, obj_display, obj_id):
        response = super().response_delete(request, obj_display, obj_id)
        # Django goes back to the list only for staff who may change what it lists: staff
        # who may only view and delete would land on the admin's front page.
        if response.status_code == 302 and self.has_view_permission(request):
            changelist = reverse(
                f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist",
                current_app=self.admin_site.name,
            )
            response["Location"] = add_preserved_filters(
                {"preserved_filters": self.get_preserved_filters(request), "opts": self.opts}, changelist
            )
        return response


@admin.register(Session)
class SessionAdmin(BackToTheListAfterDeleteMixin, NoAddOrChangeMixin, admin.ModelAdmin):
    # Sessions are made and changed through the API's services, which keep the
    # counters and titles right; the admin views and deletes.

    list_display = ["key", "title", "owner", "channel", "message_count", "last_activity"]
    list_filter = ["channel"]
    # The owner by whole username, in any case: a part of one would match too many.
    search_fields = ["key", "title", "=owner__username"]
    list_select_related = ["owner"]
    raw_id_fields = ["owner"]
    ordering = ["-updated_at"]
    # A filtered page would count the whole table too, for "(N total)".
    show_full_result_count = False
    fields = [
        "key",
        "owner",
        "title",
        "channel",
        "message_count",
        "created_at",
        "updated_at",
        "recent_messages",
    ]
    readonly_fields = fields

    def get_fields(self, request, obj=None):
        # Message text is guarded by the message admin's permissions, on this page as on its own.
        fields = super().get_fields(request, obj)
        if not self.admin_site.get_model_admin(Message).has_view_permission(request):
            fields = [name for name in fields if name != "recent_messages"]
        return fields

    @admin.display(description="last activity", ordering="updated_at")
    def last_activity(self, session):
        return session.updated_at

    @admin.display(description=f"latest {RECENT_MESSAGES_SHOWN} messages")
    def recent_messages(self, session):
        # A session may hold tens of thousands of messages: show the newest few
        # and link to the paginated message list for the rest.
        # Each cut short as well: 50 messages of the longest allowed made a 5 MB page.
        latest = list(
            session.messages.order_by("-created_at", "-pk").values(
                "created_at", "role", start=Substr("content", 1, RECENT_MESSAGE_CHARACTERS + 1)
            )[:RECENT_MESSAGES_SHOWN]
        )
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (m["created_at"], m["role"], _cut(m["start"], RECENT_MESSAGE_CHARACTERS))
                for m in reversed(latest)
            ),
        )
        all_url = reverse("admin:sessions_app_message_changelist") + "?" + urlencode(
            {"session__id__exact": session.pk}
        )
        count = session.message_count
        return format_html(
            '<table><tr><th>time</th><th>role</th><th>content</th></tr>{}</table>'
            '<p><a href="{}">{}</a></p>',
            rows,
            all_url,
            ngettext("The %(count)d message", "All %(count)d messages", count) % {"count": count},
        )

    def get_deleted_objects(self, objs, request):
        # A bulk selection comes from the list's queryset, which joins the owner already.
        sessions = list(objs)
        return deletion_summary(
            self,
            request,
            sessions,
            sessions=len(sessions),
            messages=sum(session.message_count for session in sessions),
            # Ids are unique per user only: two users' "shared" would read the same.
            describe=lambda session: f"{session}, owned by {session.owner.get_username()}",
        )

    def delete_model(self, request, obj):
        try:
            services.session_delete(
                session=obj, via=DeletionRecord.Via.ADMIN, actor=request.user.get_username()
            )
        except SessionNotFound:
            # Another request deleted it after this page looked it up: gone all the same,
            # and recorded by whoever deleted it.
            pass

    def delete_queryset(self, request, queryset):
        services.sessions_delete(
            sessions=queryset, via=DeletionRecord.Via.ADMIN, actor=request.user.get_username()
        )


class MessageChangeList(ChangeList):
    def get_queryset(self, request, exclude_parameters=None):
        # The list shows no text, and 100 messages of the longest allowed are 40 MB of it.
        return super().get_queryset(request, exclude_parameters).defer("content", "metadata")


@admin.register(Message)
class MessageAdmin(ViewOnlyMixin, admin.ModelAdmin):
    # Messages change only through the services, which keep each session's
    # counter in step; a message goes when its session is deleted.

    list_display = ["id", "session", "role", "created_at"]
    list_filter = ["role"]
    list_select_related = ["session"]
    raw_id_fields = ["session"]
    ordering = ["-id"]
    # Counting every message on each page load is the slow part of a big table.
    show_full_result_count = False

    def get_changelist(self, request, **kwargs):
        return MessageChangeList

    def get_ordering(self, request):
        # One session's messages come off its index in time order; across sessions only
        # the primary key is in order without sorting the whole table (0.4 s for 130,000).
        if "session__id__exact" in request.GET:
            return ["-created_at", "-id"]
        return super().get_ordering(request)



@admin.register(DeletionRecord)
class DeletionRecordAdmin(ViewOnlyMixin, admin.ModelAdmin):
    # An audit trail is only worth something if nobody can edit or prune it here.

    list_display = ["deleted_at", "session_key", "owner_username", "actor_username", "via", "message_count"]
    list_filter = ["via", "deleted_at"]
    search_fields = ["session_key", "owner_username", "actor_username"]
    # No date_hierarchy: its links come from every record's date, a scan of the whole table
    # per page load (on SQLite through a Python function, 5 µs a record); the deleted_at
    # filter above narrows by date from the index.
    ordering = ["-deleted_at", "-id"]



User = get_user_model()
admin.site.unregister(User)


@admin.register(User)
class UserWithSessionsAdmin(BackToTheListAfterDeleteMixin, UserAdmin):
    """Django's user admin, with a delete confirmation that counts a user's sessions, and
    deletion records that name the admin who deleted the account."""

    # The sessions and the accounts go in one transaction: the one Django's delete page
    # opens, or the one the site's "delete selected" action does (admin_site.py).
    def delete_model(self, request, obj):
        services.sessions_of_deleted_users_delete(users=[obj], actor=request.user.get_username())
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        services.sessions_of_deleted_users_delete(users=queryset, actor=request.user.get_username())
        super().delete_queryset(request, queryset)

    def get_deleted_objects(self, objs, request):
        users = list(objs)
        totals = Session.objects.filter(owner__in=users).aggregate(
            sessions=Count("pk"), messages=Sum("message_count")
        )
        # Django deletes the admin log entries of a staff account with it: the page says so.
        log_entries = LogEntry.objects.filter(user__in=users).count()
        return deletion_summary(
            self,
            request,
            users,
            sessions=totals["sessions"],
            messages=totals["messages"] or 0,
            also={LogEntry._meta.verbose_name_plural: log_entries},
        )


admin.site.unregister(OutstandingToken)


@admin.register(OutstandingToken)
class OutstandingTokenWithoutSecretAdmin(OutstandingTokenAdmin):
    """SimpleJWT's, without the token itself: it is a credential, and whoever reads it can
    refresh it into access as its user. The jti names a token just as well."""

    fields = ["jti", "user", "created_at", "expires_at"]

    def lookup_allowed(self, lookup, value, request=None):
        # ?token__startswith=... would give its characters away one at a time by the count.
        return lookup.split(LOOKUP_SEP)[0] != "token" and super().lookup_allowed(lookup, value, request)


# A revoked refresh token stays revoked: SimpleJWT's admin lets an operator delete or edit
# a blacklist entry, which would make a logged-out token work again.
admin.site.unregister(BlacklistedToken)


@admin.register(BlacklistedToken)
class BlacklistedTokenViewOnlyAdmin(ViewOnlyMixin, BlacklistedTokenAdmin):
    actions = None

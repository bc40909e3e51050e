"""The admin site: input its own forms never send gets the admin's answer to bad input
(back to the list with ?e=1, a form error, a 400 or a 404), never a 500.

Django's admin takes lookups, ids and search terms from the URL and the form and hands
them to the database; some fail only once the query runs (?id__range=1, ?username__regex=(,
?deleted_at__year__exact=10000, an id beyond SQLite's integers, a search of a thousand
words on SQLite). The site gives every model admin registered on it, Django's and
SimpleJWT's included, the checks below, so none can be registered without them. A fault
of the database itself (a missing table, a disk error) is still a 500, in the server's log.

It also makes every delete confirmation, of one object or of a selection, count and log
only what it deletes when it is posted twice at once (still_there_locked).
"""
import functools
import logging
from contextlib import contextmanager, nullcontext

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import actions as django_actions
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.autocomplete import AutocompleteJsonView
from django.contrib.contenttypes import views as contenttype_views
from django.core.exceptions import BadRequest, PermissionDenied, ValidationError
from django.db import DatabaseError, DataError, NotSupportedError, connection, router, transaction
from django.db.models import ForeignObjectRel
from django.http import Http404
from django.urls import path

logger = logging.getLogger(__name__)

# "Delete selected" confirms on a page whose form posts back one field per object, and
# Django answers a bare 400 to more fields than DATA_UPLOAD_MAX_NUMBER_FIELDS (settings.py),
# which leaves room for this many objects and the form's own fields.
DELETE_SELECTED_LIMIT = 10_000
# The body limit (API_MAX_BODY_BYTES, which the admin has too) bounds them as well: an id
# posts back as "_selected_action=<up to 19 digits>&", beside the CSRF token and the rest.
BYTES_PER_POSTED_ID = 37
BYTES_BESIDE_THE_IDS = 256


def delete_selected_limit() -> int:
    """How many objects "Delete selected" takes at once: as many as its confirmation can post back."""
    return min(DELETE_SELECTED_LIMIT, (settings.API_MAX_BODY_BYTES - BYTES_BESIDE_THE_IDS) // BYTES_PER_POSTED_ID)

# How SQLite and the drivers word their refusal of a query built from what the URL asked,
# as opposed to a fault of the database itself (a missing table, a disk error), which
# stays a 500 for the server's log.
INPUT_ERROR_MESSAGES = (
    "expression tree is too large",  # SQLite: a search of about 1,000 words
    "like or glob pattern too complex",  # SQLite: a search word of 50,000 bytes
    "user-defined function raised exception",  # SQLite: ?field__regex= with an invalid pattern
    "too many sql variables",  # SQLite: ?id__in= with too many ids
    "incorrect number of bindings",  # sqlite3: ?id__range= with one value
    "placeholders but",  # psycopg: the same
)


def _is_input_error(error: Exception) -> bool:
    if isinstance(error, (DataError, NotSupportedError, ValueError, OverflowError, IndexError)):
        return True  # DataError: PostgreSQL's class 22 (an invalid regex, a number out of range)
    message = str(error).lower()
    return isinstance(error, DatabaseError) and any(text in message for text in INPUT_ERROR_MESSAGES)


@contextmanager
def query_from_the_url(client_error):
    """Runs queries built from what the request asked, turning the database's refusal of
    that input into `client_error`; any other database error (a busy one included, which
    DatabaseBusyMiddleware answers with 503) is raised as it is."""
    try:
        # Within a transaction (ATOMIC_REQUESTS, a test) a failed query would leave it
        # unusable for the rest of the request; a savepoint keeps it usable.
        with transaction.atomic() if connection.in_atomic_block else nullcontext():
            yield
    except Exception as error:
        if not _is_input_error(error):
            raise
        logger.warning("Refused a query built from the request: %s", error)
        raise client_error(error) from error


def is_an_id_of(model, value) -> bool:
    primary_key = model._meta.pk
    try:
        primary_key.run_validators(primary_key.to_python(value))
    except ValidationError:
        return False
    return True


class LookupCheckedChangeListMixin:
    """For a ChangeList: a lookup the database cannot run is answered as Django answers one
    it cannot parse, back to the list with ?e=1."""

    def get_filters(self, request):
        try:
            return super().get_filters(request)
        except (ValueError, OverflowError) as error:
            # The date hierarchy's year 10000 fails while its range is built.
            raise IncorrectLookupParameters(error) from error

    def get_results(self, request):
        with query_from_the_url(IncorrectLookupParameters):
            super().get_results(request)
            # The page's rows are read here, not while the page renders: a search that
            # counts fine can still be too large to select (SQLite's expression depth).
            len(self.result_list)


@functools.cache
def lookup_checked(changelist_class: type) -> type:
    if issubclass(changelist_class, LookupCheckedChangeListMixin):
        return changelist_class
    return type(changelist_class.__name__, (LookupCheckedChangeListMixin, changelist_class), {})


class IdCheckedMultipleChoiceField(forms.ModelMultipleChoiceField):
    """Django's, refusing a posted value that is no id (on SQLite, one beyond its integers
    failed in the database) as it refuses an id that names nothing."""

    def _check_values(self, value):
        if self.to_field_name is None:
            for item in value:
                if not is_an_id_of(self.queryset.model, item):
                    raise ValidationError(
                        self.error_messages["invalid_pk_value"], code="invalid_pk_value", params={"pk": item}
                    )
        return super()._check_values(value)


class ForgedInputMixin:
    def get_changelist(self, request, **kwargs):
        # Whatever changelist the admin itself uses, with the checks.
        return lookup_checked(super().get_changelist(request, **kwargs))

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        kwargs.setdefault("form_class", IdCheckedMultipleChoiceField)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def response_action(self, request, queryset):
        # "Delete selected" filters by whatever ids were posted.
        if not all(is_an_id_of(self.model, value) for value in request.POST.getlist(ACTION_CHECKBOX_NAME)):
            self.message_user(
                request, "The selection holds ids that are not valid. No items have been changed.", messages.ERROR
            )
            return None
        return super().response_action(request, queryset)


class CheckedAutocompleteJsonView(AutocompleteJsonView):
    def process_request(self, request):
        term, model_admin, source_field, to_field_name = super().process_request(request)
        if isinstance(source_field, ForeignObjectRel):
            # The admin's forms ask only for their own fields; Django's view fails on a reverse one.
            raise PermissionDenied
        return term, model_admin, source_field, to_field_name

    def get(self, request, *args, **kwargs):
        with query_from_the_url(BadRequest):
            return super().get(request, *args, **kwargs)


def view_on_site(request, content_type_id, object_id):
    try:
        return contenttype_views.shortcut(request, content_type_id, object_id)
    except OverflowError:
        # An id beyond SQLite's integers names no object, as Django answers any other such id.
        raise Http404("No such object.") from None


@admin.action(permissions=["delete"], description=django_actions.delete_selected.short_description)
def delete_selected(modeladmin, request, queryset):
    """Django's, refusing up front a selection larger than its confirmation can post back."""
    selected, limit = queryset.count(), delete_selected_limit()
    if selected > limit:
        modeladmin.message_user(
            request,
            f"{selected:,} {modeladmin.model._meta.verbose_name_plural} are selected, and the admin deletes "
            f"at most {limit:,} at once: nothing was deleted. Narrow the selection with the "
            "filters or the search (for sessions by age: manage.py delete_session --older-than DAYS).",
            messages.ERROR,
        )
        return None
    # Django's action writes the admin log's entries, then deletes: one transaction, so that
    # a delete that fails leaves no entry saying it happened.
    with transaction.atomic(using=router.db_for_write(modeladmin.model)):
        if request.POST.get("post"):
            still_there = still_there_locked(modeladmin.model, queryset.values("pk"))
            if not still_there:
                # Django would go back to the list without a word: after a double click, the
                # page the operator sees would not say whether anything was deleted.
                modeladmin.message_user(
                    request,
                    f"The selected {modeladmin.model._meta.verbose_name_plural} no longer exist "
                    "(deleted meanwhile): there was nothing left to delete.",
                    messages.WARNING,
                )
                return None
            queryset = queryset.filter(pk__in=still_there)
        return django_actions.delete_selected(modeladmin, request, queryset)


def still_there_locked(model, pks) -> list:
    """Those of `pks` whose rows are still there, locked to the end of the transaction.

    For a delete confirmation posted twice at once (a double click, two operators): the
    second waits here for the first, then counts, logs and reports only what is left, instead
    of a deletion it did not make. In primary-key order, as the deletion service locks, so
    that the two cannot deadlock; NO KEY UPDATE, so that rows pointing at these can still
    be written meanwhile.
    """
    still_there = model._default_manager.filter(pk__in=pks).order_by("pk").select_for_update(no_key=True)
    return list(still_there.values_list("pk", flat=True))


class ConfirmedOnceMixin:
    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        # Only the delete page's confirmation (it posts "post"), which Django runs in a
        # transaction; other pages that post here (a password change) run in none.
        if obj is None or not request.POST.get("post") or not connection.in_atomic_block:
            return obj
        # Gone meanwhile: Django says so, and logs nothing.
        return obj if still_there_locked(type(obj), [obj.pk]) else None


class AdminSite(admin.AdminSite):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.add_action(delete_selected)

    def register(self, model_or_iterable, admin_class=None, **options):
        admin_class = admin_class or admin.ModelAdmin
        missing = tuple(mixin for mixin in (ForgedInputMixin, ConfirmedOnceMixin) if not issubclass(admin_class, mixin))
        if missing:
            admin_class = type(admin_class.__name__, (*missing, admin_class), {"__module__": admin_class.__module__})
        super().register(model_or_iterable, admin_class, **options)

    def autocomplete_view(self, request):
        return CheckedAutocompleteJsonView.as_view(admin_site=self)(request)

    def get_urls(self):
        # Ahead of Django's own "view on site" route, which it replaces.
        return [
            path("r/<path:content_type_id>/<path:object_id>/", self.admin_view(view_on_site), name="view_on_site"),
            *super().get_urls(),
        ]

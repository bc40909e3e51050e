"""Reads. Every queryset that scopes sessions to a user is built here."""
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet

from .models import Session


class SessionNotFound(Exception):
    """The session does not exist, or belongs to somebody else (which callers must not reveal)."""


def session_list_for_user(*, user: AbstractBaseUser) -> QuerySet[Session]:
    return Session.objects.filter(owner=user)


def session_get_for_user(*, user: AbstractBaseUser, key: str) -> Session:
    try:
        return session_list_for_user(user=user).get(key=key)
    except Session.DoesNotExist:
        raise SessionNotFound(key) from None


def sessions_with_keys(*, keys: list[str], owner_username: str | None = None) -> QuerySet[Session]:
    """Every session with one of these keys, across owners unless one is named."""
    sessions = Session.objects.filter(key__in=keys).select_related("owner")
    if owner_username is not None:
        sessions = sessions.filter(owner__username=owner_username)
    return sessions.order_by("key", "owner__username")

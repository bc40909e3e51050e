"""The service layer: one deletion path, set-based and all or nothing."""
from unittest import mock

import pytest
from django.core.exceptions import ValidationError
from django.db import DatabaseError
from django.db.models.signals import post_delete, pre_delete

from sessions_app import services
from sessions_app.models import DeletionRecord, Message, Session
from sessions_app.selectors import SessionNotFound

from .factories import SessionFactory, session_with_messages

pytestmark = pytest.mark.django_db


def test_session_delete_reports_what_it_deleted(user):
    session = session_with_messages(owner=user, count=7)
    result = services.session_delete(session=session, via="api")
    assert result == services.DeletionResult(sessions=1, messages=7)


def test_session_delete_of_an_already_deleted_session_raises_not_found(user):
    session = SessionFactory(owner=user)
    services.session_delete(session=session, via="api")
    with pytest.raises(SessionNotFound):
        services.session_delete(session=session, via="api")


def test_deleting_1000_messages_takes_as_few_queries_as_deleting_one(
    user, django_assert_num_queries
):
    big = session_with_messages(owner=user, count=1000)
    small = session_with_messages(owner=user, count=1)
    # Lock the session, one DELETE for its messages, one for the session, one
    # INSERT of the audit record, one UPDATE of the owner's session total,
    # inside the savepoint that wraps it in tests.
    with django_assert_num_queries(7):
        services.session_delete(session=big, via="api")
    with django_assert_num_queries(7):
        services.session_delete(session=small, via="api")
    assert Message.objects.count() == 0


def test_deleting_a_batch_of_500_sessions_takes_as_few_queries_as_deleting_one(
    user, django_assert_num_queries
):
    SessionFactory.create_batch(services.IDS_PER_STATEMENT, owner=user)
    # The same statements as for one session: the audit records of the whole batch
    # are one INSERT ... SELECT, not one INSERT per slice of the driver's parameter limit.
    with django_assert_num_queries(7):
        services.sessions_delete(sessions=Session.objects.filter(owner=user), via="api")
    assert DeletionRecord.objects.count() == services.IDS_PER_STATEMENT


def test_no_per_row_signal_receivers_on_messages():
    assert not pre_delete.has_listeners(Message)
    assert not post_delete.has_listeners(Message)


def test_sessions_delete_removes_a_whole_queryset(user, other_user):
    for i in range(3):
        session_with_messages(owner=user, count=2, key=f"mine{i}")
    session_with_messages(owner=other_user, count=2, key="theirs")
    result = services.sessions_delete(sessions=Session.objects.filter(owner=user), via="api")
    assert result == services.DeletionResult(sessions=3, messages=6)
    assert list(Session.objects.values_list("key", flat=True)) == ["theirs"]


def test_sessions_delete_spans_several_batches(user):
    SessionFactory.create_batch(services.IDS_PER_STATEMENT + 3, owner=user)
    result = services.sessions_delete(sessions=Session.objects.all(), via="api")
    assert result.sessions == services.IDS_PER_STATEMENT + 3
    assert not Session.objects.exists()


def test_sessions_delete_removes_every_session_when_locking_takes_several_fetches(
    monkeypatch, user, other_user
):
    monkeypatch.setattr(services, "LOCK_FETCH_SIZE", 2)
    for i in range(3):
        session_with_messages(owner=user, count=2, key=f"mine{i}")
        session_with_messages(owner=other_user, count=1, key=f"theirs{i}")
    result = services.sessions_delete(sessions=Session.objects.all(), via="retention")
    assert result == services.DeletionResult(sessions=6, messages=9)
    assert not Message.objects.exists()
    assert DeletionRecord.objects.count() == 6


def test_sessions_delete_accepts_a_distinct_queryset(user):
    # The admin's changelist makes its queryset DISTINCT for some searches; FOR UPDATE refuses those.
    session_with_messages(owner=user, count=2)
    result = services.sessions_delete(sessions=Session.objects.filter(owner=user).distinct(), via="admin")
    assert result == services.DeletionResult(sessions=1, messages=2)


def test_sessions_delete_deletes_only_the_sessions_of_a_sliced_queryset(user):
    for key in ["first", "second", "third"]:
        session_with_messages(owner=user, count=1, key=key)
    first_two = Session.objects.filter(owner=user).order_by("pk")[:2]
    result = services.sessions_delete(sessions=first_two, via="command")
    assert result == services.DeletionResult(sessions=2, messages=2)
    assert list(Session.objects.values_list("key", flat=True)) == ["third"]


def test_a_fault_after_the_message_delete_rolls_everything_back(user):
    session = session_with_messages(owner=user, count=5)
    real_raw_delete = type(Session.objects.all())._raw_delete

    def fail_on_sessions(queryset, using):
        if queryset.model is Session:
            raise DatabaseError("disk on fire")
        return real_raw_delete(queryset, using)

    with mock.patch.object(type(Session.objects.all()), "_raw_delete", fail_on_sessions):
        with pytest.raises(DatabaseError):
            services.session_delete(session=session, via="api")
    assert Session.objects.filter(pk=session.pk).exists()
    assert Message.objects.filter(session=session).count() == 5


def test_session_create_refuses_a_duplicate_key(user):
    services.session_create(owner=user, key="k")
    with pytest.raises(services.SessionAlreadyExists):
        services.session_create(owner=user, key="k")


def test_message_create_refuses_metadata_no_database_can_store(user):
    session = SessionFactory(owner=user)
    with pytest.raises(ValidationError):
        services.message_create(session=session, role="user", content="hi", metadata={"a": "\x00"})
    session.refresh_from_db()
    assert (session.message_count, Message.objects.count()) == (0, 0)


def test_message_create_on_a_deleted_session_raises_not_found(user):
    session = SessionFactory(owner=user)
    services.session_delete(session=session, via="api")
    with pytest.raises(SessionNotFound):
        services.message_create(session=session, role="user", content="late")
    assert not Message.objects.exists()


def title_after(owner, *messages: tuple[str, str], title: str | None = None) -> str:
    """The title of a new session once these (role, content) messages are appended."""
    session = services.session_create(owner=owner, key="k", title=title)
    for role, content in messages:
        services.message_create(session=session, role=role, content=content)
    session.refresh_from_db()
    return session.title


def test_first_user_message_becomes_the_title(user):
    assert title_after(user, ("user", "  Plan a trip to Lisbon  ")) == "Plan a trip to Lisbon"


def test_auto_title_is_cut_to_80_characters(user):
    assert title_after(user, ("user", "x" * 100)) == "x" * 80


def test_later_user_messages_do_not_change_the_auto_title(user):
    assert title_after(user, ("user", "New Chat"), ("user", "second")) == "New Chat"


def test_a_blank_first_user_message_leaves_the_title_to_the_next(user):
    assert title_after(user, ("user", "  \n "), ("user", "Plan a weekend in Lisbon")) == "Plan a weekend in Lisbon"


def test_a_first_user_message_of_no_break_spaces_leaves_the_title_to_the_next(user):
    # Blank to Python; the \S of PostgreSQL's regex would have taken it for a word.
    assert title_after(user, ("user", "\u00a0\u2007"), ("user", "Plan")) == "Plan"


def test_auto_title_cut_after_a_word_ends_without_a_space(user):
    assert title_after(user, ("user", "a" * 79 + " bcd")) == "a" * 79


def test_auto_title_is_one_line(user):
    assert title_after(user, ("user", "# Trip\n\nPlan\ta  weekend")) == "# Trip Plan a weekend"


def test_assistant_messages_do_not_set_the_title(user):
    assert title_after(user, ("assistant", "Hello there")) == "New Chat"


def test_a_title_given_at_creation_is_kept(user):
    assert title_after(user, ("user", "first"), title="Mine") == "Mine"


def test_a_title_given_at_creation_is_kept_even_when_it_is_the_default(user):
    assert title_after(user, ("user", "first"), title="New Chat") == "New Chat"


def test_an_assistant_greeting_before_the_first_user_message_leaves_it_the_title(user):
    assert title_after(user, ("assistant", "Hi! How can I help?"), ("user", "Plan a trip")) == "Plan a trip"


def test_a_renamed_session_keeps_its_name_even_when_it_is_the_default(user):
    session = services.session_create(owner=user, key="k")
    services.session_rename(session=session, title="New Chat")
    services.message_create(session=session, role="user", content="hello")
    session.refresh_from_db()
    assert session.title == "New Chat"


def test_renaming_a_deleted_session_is_session_not_found(user):
    session = services.session_create(owner=user, key="k")
    services.session_delete(session=session, via="api")
    with pytest.raises(SessionNotFound):
        services.session_rename(session=session, title="Too late")


def test_a_new_sessions_activity_time_is_its_creation_time(user):
    session = services.session_create(owner=user, key="k")
    session.refresh_from_db()
    assert session.updated_at == session.created_at


def test_session_str_does_not_reveal_the_title(user):
    session = SessionFactory(owner=user, key="k", title="my secret diagnosis")
    assert "secret" not in str(session)


def test_session_create_refuses_an_invalid_key_whoever_calls_it(user):
    with pytest.raises(ValidationError):
        services.session_create(owner=user, key="a/b")
    assert not Session.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_deleting_a_users_sessions_outside_any_transaction_makes_its_own(user):
    # Its row locks need a transaction (PostgreSQL refuses FOR UPDATE in autocommit); every caller so far had one.
    session_with_messages(owner=user, key="s1", count=2)
    services.sessions_of_deleted_users_delete(users=[user])
    assert (Session.objects.count(), Message.objects.count()) == (0, 0)

"""Concurrent requests against a real server, on SQLite and on PostgreSQL alike.

Each test sends real HTTP requests from several threads to pytest-django's
live server, which answers each request on its own thread with its own
database connection, so the database itself settles every race. A 500 here
is a race the service layer lets through to the client.
"""
import itertools
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import pytest
import requests
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import DatabaseError, connection, connections, transaction
from django.test import Client
from django.utils import timezone
from rest_framework_simplejwt.tokens import RefreshToken

from sessions_app import services
from sessions_app.models import Message, Session, SessionTotal
from sessions_app.throttles import LoginThrottle

from .factories import SessionFactory, UserFactory, session_with_messages

pytestmark = pytest.mark.django_db(transaction=True)

ROUNDS = 10
# Long enough for SQLite's 20-second busy timeout, short enough to fail rather than hang.
TIMEOUT = 30


@pytest.fixture
def api(live_server):
    """Send requests as one user with a real bearer token, from any thread."""
    user = UserFactory(username="alice")
    token = RefreshToken.for_user(user).access_token
    headers = {"Authorization": f"Bearer {token}"}

    class Api:
        owner = user

        def request(self, method: str, path: str, extra_headers=None, **kwargs) -> requests.Response:
            # A fresh connection per request: requests.Session is not thread-safe.
            return requests.request(
                method, live_server.url + path, headers={**headers, **(extra_headers or {})}, timeout=TIMEOUT, **kwargs
            )

    return Api()


def all_at_once(*calls):
    """Run the calls on their own threads, released together, and return their results in order."""
    barrier = threading.Barrier(len(calls), timeout=TIMEOUT)

    def run(call):
        barrier.wait()
        return call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return [future.result() for future in [pool.submit(run, call) for call in calls]]


def orphan_messages():
    return Message.objects.exclude(session_id__in=Session.objects.values("pk"))


def test_two_deletes_of_the_same_session_at_once_answer_200_and_404(api):
    for round_ in range(ROUNDS):
        key = f"race_{round_}"
        session_with_messages(owner=api.owner, key=key, count=50)

        responses = all_at_once(
            lambda: api.request("DELETE", f"/api/sessions/{key}"),
            lambda: api.request("DELETE", f"/api/sessions/{key}"),
        )

        answers = sorted((r.status_code, r.json()) for r in responses)
        assert answers == [(200, {"status": "ok"}), (404, {"detail": "Session not found"})], round_
        assert not Session.objects.filter(key=key).exists()
    assert Message.objects.count() == 0


def test_appends_racing_a_delete_answer_201_before_it_and_404_after(api):
    for round_ in range(3):
        key = f"busy_{round_}"
        SessionFactory(owner=api.owner, key=key)
        appended_a_few = threading.Event()
        delete_answered_at = []
        appends = []  # (sent at, status), in the order the appender sent them

        def append(content):
            sent_at = time.monotonic()
            response = api.request(
                "POST", f"/api/sessions/{key}/messages", json={"role": "user", "content": content}
            )
            appends.append((sent_at, response.status_code))
            return response.status_code

        def append_until_gone():
            for i in range(200):
                status = append(f"message {i}")
                if i == 4:
                    appended_a_few.set()
                if status != 201:
                    break
            appended_a_few.set()
            # Once gone, the session stays gone for every later append.
            for _ in range(3):
                append("late")

        def delete_midway():
            assert appended_a_few.wait(TIMEOUT)
            response = api.request("DELETE", f"/api/sessions/{key}")
            delete_answered_at.append(time.monotonic())
            return response.status_code

        appender_result, delete_status = all_at_once(append_until_gone, delete_midway)

        assert appender_result is None
        assert delete_status == 200, round_
        statuses = [status for _, status in appends]
        assert set(statuses) <= {201, 404}, statuses
        first_404 = statuses.index(404)
        assert statuses[:first_404] == [201] * first_404, statuses
        assert first_404 >= 5, statuses
        # An append the server accepted was sent before the delete answered.
        assert all(sent_at < delete_answered_at[0] for sent_at, status in appends if status == 201)
        assert not Session.objects.filter(key=key).exists()
        assert orphan_messages().count() == 0
    assert Message.objects.count() == 0


def test_two_creates_of_the_same_id_at_once_answer_201_and_409(api):
    for round_ in range(ROUNDS):
        key = f"twin_{round_}"

        responses = all_at_once(
            lambda: api.request("POST", "/api/sessions", json={"id": key, "title": "first"}),
            lambda: api.request("POST", "/api/sessions", json={"id": key, "title": "second"}),
        )

        statuses = sorted(r.status_code for r in responses)
        assert statuses == [201, 409], (round_, [r.text for r in responses])
        conflict = next(r for r in responses if r.status_code == 409)
        assert conflict.json() == {"detail": "Session already exists"}
        winner = next(r for r in responses if r.status_code == 201)
        assert list(Session.objects.filter(key=key).values_list("title", flat=True)) == [
            winner.json()["title"]
        ]


def test_an_append_and_its_retry_at_once_store_one_message(api):
    # A client that timed out and sent it again while the first was still being stored.
    for round_ in range(ROUNDS):
        key = f"retried_{round_}"
        SessionFactory(owner=api.owner, key=key)
        body = {"role": "user", "content": f"message {round_}"}
        headers = {"Idempotency-Key": f"retry-{round_}"}

        responses = all_at_once(
            *[lambda: api.request("POST", f"/api/sessions/{key}/messages", json=body, extra_headers=headers)] * 2
        )

        assert [r.status_code for r in responses] == [201, 201], [r.text for r in responses]
        assert sorted(r.headers.get("Idempotent-Replayed", "") for r in responses) == ["", "true"]
        assert Message.objects.filter(session__key=key).count() == 1


def test_creates_and_deletes_at_once_keep_the_total_exact(api):
    for round_ in range(ROUNDS):
        SessionFactory(owner=api.owner, key=f"old_{round_}")
        # No total yet: the racing creates must also settle who writes the first one.
        SessionTotal.objects.filter(owner=api.owner).delete()

        responses = all_at_once(
            lambda: api.request("POST", "/api/sessions", json={"id": f"a_{round_}"}),
            lambda: api.request("POST", "/api/sessions", json={"id": f"b_{round_}"}),
            lambda: api.request("DELETE", f"/api/sessions/old_{round_}"),
        )

        assert sorted(r.status_code for r in responses) == [200, 201, 201], round_
        listed = api.request("GET", "/api/sessions").json()["total"]
        assert listed == Session.objects.filter(owner=api.owner).count(), round_


def test_two_refreshes_with_one_token_at_once_give_one_new_pair(live_server, monkeypatch):
    refresh = str(RefreshToken.for_user(UserFactory(username="alice")))
    check_revoked = RefreshToken.check_blacklist

    def check_revoked_slowly(token):
        check_revoked(token)
        # Both requests are past the check before either has revoked the token.
        time.sleep(0.3)

    monkeypatch.setattr(RefreshToken, "check_blacklist", check_revoked_slowly)

    def refresh_once():
        return requests.post(live_server.url + "/api/auth/token/refresh", json={"refresh": refresh}, timeout=TIMEOUT)

    responses = all_at_once(refresh_once, refresh_once)

    assert sorted(r.status_code for r in responses) == [200, 401]


def test_a_burst_of_logins_for_one_username_passes_the_limit_no_further(live_server, monkeypatch, settings):
    settings.API_THROTTLE_RATES = {**settings.API_THROTTLE_RATES, "login_username": "3/minute"}
    record_attempt = LoginThrottle.throttle_success

    def record_attempt_slowly(throttle):
        # Every attempt has read the count before any has written it back.
        time.sleep(0.2)
        return record_attempt(throttle)

    monkeypatch.setattr(LoginThrottle, "throttle_success", record_attempt_slowly)

    def login():
        body = {"username": "alice", "password": "wrong"}
        return requests.post(live_server.url + "/api/auth/token", json=body, timeout=TIMEOUT)

    # On SQLite the transaction alone queues the checks; on PostgreSQL the key's lock does.
    responses = all_at_once(*[login] * 6)

    assert sorted(r.status_code for r in responses) == [401, 401, 401, 429, 429, 429]


def test_appends_at_once_leave_the_list_in_step_with_the_history(api, monkeypatch):
    SessionFactory(owner=api.owner, key="busy")
    calls = itertools.count()

    def now_slow_for_the_first_caller():
        taken = timezone.now()
        if next(calls) == 0:
            # The first append has its time, the others overtake it.
            time.sleep(0.3)
        return taken

    monkeypatch.setattr(services, "timezone", SimpleNamespace(now=now_slow_for_the_first_caller))

    all_at_once(
        *[lambda i=i: api.request("POST", "/api/sessions/busy/messages", json={"role": "user", "content": f"m{i}"}) for i in range(3)]
    )

    (listed,) = api.request("GET", "/api/sessions").json()["sessions"]
    history = api.request("GET", "/api/sessions/busy/history").json()
    # On SQLite the transaction alone queues the appends; on PostgreSQL the row lock does.
    assert (listed["updated_at"], listed["title"]) == (history[-1]["timestamp"], history[0]["content"])


def test_a_recount_beside_creates_appends_and_deletes_leaves_every_counter_exact(api):
    def recount():
        try:
            return services.counters_recount()
        finally:
            connections.close_all()  # this thread's own connections

    for round_ in range(ROUNDS):
        SessionFactory(owner=api.owner, key=f"old_{round_}")
        session_with_messages(owner=api.owner, key=f"busy_{round_}", count=3)
        # Counters that drifted, so that the recount has rows to correct while the writes land.
        SessionTotal.objects.filter(owner=api.owner).update(sessions=99)
        Session.objects.filter(owner=api.owner).update(message_count=99)

        _, *responses = all_at_once(
            recount,
            lambda: api.request("POST", "/api/sessions", json={"id": f"new_{round_}"}),
            lambda: api.request(
                "POST", f"/api/sessions/busy_{round_}/messages", json={"role": "user", "content": "hi"}
            ),
            lambda: api.request("DELETE", f"/api/sessions/old_{round_}"),
        )

        assert [r.status_code for r in responses] == [201, 201, 200], round_
        listed = api.request("GET", "/api/sessions").json()
        assert listed["total"] == Session.objects.filter(owner=api.owner).count(), round_
        assert {item["id"]: item["message_count"] for item in listed["sessions"]} == {
            session.key: session.messages.count() for session in Session.objects.filter(owner=api.owner)
        }, round_


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite locks the whole database, not rows")
def test_a_delete_across_owners_takes_their_totals_in_owner_order():
    first_owner, second_owner = UserFactory(), UserFactory()
    # The second owner's total is written first, so a plain UPDATE of both meets it first.
    doomed = [services.session_create(owner=owner).pk for owner in (second_owner, first_owner)]
    holding, release = threading.Event(), threading.Event()

    def delete_both():
        try:
            with transaction.atomic():
                services.sessions_delete(sessions=Session.objects.filter(pk__in=doomed), via="retention")
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=2) as pool:
        holder = pool.submit(
            in_a_transaction_until_released,
            lambda: SessionTotal.objects.select_for_update().get(owner=first_owner),
            holding,
            release,
        )
        assert holding.wait(TIMEOUT)
        deleter = pool.submit(delete_both)
        waited_for_a_lock = wait_for_a_blocked_query()
        try:
            with transaction.atomic():
                # Free if the delete waits for the first owner's total before taking the second's.
                SessionTotal.objects.select_for_update(nowait=True).get(owner=second_owner)
            second_total_free = True
        except DatabaseError:
            second_total_free = False
        release.set()
        holder.result(TIMEOUT)
        deleter.result(TIMEOUT)
    assert (waited_for_a_lock, second_total_free) == (True, True)
    assert not Session.objects.exists()


def delete_account(user, *, before_commit=lambda: None):
    """Delete the account as the admin does, on this thread's own connection."""
    try:
        with transaction.atomic():
            services.sessions_of_deleted_users_delete(users=[user], actor="admin")
            get_user_model().objects.filter(pk=user.pk).delete()
            before_commit()
    finally:
        connections.close_all()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite locks the whole database, not rows")
def test_a_create_while_its_account_is_being_deleted_waits_and_answers_401(api):
    deleted, release = threading.Event(), threading.Event()

    def hold_until_released():
        deleted.set()
        release.wait(TIMEOUT)

    with ThreadPoolExecutor(max_workers=2) as pool:
        deleter = pool.submit(delete_account, api.owner, before_commit=hold_until_released)
        assert deleted.wait(TIMEOUT)
        creator = pool.submit(api.request, "POST", "/api/sessions", json={"id": "late"})
        waited_for_a_lock = wait_for_a_blocked_query()
        release.set()
        deleter.result(TIMEOUT)
        response = creator.result(TIMEOUT)
    assert (waited_for_a_lock, response.status_code) == (True, 401), response.text
    assert not Session.objects.exists()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite locks the whole database, not rows")
def test_an_account_deleted_while_its_first_session_is_created_takes_that_session_too():
    owner = UserFactory()
    created, release = threading.Event(), threading.Event()

    def create_and_hold():
        try:
            with transaction.atomic():
                services.session_create(owner=owner, key="early")
                created.set()
                release.wait(TIMEOUT)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=2) as pool:
        creator = pool.submit(create_and_hold)
        assert created.wait(TIMEOUT)
        deleter = pool.submit(delete_account, owner)
        waited_for_a_lock = wait_for_a_blocked_query()
        release.set()
        creator.result(TIMEOUT)
        deleter.result(TIMEOUT)  # without the account's lock: IntegrityError at commit
    assert waited_for_a_lock
    assert (Session.objects.count(), get_user_model().objects.filter(pk=owner.pk).exists()) == (0, False)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite locks the whole database, not rows")
def test_a_token_refresh_while_its_account_is_being_deleted_does_not_wait_for_the_deletion(live_server):
    owner = UserFactory()
    refresh = str(RefreshToken.for_user(owner))
    locked, release = threading.Event(), threading.Event()

    def hold_until_released():
        locked.set()
        release.wait(TIMEOUT)

    def delete_account_holding_its_lock():
        try:
            with transaction.atomic():
                services.sessions_of_deleted_users_delete(users=[owner])
                hold_until_released()
                # Deletes the tokens' links to the account, the refreshed one's among them.
                get_user_model().objects.filter(pk=owner.pk).delete()
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=2) as pool:
        deleter = pool.submit(delete_account_holding_its_lock)
        assert locked.wait(TIMEOUT)
        refresher = pool.submit(
            requests.post, live_server.url + "/api/auth/token/refresh", json={"refresh": refresh}, timeout=TIMEOUT
        )
        try:
            # Before the deletion goes on: had the refresh's foreign-key check waited for the
            # account's lock, the two would deadlock once the deletion reached the tokens.
            status = refresher.result(timeout=5).status_code
        finally:
            release.set()
        deleter.result(TIMEOUT)
    assert status == 200
    assert not get_user_model().objects.filter(pk=owner.pk).exists()


def in_a_transaction_until_released(action, holding: threading.Event, release: threading.Event):
    """Runs `action` in a transaction of this thread's connection, sets `holding`, and commits
    (keeping whatever locks `action` took until then) once `release` is set."""
    try:
        with transaction.atomic():
            result = action()
            holding.set()
            release.wait(TIMEOUT)
            return result
    finally:
        connections.close_all()


def wait_for_a_blocked_query() -> bool:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")
            if cursor.fetchone()[0]:
                return True
        time.sleep(0.01)
    return False


@pytest.fixture
def confirming_admin():
    admin_user = get_user_model().objects.create_superuser("root", "root@example.com", "pw-root-123")
    client = Client()
    client.force_login(admin_user)
    return client


def confirm_while_another_delete_holds_the_rows(post, first_delete) -> int:
    """Posts a delete confirmation while another transaction runs `first_delete` on the same
    rows, and commits once the confirmation waits; returns the confirmation's status."""
    holding, release = threading.Event(), threading.Event()

    def the_second_confirmation():
        try:
            return post().status_code
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=2) as pool:
        first = pool.submit(in_a_transaction_until_released, first_delete, holding, release)
        assert holding.wait(TIMEOUT)
        second = pool.submit(the_second_confirmation)
        waited = wait_for_a_blocked_query()
        release.set()
        first.result(TIMEOUT)
        status = second.result(TIMEOUT)
    assert waited, "the second confirmation should wait for the first"
    return status


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite locks the whole database, not rows")
def test_a_delete_waits_for_an_append_in_flight_and_takes_its_message_too():
    session = session_with_messages(owner=UserFactory(), key="busy", count=3)
    holding, release = threading.Event(), threading.Event()

    def delete():
        try:
            return services.session_delete(session=session, via="api")
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=2) as pool:
        appender = pool.submit(
            in_a_transaction_until_released,
            lambda: services.message_create(session=session, role="user", content="late"),
            holding,
            release,
        )
        assert holding.wait(TIMEOUT)
        deleter = pool.submit(delete)
        waited = wait_for_a_blocked_query()
        release.set()
        appender.result(TIMEOUT)
        deleted = deleter.result(TIMEOUT)  # without the session's row lock: IntegrityError at commit
    assert (waited, deleted.messages, Message.objects.count(), Session.objects.count()) == (True, 4, 0, 0)


# What a delete page deletes: how to make one, its admin's path, how another request deletes it.
DELETE_PAGES = {
    "session": (
        lambda: services.session_create(owner=UserFactory()),
        "sessions_app/session",
        lambda session: services.session_delete(session=session, via="admin"),
    ),
    "user": (UserFactory, "auth/user", lambda user: user.delete()),
    # Every model on the admin site, not only the sessions app's.
    "group": (lambda: Group.objects.create(name="support"), "auth/group", lambda group: group.delete()),
}


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite locks the whole database, not rows")
@pytest.mark.parametrize("kind", DELETE_PAGES)
def test_a_delete_page_confirmed_twice_at_once_is_logged_once(confirming_admin, kind):
    make, admin_path, delete = DELETE_PAGES[kind]
    doomed = make()
    url = f"/admin/{admin_path}/{doomed.pk}/delete/"
    status = confirm_while_another_delete_holds_the_rows(
        lambda: confirming_admin.post(url, {"post": "yes"}), lambda: delete(doomed)
    )
    assert (status, LogEntry.objects.count()) == (302, 0)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite locks the whole database, not rows")
def test_a_bulk_delete_confirmed_twice_at_once_is_logged_once(confirming_admin):
    owner = UserFactory()
    doomed = [services.session_create(owner=owner).pk for _ in range(3)]
    form = {"action": "delete_selected", "post": "yes", "_selected_action": [str(pk) for pk in doomed]}
    status = confirm_while_another_delete_holds_the_rows(
        lambda: confirming_admin.post("/admin/sessions_app/session/", form),
        lambda: services.sessions_delete(sessions=Session.objects.filter(pk__in=doomed), via="admin"),
    )
    assert (status, LogEntry.objects.count()) == (302, 0)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite locks the whole database, not rows")
def test_a_bulk_delete_confirmation_and_a_service_delete_of_the_same_sessions_do_not_deadlock(confirming_admin):
    owner = UserFactory()
    first, second = services.session_create(owner=owner), services.session_create(owner=owner)
    # Rewrites the first's row behind the second's, so a scan meets the second first.
    services.message_create(session=first, role="user", content="hello")
    both = [first.pk, second.pk]
    holding_the_first, go_on = threading.Event(), threading.Event()

    def service_delete_holding_the_first():
        try:
            with transaction.atomic():
                Session.objects.select_for_update().get(pk=first.pk)
                holding_the_first.set()
                go_on.wait(TIMEOUT)
                services.sessions_delete(sessions=Session.objects.filter(pk__in=both), via="retention")
        finally:
            connections.close_all()

    def confirmation():
        form = {"action": "delete_selected", "post": "yes", "_selected_action": [str(pk) for pk in both]}
        try:
            return confirming_admin.post("/admin/sessions_app/session/", form).status_code
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=2) as pool:
        service = pool.submit(service_delete_holding_the_first)
        assert holding_the_first.wait(TIMEOUT)
        admin = pool.submit(confirmation)
        assert wait_for_a_blocked_query()
        go_on.set()
        service.result(TIMEOUT)  # raises if PostgreSQL chose it as a deadlock's victim
        status = admin.result(TIMEOUT)
    assert (status, Session.objects.count()) == (302, 0)

"""python manage.py delete_session: confirm, dry run, all or nothing."""
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from io import BytesIO, StringIO, TextIOWrapper
from unittest import mock

import pytest
from django.core.management import CommandError, call_command
from django.db import OperationalError, connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from sessions_app import services, storage
from sessions_app.management.commands.delete_session import LISTED_SESSIONS_LIMIT, Command
from sessions_app.models import Message, Session

from .factories import SessionFactory, session_with_messages
from .test_production import PROJECT, manage, migrated_database

pytestmark = pytest.mark.django_db


def run(*args, answer=None):
    stdout = StringIO()
    with mock.patch("builtins.input", return_value=answer) as prompt:
        call_command("delete_session", *args, stdout=stdout)
    return stdout.getvalue(), prompt


def listed_ids(output: str) -> list[str]:
    """The session ids of a run's listing, in the order listed."""
    return [line.split(" id=")[1].split()[0] for line in output.splitlines() if " id=" in line]


def test_noinput_deletes_the_session_and_its_messages(user):
    session_with_messages(owner=user, key="s1", count=4)
    run("s1", "--noinput")
    assert (Session.objects.count(), Message.objects.count()) == (0, 0)


def test_reports_how_many_sessions_and_messages_were_deleted(user):
    session_with_messages(owner=user, key="s1", count=4)
    session_with_messages(owner=user, key="s2", count=1)
    output, _ = run("s1", "s2", "--noinput")
    assert "Deleted 2 session(s) and 5 message(s)." in output


def test_reports_every_message_of_a_delete_that_takes_several_statements(monkeypatch, user):
    monkeypatch.setattr(services, "IDS_PER_STATEMENT", 2)
    for key in ["s1", "s2", "s3"]:
        session_with_messages(owner=user, key=key, count=2)
    output, _ = run("s1", "s2", "s3", "--noinput")
    assert "Deleted 3 session(s) and 6 message(s)." in output


def test_lists_owner_id_message_count_and_last_activity_before_deleting(user):
    session = session_with_messages(owner=user, key="telegram:9", count=2)
    Session.objects.filter(pk=session.pk).update(updated_at=datetime(2026, 3, 4, 5, 6, 7, tzinfo=dt_timezone.utc))
    output, _ = run("telegram:9", answer="no")
    assert "owner=alice id=telegram:9 messages=2 last_activity=2026-03-04T05:06:07Z" in output


def test_the_listing_never_shows_a_title(user):
    SessionFactory(owner=user, key="s1", title="My diagnosis")
    output, _ = run("s1", "--noinput")
    assert "My diagnosis" not in output


def test_a_quiet_interactive_run_still_lists_what_it_asks_about(user):
    SessionFactory(owner=user, key="s1")
    output, _ = run("s1", "--verbosity", "0", answer="no")
    assert "owner=alice id=s1 " in output


def test_asks_for_confirmation_with_djangos_prompt(user):
    SessionFactory(owner=user, key="s1")
    _, prompt = run("s1", answer="yes")
    prompt.assert_called_once_with("Type 'yes' to continue, or 'no' to cancel: ")


def test_yes_deletes(user):
    SessionFactory(owner=user, key="s1")
    run("s1", answer="yes")
    assert not Session.objects.exists()


@pytest.mark.parametrize("answer", ["no", "", "y", "YES", "yes please"])
def test_anything_but_yes_deletes_nothing(user, answer):
    SessionFactory(owner=user, key="s1")
    output, _ = run("s1", answer=answer)
    assert "Deletion cancelled." in output
    assert Session.objects.exists()


def test_closed_stdin_is_an_error_and_deletes_nothing(user):
    SessionFactory(owner=user, key="s1")
    with mock.patch("builtins.input", side_effect=EOFError):
        with pytest.raises(CommandError, match="--noinput"):
            call_command("delete_session", "s1", stdout=StringIO())
    assert Session.objects.exists()


def test_noinput_does_not_prompt(user):
    SessionFactory(owner=user, key="s1")
    _, prompt = run("s1", "--noinput")
    prompt.assert_not_called()


def test_dry_run_lists_and_deletes_nothing(user):
    session_with_messages(owner=user, key="s1", count=3)
    output, prompt = run("s1", "--dry-run")
    assert "owner=alice id=s1" in output
    assert "nothing was deleted" in output
    prompt.assert_not_called()
    assert (Session.objects.count(), Message.objects.count()) == (1, 3)


def test_a_missing_id_is_named_and_nothing_is_deleted(user):
    SessionFactory(owner=user, key="here")
    with pytest.raises(CommandError, match="ghost") as error:
        run("here", "ghost", "--noinput")
    assert "here" not in str(error.value).split(":", 1)[1]
    assert Session.objects.filter(key="here").exists()


def test_missing_id_exits_non_zero_with_the_message_on_stderr(user, capsys):
    with pytest.raises(SystemExit) as exit_info:
        from django.core.management import execute_from_command_line

        execute_from_command_line(["manage.py", "delete_session", "ghost", "--noinput"])
    assert exit_info.value.code != 0
    assert "ghost" in capsys.readouterr().err


def test_an_id_shared_by_two_owners_needs_user(user, other_user):
    SessionFactory(owner=user, key="telegram:1")
    SessionFactory(owner=other_user, key="telegram:1")
    with pytest.raises(CommandError, match="alice, bob"):
        run("telegram:1", "--noinput")
    assert Session.objects.count() == 2


def test_user_picks_one_owners_session(user, other_user):
    SessionFactory(owner=user, key="telegram:1")
    SessionFactory(owner=other_user, key="telegram:1")
    run("telegram:1", "--user", "bob", "--noinput")
    assert list(Session.objects.values_list("owner__username", flat=True)) == ["alice"]


def test_user_that_does_not_exist_is_an_error(user):
    SessionFactory(owner=user, key="s1")
    with pytest.raises(CommandError, match="No user named 'carol'"):
        run("s1", "--user", "carol", "--noinput")
    assert Session.objects.exists()


def test_an_id_not_owned_by_user_counts_as_missing(user, other_user):
    SessionFactory(owner=other_user, key="s1")
    with pytest.raises(CommandError, match="s1"):
        run("s1", "--user", "alice", "--noinput")
    assert Session.objects.exists()


def test_a_session_given_the_same_id_while_the_prompt_waits_is_not_deleted(user, other_user):
    SessionFactory(owner=user, key="s1")

    def another_user_creates_s1_then_answer_yes(prompt):
        SessionFactory(owner=other_user, key="s1")
        return "yes"

    with mock.patch("builtins.input", side_effect=another_user_creates_s1_then_answer_yes):
        call_command("delete_session", "s1", stdout=StringIO())
    assert list(Session.objects.values_list("owner__username", "key")) == [("bob", "s1")]


def test_a_listed_session_deleted_while_the_prompt_waits_is_reported(user):
    SessionFactory(owner=user, key="s1")
    SessionFactory(owner=user, key="s2")

    def s1_is_deleted_then_answer_yes(prompt):
        Session.objects.filter(key="s1").delete()
        return "yes"

    stdout = StringIO()
    with mock.patch("builtins.input", side_effect=s1_is_deleted_then_answer_yes):
        call_command("delete_session", "s1", "s2", stdout=stdout)
    assert "Deleted 1 session(s)" in stdout.getvalue()
    assert "1 of the 2 session(s) selected no longer matched" in stdout.getvalue()


def test_named_sessions_are_listed_in_order_of_their_ids(user):
    for key in ["s2", "s3", "s1"]:
        SessionFactory(owner=user, key=key)
    output, _ = run("s3", "s1", "s2", "--dry-run")
    assert listed_ids(output) == ["s1", "s2", "s3"]


def test_a_delete_that_finds_every_listed_session_reports_none_left_alone(user):
    session_with_messages(owner=user, key="s1", count=1)
    output, _ = run("s1", "--noinput")
    assert "no longer matched" not in output


def test_repeated_ids_are_deleted_once(user):
    SessionFactory(owner=user, key="s1")
    output, _ = run("s1", "s1", "--noinput")
    assert "Deleted 1 session(s)" in output


# --- retention: --older-than / --retention ----------------------------------------------


def idle_session(owner, key, days):
    return session_with_messages(
        owner=owner, key=key, count=2, updated_at=timezone.now() - timedelta(days=days)
    )


def test_older_than_deletes_only_sessions_idle_for_longer(user):
    idle_session(user, "stale", days=40)
    idle_session(user, "fresh", days=5)
    output, _ = run("--older-than", "30", "--noinput")
    assert list(Session.objects.values_list("key", flat=True)) == ["fresh"]
    assert Message.objects.count() == 2
    assert "Deleted 1 session(s) and 2 message(s)." in output


def test_older_than_keeps_a_session_idle_for_just_under_the_days_given(user):
    SessionFactory(owner=user, key="almost", updated_at=timezone.now() - timedelta(days=30) + timedelta(hours=1))
    SessionFactory(owner=user, key="just over", updated_at=timezone.now() - timedelta(days=30, hours=1))
    run("--older-than", "30", "--noinput")
    assert list(Session.objects.values_list("key", flat=True)) == ["almost"]


def test_older_than_keeps_a_session_idle_for_exactly_the_days_given(user, monkeypatch):
    now = timezone.now()
    monkeypatch.setattr(timezone, "now", lambda: now)
    SessionFactory(owner=user, key="exactly", updated_at=now - timedelta(days=30))
    run("--older-than", "30", "--noinput")
    assert list(Session.objects.values_list("key", flat=True)) == ["exactly"]


def test_older_than_lists_the_longest_idle_session_first(user):
    idle_session(user, "b-middle", days=50)
    idle_session(user, "a-newest", days=40)
    idle_session(user, "c-oldest", days=60)
    output, _ = run("--older-than", "30", "--dry-run")
    assert listed_ids(output) == ["c-oldest", "b-middle", "a-newest"]


def test_older_than_with_user_deletes_only_that_users_sessions(user, other_user):
    idle_session(user, "mine", days=40)
    idle_session(other_user, "theirs", days=40)
    run("--older-than", "30", "--user", "bob", "--noinput")
    assert list(Session.objects.values_list("key", flat=True)) == ["mine"]


def test_older_than_dry_run_deletes_nothing(user):
    idle_session(user, "stale", days=40)
    output, _ = run("--older-than", "30", "--dry-run")
    assert "id=stale" in output
    assert Session.objects.exists()


def test_older_than_asks_for_confirmation(user):
    idle_session(user, "stale", days=40)
    run("--older-than", "30", answer="no")
    assert Session.objects.exists()


def test_older_than_with_nothing_to_delete_says_so(user):
    idle_session(user, "fresh", days=1)
    output, prompt = run("--older-than", "30")
    assert "nothing to do" in output
    prompt.assert_not_called()


def test_older_than_refuses_zero_days(user):
    idle_session(user, "stale", days=40)
    with pytest.raises(CommandError, match="1 or more"):
        run("--older-than", "0", "--noinput")
    assert Session.objects.exists()


def test_older_than_refuses_days_before_the_calendar_starts(user):
    idle_session(user, "stale", days=40)
    with pytest.raises(CommandError, match="before the calendar starts"):
        run("--older-than", "1000000", "--noinput")
    assert Session.objects.exists()


def test_older_than_refuses_named_ids_as_well(user):
    idle_session(user, "stale", days=40)
    with pytest.raises(CommandError, match="not both"):
        run("stale", "--older-than", "30", "--noinput")
    assert Session.objects.exists()


def test_retention_uses_the_setting(user, settings):
    settings.SESSION_RETENTION_DAYS = 30
    idle_session(user, "stale", days=40)
    idle_session(user, "fresh", days=5)
    run("--retention", "--noinput")
    assert list(Session.objects.values_list("key", flat=True)) == ["fresh"]


def test_retention_without_the_setting_keeps_everything(user, settings):
    settings.SESSION_RETENTION_DAYS = None
    idle_session(user, "ancient", days=4000)
    with pytest.raises(CommandError, match="SESSION_RETENTION_DAYS is not set"):
        run("--retention", "--noinput")
    assert Session.objects.exists()


def test_retention_names_the_setting_when_it_is_below_one_day(user, settings):
    settings.SESSION_RETENTION_DAYS = -5
    idle_session(user, "stale", days=40)
    with pytest.raises(CommandError, match="SESSION_RETENTION_DAYS takes a whole number of days"):
        run("--retention", "--noinput")
    assert Session.objects.exists()


@pytest.mark.parametrize("args", [["\udcff", "--noinput"], ["s1", "--user", "\udcff", "--noinput"]], ids=["id", "user"])
def test_an_argument_that_is_not_utf8_is_refused_with_a_message(user, args):
    # How Python hands over the bytes b"\xff" from the command line.
    SessionFactory(owner=user, key="s1")
    with pytest.raises(CommandError, match="not valid UTF-8"):
        run(*args)
    assert Session.objects.exists()


def test_an_empty_id_is_refused_with_a_message_and_nothing_is_deleted(user):
    SessionFactory(owner=user, key="s1")
    with pytest.raises(CommandError, match="a session id cannot be empty"):
        run("s1", "", "--noinput")
    assert Session.objects.exists()


def test_no_ids_and_no_age_is_an_error():
    with pytest.raises(CommandError, match="SESSION_ID"):
        run("--noinput")


def test_a_selection_by_age_is_counted_by_the_database_and_read_only_as_far_as_listed(user):
    # A retention run may select millions of sessions: none may be read all at once.
    for i in range(LISTED_SESSIONS_LIMIT + 5):
        idle_session(user, f"s{i}", days=40)
    with CaptureQueriesContext(connection) as queries:
        output, _ = run("--older-than", "30", "--dry-run")
    assert f"Would delete {LISTED_SESSIONS_LIMIT + 5} session(s) holding {2 * (LISTED_SESSIONS_LIMIT + 5)} message(s)" in output
    rows_read = [q["sql"] for q in queries if '"sessions_app_session"' in q["sql"] and "COUNT(" not in q["sql"]]
    assert rows_read and all("LIMIT" in sql for sql in rows_read)


def test_a_long_selection_is_listed_with_a_cap(user):
    for i in range(105):
        idle_session(user, f"s{i}", days=40)
    output, _ = run("--older-than", "30", "--dry-run")
    assert "... and 5 more." in output


def test_a_selection_of_exactly_the_listed_cap_has_no_more_line(user, monkeypatch):
    monkeypatch.setattr("sessions_app.management.commands.delete_session.LISTED_SESSIONS_LIMIT", 3)
    for i in range(3):
        idle_session(user, f"s{i}", days=40)
    output, _ = run("--older-than", "30", "--dry-run")
    assert "more." not in output


def test_a_database_failure_midway_deletes_nothing_and_says_so(user):
    session_with_messages(owner=user, key="s1", count=3)
    # After the DELETEs, inside their transaction.
    failure = OperationalError("database is locked")
    with mock.patch.object(services, "session_totals_adjust", side_effect=failure):
        with pytest.raises(CommandError, match=r"failed during the delete \(database is locked\).*nothing was deleted"):
            run("s1", "--noinput")
    assert (Session.objects.count(), Message.objects.count()) == (1, 3)


@pytest.mark.django_db(transaction=True)
def test_a_purge_failing_after_the_commit_still_reports_the_delete(user, purge_fails):
    session_with_messages(owner=user, key="s1", count=3)
    output, _ = run("s1", "--noinput")
    assert "Deleted 1 session(s) and 3 message(s)." in output
    assert not Session.objects.exists()


def test_ids_from_a_file_are_deleted_with_those_on_the_command_line(user, tmp_path):
    for key in ["s1", "s2", "s3", "kept"]:
        SessionFactory(owner=user, key=key)
    ids = tmp_path / "ids.txt"
    ids.write_text("s2\r\n\ns3\n")
    run("s1", "--ids-from", str(ids), "--noinput")
    assert list(Session.objects.values_list("key", flat=True)) == ["kept"]


def standard_input(monkeypatch, data: bytes) -> None:
    # As Python opens it under the C locale: bytes that are not UTF-8 become lone surrogates.
    monkeypatch.setattr("sys.stdin", TextIOWrapper(BytesIO(data), encoding="utf-8", errors="surrogateescape"))


def test_ids_from_standard_input(user, monkeypatch):
    SessionFactory(owner=user, key="s1")
    standard_input(monkeypatch, b"s1\n")
    run("--ids-from", "-", "--noinput")
    assert not Session.objects.exists()


def test_ids_from_standard_input_need_noinput_since_it_cannot_also_answer_the_question(user, monkeypatch):
    SessionFactory(owner=user, key="s1")
    standard_input(monkeypatch, b"s1\n")
    with pytest.raises(CommandError, match="add --noinput"):
        run("--ids-from", "-")
    assert Session.objects.exists()


def test_ids_from_standard_input_that_are_not_utf8_are_refused_with_a_message(user, monkeypatch):
    SessionFactory(owner=user, key="s1")
    standard_input(monkeypatch, b"s1\xff\n")
    with pytest.raises(CommandError, match="Cannot read ids from '-'.*Nothing was deleted"):
        run("--ids-from", "-", "--noinput")
    assert Session.objects.exists()


def test_an_id_with_nul_in_a_file_is_refused_with_a_message(user, tmp_path):
    SessionFactory(owner=user, key="s1")
    ids = tmp_path / "ids.txt"
    ids.write_bytes(b"s1\ns\x002\n")
    with pytest.raises(CommandError, match="cannot contain NUL. Nothing was deleted"):
        run("--ids-from", str(ids), "--noinput")
    assert Session.objects.exists()


def test_a_byte_order_mark_is_not_part_of_the_first_id(user, tmp_path):
    SessionFactory(owner=user, key="s1")
    ids = tmp_path / "ids.txt"
    ids.write_bytes(b"\xef\xbb\xbfs1\n")
    run("--ids-from", str(ids), "--noinput")
    assert not Session.objects.exists()


def test_an_empty_ids_file_has_nothing_to_do(user, tmp_path):
    SessionFactory(owner=user, key="s1")
    ids = tmp_path / "ids.txt"
    ids.write_text("\n")
    output, _ = run("--ids-from", str(ids), "--noinput")
    assert "nothing to do" in output
    assert Session.objects.exists()


def test_an_ids_file_with_an_age_is_refused_even_when_empty(user, tmp_path):
    idle_session(user, "s1", days=40)
    ids = tmp_path / "ids.txt"
    ids.write_text("")
    with pytest.raises(CommandError, match="not both"):
        run("--ids-from", str(ids), "--older-than", "30", "--noinput")
    assert Session.objects.exists()


def test_more_ids_than_one_run_takes_are_refused_before_any_query(user, monkeypatch):
    monkeypatch.setattr("sessions_app.management.commands.delete_session.IDS_PER_RUN_LIMIT", 2)
    for key in ["s1", "s2", "s3"]:
        SessionFactory(owner=user, key=key)
    with pytest.raises(CommandError, match=r"At most 2 ids in one run \(got 3\)"):
        run("s1", "s2", "s3", "--noinput")
    assert Session.objects.count() == 3


def test_exactly_as_many_ids_as_one_run_takes_are_deleted(user, monkeypatch):
    monkeypatch.setattr("sessions_app.management.commands.delete_session.IDS_PER_RUN_LIMIT", 2)
    for key in ["s1", "s2"]:
        SessionFactory(owner=user, key=key)
    run("s1", "s2", "--noinput")
    assert not Session.objects.exists()


def test_ids_from_standard_input_with_dry_run_list_without_noinput(user, monkeypatch):
    SessionFactory(owner=user, key="s1")
    standard_input(monkeypatch, b"s1\n")
    output, _ = run("--ids-from", "-", "--dry-run")
    assert "id=s1" in output
    assert Session.objects.exists()


def test_a_blank_line_of_spaces_in_an_ids_file_is_skipped(user, tmp_path):
    SessionFactory(owner=user, key="s1")
    ids = tmp_path / "ids.txt"
    ids.write_text("s1\n \t\n")
    run("--ids-from", str(ids), "--noinput")
    assert not Session.objects.exists()


def test_a_missing_id_in_a_file_deletes_none_of_them(user, tmp_path):
    SessionFactory(owner=user, key="s1")
    ids = tmp_path / "ids.txt"
    ids.write_text("s1\nghost\n")
    with pytest.raises(CommandError, match="'ghost'"):
        run("--ids-from", str(ids), "--noinput")
    assert Session.objects.filter(key="s1").exists()


def test_an_ids_file_that_cannot_be_read_is_an_error(user, tmp_path):
    with pytest.raises(CommandError, match="Cannot read ids from .*Nothing was deleted"):
        run("--ids-from", str(tmp_path / "absent.txt"), "--noinput")


def test_a_missing_id_is_quoted_so_a_newline_in_it_cannot_forge_a_line(user):
    with pytest.raises(CommandError) as error:
        run("x\nDeleted 99 session(s) and 0 message(s).", "--noinput")
    assert "\n" not in str(error.value)
    assert "'x\\nDeleted 99" in str(error.value)


def test_many_missing_ids_are_named_up_to_a_limit(user):
    with pytest.raises(CommandError, match=r"'ghost19' and 5 more\. Nothing was deleted"):
        run(*[f"ghost{i}" for i in range(25)], "--noinput")


def test_exactly_as_many_missing_ids_as_are_named_has_no_more(user, monkeypatch):
    monkeypatch.setattr("sessions_app.management.commands.delete_session.NAMED_IDS_LIMIT", 2)
    with pytest.raises(CommandError) as error:
        run("ghost0", "ghost1", "--noinput")
    assert "more" not in str(error.value)


def test_a_dry_run_lists_even_when_quiet(user):
    session_with_messages(owner=user, key="s1", count=1)
    stdout = StringIO()
    call_command("delete_session", "s1", "--dry-run", "--noinput", verbosity=0, stdout=stdout)
    assert "owner=alice id=s1" in stdout.getvalue()


def test_a_username_the_output_cannot_encode_is_escaped_and_the_delete_goes_on(db):
    owner = SessionFactory(key="s1", owner__username="łukasz").owner
    idle_session(owner, "s2", days=40)
    stdout = TextIOWrapper(BytesIO(), encoding="latin-1")
    call_command("delete_session", "--older-than", "30", "--noinput", stdout=stdout)
    stdout.seek(0)
    assert "owner=\\u0142ukasz id=s2" in stdout.read()
    assert list(Session.objects.values_list("key", flat=True)) == ["s1"]


def test_a_database_failure_before_the_delete_is_a_message_not_a_traceback(user):
    SessionFactory(owner=user, key="s1")
    with mock.patch("sessions_app.selectors.sessions_with_keys", side_effect=OperationalError("no such table")):
        with pytest.raises(CommandError, match=r"The database failed \(no such table\); nothing was deleted"):
            run("s1", "--noinput")


def test_a_database_error_of_several_lines_is_one_line(user):
    SessionFactory(owner=user, key="s1")
    refused = OperationalError("connection refused\n\tIs the server running on that host?")
    with mock.patch("sessions_app.selectors.sessions_with_keys", side_effect=refused):
        with pytest.raises(CommandError) as raised:
            run("s1", "--noinput")
    assert "refused Is the server running" in str(raised.value)
    assert "\n" not in str(raised.value)


def test_ctrl_c_during_the_delete_rolls_it_back_and_says_so(user, monkeypatch):
    # Waiting for a lock, say: a silent wait an operator interrupts.
    session_with_messages(owner=user, key="s1", count=3)
    monkeypatch.setattr(services, "session_totals_adjust", mock.Mock(side_effect=KeyboardInterrupt))
    with pytest.raises(CommandError, match=r"^Interrupted; nothing was deleted\.$") as raised:
        run("s1", "--noinput")
    assert raised.value.returncode == 130
    assert (Session.objects.count(), Message.objects.count()) == (1, 3)


@pytest.mark.skipif(connection.vendor != "sqlite", reason="only SQLite's log is purged after a delete")
@pytest.mark.django_db(transaction=True)
def test_ctrl_c_during_the_purge_says_the_delete_went_through(user, monkeypatch):
    session_with_messages(owner=user, key="s1", count=3)
    monkeypatch.setattr(storage, "_checkpoint_until_done_or_timeout", mock.Mock(side_effect=KeyboardInterrupt))
    with pytest.raises(CommandError, match=r"^Interrupted after the delete, which went through, while") as raised:
        run("s1", "--noinput")
    assert raised.value.returncode == 130
    assert (Session.objects.count(), Message.objects.count()) == (0, 0)


def test_ctrl_c_after_the_delete_says_what_it_deleted(user):
    session_with_messages(owner=user, key="s1", count=3)
    with pytest.raises(CommandError, match=r"which went through: 1 session\(s\) and 3 message\(s\)"):
        call_command("delete_session", "s1", "--noinput", stdout=OutputFailsAt("Deleted", KeyboardInterrupt()))
    assert not Session.objects.exists()


def test_a_closed_standard_input_is_refused_with_a_message_and_nothing_is_deleted(user, monkeypatch):
    # `delete_session s1 <&-`: Python starts without sys.stdin.
    SessionFactory(owner=user, key="s1")
    monkeypatch.setattr(sys, "stdin", None)
    with pytest.raises(CommandError, match="No answer to the confirmation prompt"):
        run("s1")
    assert Session.objects.filter(key="s1").exists()


def test_ids_shared_by_owners_are_named_up_to_a_limit(user, other_user):
    for i in range(22):
        SessionFactory(owner=user, key=f"shared{i}")
        SessionFactory(owner=other_user, key=f"shared{i}")
    with pytest.raises(CommandError, match=r"and 2 more\. Pass --user"):
        run(*[f"shared{i}" for i in range(22)], "--noinput")


def test_the_output_streams_are_left_as_they_were_found(user):
    SessionFactory(owner=user, key="s1")
    stdout = TextIOWrapper(BytesIO(), encoding="latin-1", errors="strict")
    call_command("delete_session", "s1", "--noinput", stdout=stdout)
    assert stdout.errors == "strict"


class ReaderGoneAt(StringIO):
    """An output whose reader goes away (a closed pipe) when a line holding `text` is written."""

    def __init__(self, text: str):
        super().__init__()
        self.text, self.gone = text, False

    def write(self, line):
        self.gone = self.gone or self.text in line
        if self.gone:
            raise BrokenPipeError(32, "Broken pipe")
        return super().write(line)


class OutputFailsAt(StringIO):
    """An output that raises `error` when a line holding `text` is written (a full disk: OSError 28)."""

    def __init__(self, text: str, error: BaseException):
        super().__init__()
        self.text, self.error = text, error

    def write(self, line):
        if self.text in line:
            raise self.error
        return super().write(line)


DISK_FULL = OSError(28, "No space left on device")


def test_output_failing_during_the_listing_deletes_nothing_and_says_so(user):
    SessionFactory(owner=user, key="s1")
    with pytest.raises(CommandError, match=r"failed \(No space left on device\); nothing was deleted"):
        call_command("delete_session", "s1", "--noinput", stdout=OutputFailsAt("About to delete", DISK_FULL))
    assert Session.objects.filter(key="s1").exists()


def test_output_failing_after_the_delete_reports_it_on_stderr_and_succeeds(user):
    SessionFactory(owner=user, key="s1")
    stderr = StringIO()
    call_command("delete_session", "s1", "--noinput", stdout=OutputFailsAt("Deleted", DISK_FULL), stderr=stderr)
    assert not Session.objects.filter(key="s1").exists()
    assert "failed (No space left on device) after the delete, which went through: 1 session(s)" in stderr.getvalue()


def test_output_closed_during_the_listing_deletes_nothing_and_says_so(user):
    SessionFactory(owner=user, key="s1")
    with pytest.raises(CommandError, match="broken pipe.*nothing was deleted"):
        call_command("delete_session", "s1", "--noinput", stdout=ReaderGoneAt("About to delete"))
    assert Session.objects.filter(key="s1").exists()


def test_output_closed_after_the_delete_reports_it_on_stderr_and_succeeds(user):
    SessionFactory(owner=user, key="s1")
    stderr = StringIO()
    call_command("delete_session", "s1", "--noinput", stdout=ReaderGoneAt("Deleted"), stderr=stderr)
    assert not Session.objects.filter(key="s1").exists()
    assert "after the delete, which went through: 1 session(s)" in stderr.getvalue()


@pytest.fixture
def database_with_a_session(tmp_path) -> dict:
    """The environment of a migrated SQLite database in tmp_path holding session s1, for real processes."""
    env = migrated_database(tmp_path)
    make_session = (
        "from django.contrib.auth.models import User; from sessions_app import services; "
        "services.session_create(owner=User.objects.create(username='ann'), key='s1')"
    )
    assert manage("shell", "-c", make_session, env_overrides=env).returncode == 0
    return env


def sessions_left(env: dict) -> int:
    result = manage("shell", "-c", "from sessions_app.models import Session; print(Session.objects.count())", env_overrides=env)
    return int(result.stdout.strip().splitlines()[-1])


def delete_session_into_a_pipe(env: dict, *args: str, stderr_too: bool = False):
    """`manage.py delete_session ARGS | reader` (with `2>&1` if stderr_too): the process and the reader's end."""
    read_end, write_end = os.pipe()
    process = subprocess.Popen(
        [sys.executable, "manage.py", "delete_session", *args],
        cwd=PROJECT,
        # Buffered, as a shell or cron runs Python: output waits in the buffer.
        env={
            **{k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"},
            **env,
            "DJANGO_SETTINGS_MODULE": "pocketpaw.settings",
        },
        stdin=subprocess.PIPE,
        stdout=write_end,
        stderr=write_end if stderr_too else subprocess.PIPE,
        text=True,
        # Ctrl-C as a terminal delivers it, even when the suite itself runs as a background
        # job (which ignores SIGINT, and a child would inherit that).
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    os.close(write_end)
    return process, read_end


def read_until(read_end: int, text: bytes) -> None:
    received = b""
    while text not in received:
        chunk = os.read(read_end, 4096)
        assert chunk, f"the output ended before {text!r}: {received!r}"
        received += chunk


def wait_until_asleep(process: subprocess.Popen) -> None:
    """Until the process waits in the kernel: a signal sent earlier, between input()'s prompt
    and its read, is only looked at once the read returns, as a person's Ctrl-C never is."""
    deadline = time.monotonic() + 30
    while open(f"/proc/{process.pid}/stat").read().rsplit(")", 1)[1].split()[0] != "S":
        assert time.monotonic() < deadline, "the command never waited for its answer"
        time.sleep(0.01)


def test_a_reader_gone_before_the_delete_stops_it_with_one_line(database_with_a_session):
    # `delete_session ... | head` where head has already quit.
    process, read_end = delete_session_into_a_pipe(database_with_a_session, "s1", "--noinput")
    os.close(read_end)
    _, stderr = process.communicate(timeout=60)
    assert (process.returncode, stderr.strip()) == (
        1,
        "CommandError: Standard output was closed (broken pipe); nothing was deleted.",
    )
    assert sessions_left(database_with_a_session) == 1


@pytest.mark.parametrize("stderr_too", [False, True], ids=["stdout piped", "stdout and stderr piped"])
def test_a_reader_gone_after_the_question_leaves_a_confirmed_delete_done_and_exits_0(database_with_a_session, stderr_too):
    process, read_end = delete_session_into_a_pipe(database_with_a_session, "s1", stderr_too=stderr_too)
    read_until(read_end, b"Type 'yes'")
    os.close(read_end)
    _, stderr = process.communicate("yes\n", timeout=60)
    assert process.returncode == 0, stderr
    assert sessions_left(database_with_a_session) == 0
    if not stderr_too:
        assert "after the delete, which went through: 1 session(s)" in stderr


def test_a_reader_gone_after_the_question_answered_no_exits_1_and_deletes_nothing(database_with_a_session):
    process, read_end = delete_session_into_a_pipe(database_with_a_session, "s1")
    read_until(read_end, b"Type 'yes'")
    os.close(read_end)
    _, stderr = process.communicate("no\n", timeout=60)
    assert (process.returncode, stderr.strip().splitlines()[-1]) == (
        1,
        "CommandError: Standard output was closed (broken pipe); nothing was deleted.",
    )
    assert sessions_left(database_with_a_session) == 1


def read_to_the_end(read_end: int) -> bytes:
    received = b""
    while chunk := os.read(read_end, 4096):
        received += chunk
    os.close(read_end)
    return received


def test_ctrl_c_at_the_question_exits_130_with_one_line_and_deletes_nothing(database_with_a_session):
    process, read_end = delete_session_into_a_pipe(database_with_a_session, "s1")
    read_until(read_end, b"Type 'yes'")
    wait_until_asleep(process)
    process.send_signal(signal.SIGINT)
    # Not communicate(): it closes stdin, and the end of input would race the Ctrl-C.
    process.wait(timeout=60)
    stderr = process.stderr.read()
    process.stdin.close()
    read_to_the_end(read_end)
    assert (process.returncode, stderr.strip()) == (
        130,
        "CommandError: Interrupted at the confirmation prompt; nothing was deleted.",
    )
    assert sessions_left(database_with_a_session) == 1


def test_no_answer_to_the_question_is_reported_on_a_line_of_its_own_in_merged_output(database_with_a_session):
    # Cron with `2>&1` and no terminal: the error ran on from the question.
    process, read_end = delete_session_into_a_pipe(database_with_a_session, "s1", stderr_too=True)
    process.communicate("", timeout=60)
    last_line = read_to_the_end(read_end).decode().splitlines()[-1]
    assert last_line.startswith("CommandError: No answer to the confirmation prompt")


def test_help_says_what_each_exit_status_means():
    help_text = " ".join(Command().create_parser("manage.py", "delete_session").format_help().split())
    assert "Exit status: 0 when the run did what was asked" in help_text


@pytest.mark.parametrize(
    "args",
    [["s1", "--no-such-option"], ["--older-than", "ten"], ["s1", ""]],
    ids=["unknown option", "DAYS not a number", "empty id"],
)
def test_a_command_line_that_cannot_be_parsed_exits_2_and_deletes_nothing(database_with_a_session, args):
    result = manage("delete_session", *args, "--noinput", env_overrides=database_with_a_session)
    assert result.returncode == 2, result.stderr
    assert sessions_left(database_with_a_session) == 1

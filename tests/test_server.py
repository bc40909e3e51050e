"""The production server as `make serve` runs it (gunicorn with pocketpaw.gunicorn_conf), over real connections."""
import json
import os
import socket
import subprocess
import sys
import time
from http.client import HTTPConnection
from pathlib import Path
from urllib.parse import quote

import pytest
from gunicorn.http.parser import _DRAIN_MAX_BYTES

from pocketpaw.gunicorn_conf import UNREAD_BODY_DRAINED_BYTES

PROJECT = Path(__file__).resolve().parent.parent
def body_of(size: int) -> bytes:
    return b'{"role": "user", "content": "' + b"a" * (size - 31) + b'"}'


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """gunicorn on a SQLite database of its own, with its log in a file."""
    directory = tmp_path_factory.mktemp("server")
    port = free_port()
    env = {
        **{name: value for name, value in os.environ.items() if name != "XDG_RUNTIME_DIR"},
        "HOME": str(directory / "home"),
        "DATABASE_URL": f"sqlite:///{directory / 'db.sqlite3'}",
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": "a-test-key-" + "x" * 50,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_SECURE_SSL_REDIRECT": "0",
        "BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "1",
    }
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], cwd=PROJECT, env=env, check=True, capture_output=True)
    log = directory / "gunicorn.log"
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "python:pocketpaw.gunicorn_conf", "pocketpaw.wsgi"],
            cwd=PROJECT,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_for_health(port, process)
            yield port, log
        finally:
            process.terminate()
            process.wait(timeout=30)


def _wait_for_health(port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, "gunicorn exited"
        try:
            connection = HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/api/health")
            if connection.getresponse().status == 200:
                connection.close()
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("gunicorn did not answer /api/health within 60 s")


@pytest.fixture
def connection(server):
    port, _ = server
    connection = HTTPConnection("127.0.0.1", port, timeout=10)
    yield connection
    connection.close()


def exchange(connection: HTTPConnection, method: str, path: str, body: bytes | None = None):
    """One request on `connection`, and its whole answer read."""
    connection.request(method, path, body, {"Content-Type": "application/json"} if body else {})
    response = connection.getresponse()
    response.body = response.read()
    return response


def test_the_hook_closes_from_the_size_gunicorn_stops_reading_at():
    assert UNREAD_BODY_DRAINED_BYTES == _DRAIN_MAX_BYTES


@pytest.mark.parametrize("size", [UNREAD_BODY_DRAINED_BYTES, 300_000])
def test_an_answer_given_before_a_large_body_was_read_closes_the_connection(connection, size):
    response = exchange(connection, "POST", "/api/sessions/s1/messages", body_of(size))
    assert (response.status, response.getheader("Connection")) == (401, "close")


@pytest.mark.parametrize("size", [UNREAD_BODY_DRAINED_BYTES, 300_000])
def test_the_next_request_after_an_answer_to_an_unread_large_body_is_answered(connection, size):
    for _ in range(3):
        exchange(connection, "POST", "/api/sessions/s1/messages", body_of(size))
        assert exchange(connection, "GET", "/api/health").status == 200


def test_a_small_body_keeps_the_connection_open(connection):
    response = exchange(connection, "POST", "/api/sessions/s1/messages", b'{"role": "user", "content": "hi"}')
    assert (response.status, response.getheader("Connection")) == (401, "keep-alive")


def log_after(log: Path, connection: HTTPConnection, marker_path: str) -> str:
    """The server's log once the request for `marker_path`, sent after the ones under test, is in it."""
    exchange(connection, "GET", marker_path)
    deadline = time.monotonic() + 10
    while marker_path not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    text = log.read_text()
    assert marker_path in text
    return text


def test_a_head_request_is_answered_without_the_server_dropping_a_body(server, connection):
    _, log = server
    assert exchange(connection, "HEAD", "/api/health").status == 200
    # A warning about the HEAD would be written before the next request on its connection is read.
    assert "no-body response" not in log_after(log, connection, "/api/after-the-head")


def test_every_line_the_server_logs_is_one_json_object(server, connection):
    _, log = server
    # Django logs a disallowed Host with its traceback; gunicorn logs its start and its workers.
    connection.request("GET", "/api/sessions", headers={"Host": "evil.example"})
    assert connection.getresponse().read() == b'{"detail":"Bad request."}'
    lines = log_after(log, connection, "/api/after-the-bad-host").splitlines()
    assert [type(json.loads(line)) for line in lines] == [dict] * len(lines)


def test_a_searchs_words_stay_out_of_the_servers_log(server, connection):
    _, log = server
    exchange(connection, "GET", "/api/sessions/search?q=lighthouse")
    assert "lighthouse" not in log_after(log, connection, "/api/after-the-search")


def test_a_head_request_keeps_the_content_length_get_would_send(connection):
    body = exchange(connection, "GET", "/api/health").body
    assert exchange(connection, "HEAD", "/api/health").getheader("Content-Length") == str(len(body))


def test_the_longest_valid_search_reaches_the_service(connection):
    # 500 characters (the most q takes) of four UTF-8 bytes each, percent-encoded.
    query = quote("\U0001F600" * 500)
    response = exchange(connection, "GET", f"/api/v1/sessions/search?q={query}&limit=200")
    # Answered by the service (no token here), not refused by gunicorn for the line's length.
    assert (response.status, response.getheader("Content-Type")) == (401, "application/json")


def test_the_server_leaves_no_control_socket_in_its_accounts_home(server):
    _, log = server
    assert not (log.parent / "home" / ".gunicorn").exists()


def test_health_answers_a_probe_addressed_to_the_servers_own_address(connection):
    connection.request("GET", "/api/health", headers={"Host": "10.0.0.5:8000"})
    response = connection.getresponse()
    assert (response.status, response.read()) == (200, b'{"status":"ok","database":"ok"}')


@pytest.mark.parametrize(
    ("threads", "refusal"),
    [("four", "must be an integer, got 'four'."), ("0", "must be 1 or more, got '0'.")],
    ids=["not a number", "zero"],
)
def test_a_server_setting_it_cannot_use_stops_it_with_one_line(threads, refusal):
    result = subprocess.run(
        [sys.executable, "-m", "gunicorn", "-c", "python:pocketpaw.gunicorn_conf", "--check-config", "pocketpaw.wsgi"],
        cwd=PROJECT,
        env={**os.environ, "DJANGO_DEBUG": "1", "GUNICORN_THREADS": threads},
        capture_output=True,
        text=True,
    )
    assert (result.returncode, result.stderr.strip()) == (1, f"Error: GUNICORN_THREADS {refusal}")


def test_the_servers_log_level_takes_lower_case():
    program = (
        "import logging, logging.config; from pocketpaw import gunicorn_conf; "
        "logging.config.dictConfig({'version': 1, **gunicorn_conf.logconfig_dict}); "
        "print(logging.getLevelName(logging.getLogger('gunicorn.error').level))"
    )
    result = subprocess.run(
        [sys.executable, "-c", program],
        cwd=PROJECT,
        env={**os.environ, "GUNICORN_LOG_LEVEL": "warning"},
        capture_output=True,
        text=True,
    )
    assert result.stdout.strip() == "WARNING", result.stderr

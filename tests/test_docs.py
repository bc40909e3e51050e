"""The API pages in docs/api/ cannot drift from the code.

Every cURL and Python example is run as written against a live server (with a
real token in place of `<token>` and the example sessions in the database), and
its answer must have the status and the shape of the page's success example.
Every other status a page documents must be one the OpenAPI schema gives for
that route, and a documented 404 is produced for real.
"""
import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from rest_framework_simplejwt.tokens import RefreshToken

from sessions_app import services
from sessions_app.models import Session

DOCS = Path(__file__).resolve().parent.parent / "docs" / "api"
PAGES = sorted(DOCS.glob("*.mdx"))
PASSWORD = "docs-example-password"
LANGUAGES = {"curl": "bash", "python": "python"}


def front_matter(text: str) -> dict[str, str]:
    block = text.split("---", 2)[1]
    return dict(line.split(": ", 1) for line in block.strip().splitlines() if ": " in line)


def section(text: str, tag: str) -> str:
    match = re.search(rf"<{tag}>(.*?)</{tag}>", text, re.S)
    assert match, f"no <{tag}>"
    return match.group(1)


def code_blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, re.S)


def response_examples(text: str) -> dict[int, object]:
    tabs = re.findall(r'<Tab title="(\d{3})">\s*```json\n(.*?)```', section(text, "ResponseExample"), re.S)
    return {int(status): json.loads(body) for status, body in tabs}


def same_shape(answer, documented) -> bool:
    if isinstance(documented, dict):
        return isinstance(answer, dict) and set(answer) == set(documented)
    if isinstance(documented, list):
        if not isinstance(answer, list):
            return False
        return not (answer and documented) or same_shape(answer[0], documented[0])
    return type(answer) is type(documented)


def success(page_text: str) -> tuple[int, object]:
    return min((s, body) for s, body in response_examples(page_text).items() if s < 300)


@pytest.fixture
def example_data(db):
    """What the examples assume: a user, a token, and the sessions they name."""
    user = get_user_model().objects.create_user(username="alice", password=PASSWORD)
    session = services.session_create(owner=user, key="session_abc123", title="Lisbon weekend")
    services.message_create(session=session, role="user", content="Plan a weekend in Lisbon")
    services.session_create(owner=user, key="telegram:123456789")
    refresh = RefreshToken.for_user(user)
    return {"<token>": str(refresh.access_token), "<refresh>": str(refresh), "<password>": PASSWORD}


def filled_in(code: str, live_server, placeholders: dict[str, str]) -> str:
    code = code.replace("http://localhost:8000", live_server.url)
    for placeholder, value in placeholders.items():
        code = code.replace(placeholder, value)
    return code


def run_curl(code: str) -> tuple[int, object]:
    command = code.rstrip() + " -s -w '\\n%{http_code}'"
    result = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=30)
    body, _, status = result.stdout.rpartition("\n")
    return int(status), json.loads(body)


def run_python(code: str) -> tuple[int, object]:
    # The examples print the body; the status is printed after it, for the test.
    result = subprocess.run(
        [sys.executable, "-c", code + "\nprint(response.status_code)"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    body, status = result.stdout.strip().rsplit("\n", 1)
    return int(status), ast.literal_eval(body)


RUNNERS = {"curl": run_curl, "python": run_python}


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_page_has_front_matter_and_examples(page):
    text = page.read_text()
    meta = front_matter(text)
    assert {"title", "description", "api", "auth"} <= set(meta)
    assert re.fullmatch(r"(GET|POST|PUT|DELETE) /api/\S+", meta["api"])
    request_examples = section(text, "RequestExample")
    for language in [*LANGUAGES.values(), "javascript"]:
        assert len(code_blocks(request_examples, language)) == 1, language
    assert any(status < 300 for status in response_examples(text))


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_documented_example_answers_as_documented(page, language, live_server, example_data):
    text = page.read_text()
    if front_matter(text)["api"] == "POST /api/sessions":
        # The create example makes the session the other examples find ready.
        Session.objects.filter(key="session_abc123").delete()
    (code,) = code_blocks(section(text, "RequestExample"), LANGUAGES[language])
    status, body = RUNNERS[language](filled_in(code, live_server, example_data))
    documented_status, documented_body = success(text)
    assert status == documented_status, body
    assert same_shape(body, documented_body), body


@pytest.fixture(scope="module")
def schema(django_db_blocker):
    with django_db_blocker.unblock():
        return Client().get("/api/schema", {"format": "json"}).json()


def test_every_route_in_the_schema_has_a_page(schema):
    documented = {front_matter(page.read_text())["api"] for page in PAGES}
    # The title page documents PUT beside POST, which it is an alias of.
    documented.add("PUT /api/sessions/{session_id}/title")
    routes = {f"{method.upper()} {path}" for path, operations in schema["paths"].items() for method in operations}
    assert routes - documented == set()


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_every_documented_status_is_in_the_schema(page, schema):
    text = page.read_text()
    method, path = front_matter(text)["api"].split(" ", 1)
    documented = {str(status) for status in response_examples(text)}
    assert documented <= set(schema["paths"][path][method.lower()]["responses"])


@pytest.mark.parametrize(
    "page", [p for p in PAGES if 404 in response_examples(p.read_text())], ids=lambda p: p.name
)
def test_documented_404_is_answered_for_a_missing_session(page, example_data):
    text = page.read_text()
    method, path = front_matter(text)["api"].split(" ", 1)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {example_data['<token>']}")
    if "{session_id}" in path:
        url, query = path.replace("{session_id}", "no-such-session"), {}
    else:
        url, query = path, {"id": "no-such-session"}
    body = {"role": "user", "content": "x", "title": "x"} if method in ("POST", "PUT") else None
    if body is None:
        response = client.generic(method, url, QUERY_STRING="&".join(f"{k}={v}" for k, v in query.items()))
    else:
        response = client.generic(method, url, json.dumps(body), content_type="application/json")
    assert response.status_code == 404
    assert response.json() == response_examples(text)[404]

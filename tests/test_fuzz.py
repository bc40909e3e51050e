"""Schema fuzzing: schemathesis drives every operation of our own OpenAPI schema.

No answer may be a 5xx, and every answer must conform to the schema (status
code, content type, body), with a valid token and without one. Run with
`make test-fuzz`; FUZZ_EXAMPLES bounds the examples per operation.
"""
import os

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from rest_framework_simplejwt.tokens import RefreshToken
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from .factories import SessionFactory, session_with_messages

pytestmark = pytest.mark.fuzz

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "100"))
FUZZ_SETTINGS = hypothesis_settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)


# What the issue asks of every answer: no 5xx, and conformance to the schema.
# (Whether the API accepts or refuses a given input is the unit tests' job.)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]

# Serving the schema touches no database, so it can be loaded when the module is.
schema = schemathesis.openapi.from_wsgi("/api/schema?format=json", get_wsgi_application())


@pytest.fixture(autouse=True)
def wsgi_calls_inside_the_test_transaction(db, settings):
    # Generous limits: the fuzzer is not testing the throttle, and 429s would hide other answers.
    settings.API_THROTTLE_RATES = {
        "login_address": "100000/minute",
        "login_username": "100000/minute",
        "user": "100000/minute",
    }
    # As Django's test client does: a request must not close the connection that
    # holds the test's transaction.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def token(user):
    # Sessions under the documented example ids, so that some cases reach real data.
    session_with_messages(owner=user, key="session_abc123", count=3)
    SessionFactory(owner=user, key="telegram:123456789")
    return str(RefreshToken.for_user(user).access_token)


@schema.parametrize()
@FUZZ_SETTINGS
def test_api_conforms_to_its_schema_with_a_token(case, token):
    case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)


@schema.parametrize()
@FUZZ_SETTINGS
def test_api_conforms_to_its_schema_without_a_token(case):
    case.call_and_validate(checks=CHECKS)

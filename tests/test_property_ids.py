"""Property: any string is either refused at creation with 400, or round-trips through every route."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sessions_app.models import Session
from sessions_app.validators import SESSION_KEY_PATTERN

from .conftest import path_segment

# Mostly the characters ids are made of, with the whole of Unicode mixed in.
id_alphabet = st.sampled_from("abcXYZ019_-.:@+!=~/ %?#&\\\"'<>\t\n\x00\u00e9\u2028\U0001f600")
candidate_ids = st.one_of(
    st.text(id_alphabet, max_size=40),
    st.text(max_size=40),
    st.from_regex(SESSION_KEY_PATTERN, fullmatch=True),
)


@pytest.mark.django_db
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=candidate_ids, encoded=st.booleans())
def test_any_id_is_refused_or_round_trips(auth_client, key, encoded):
    Session.objects.all().delete()
    response = auth_client.post("/api/sessions", {"id": key}, format="json")
    assert response.status_code in (201, 400), (key, response.status_code)
    if response.status_code == 400:
        assert not Session.objects.exists()
        return
    assert response.json()["id"] == key
    path_key = path_segment(key, encoded)
    assert auth_client.get(f"/api/sessions/{path_key}").json()["id"] == key
    message = auth_client.post(
        f"/api/sessions/{path_key}/messages", {"role": "user", "content": "hi"}, format="json"
    )
    assert message.status_code == 201
    history = auth_client.get(f"/api/sessions/{path_key}/history").json()
    assert [m["content"] for m in history] == ["hi"]
    assert auth_client.delete(f"/api/sessions/{path_key}").json() == {"status": "ok"}
    assert not Session.objects.exists()

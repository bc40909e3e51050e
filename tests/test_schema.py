"""The OpenAPI schema is generated from the code and describes every route."""
import json
from io import StringIO

import pytest
from django.core.management import call_command

ROUTES = {
    "/api/auth/token": {"post": {"200", "401", "415"}},
    "/api/sessions": {"get": {"200", "400", "401", "406"}, "post": {"201", "400", "401", "406", "409", "415"}},
    "/api/sessions/{session_id}": {"get": {"200", "401", "404", "406"}, "delete": {"200", "401", "404", "406"}},
    "/api/sessions/{session_id}/messages": {"post": {"201", "400", "401", "404", "415"}},
    "/api/sessions/{session_id}/title": {
        "post": {"200", "400", "401", "404", "415"},
        "put": {"200", "400", "401", "404", "415"},
    },
    "/api/sessions/{session_id}/history": {"get": {"200", "400", "401", "404", "406"}},
    "/api/memory/session": {"get": {"200", "400", "401", "404", "406"}},
    "/api/sessions/search": {"get": {"200", "400", "401", "406"}},
    "/api/sessions/{session_id}/export": {"get": {"200", "400", "401", "404"}},
}


@pytest.fixture(scope="module")
def schema(django_db_blocker):
    from django.test import Client

    with django_db_blocker.unblock():
        response = Client().get("/api/schema", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def test_schema_is_openapi_3(schema):
    assert schema["openapi"].startswith("3.")


@pytest.mark.parametrize("path", ROUTES)
def test_schema_lists_each_route_with_its_status_codes(schema, path):
    for method, codes in ROUTES[path].items():
        assert set(schema["paths"][path][method]["responses"]) >= codes, (path, method)


def test_every_success_answer_has_a_documented_body(schema):
    # Every route answers a 2xx with a body, even verify and logout (`{}`).
    without_body = [
        (method, path, status)
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
        for status, response in operation["responses"].items()
        if status.startswith("2") and not response.get("content")
    ]
    assert without_body == []


def test_schema_declares_the_bearer_scheme(schema):
    schemes = schema["components"]["securitySchemes"]
    assert {"type": "http", "scheme": "bearer"}.items() <= next(iter(schemes.values())).items()


def test_session_routes_require_the_bearer_scheme(schema):
    operation = schema["paths"]["/api/sessions/{session_id}"]["delete"]
    assert operation["security"] == [{next(iter(schema["components"]["securitySchemes"])): []}]


def test_schema_documents_list_paging_parameters_as_integers(schema):
    parameters = {p["name"]: p["schema"] for p in schema["paths"]["/api/sessions"]["get"]["parameters"]}
    assert parameters["limit"] == {"type": "integer", "minimum": 1, "maximum": 500, "default": 50}
    assert parameters["offset"]["type"] == "integer"


def test_schema_list_response_is_an_object_with_sessions_and_total(schema):
    content = schema["paths"]["/api/sessions"]["get"]["responses"]["200"]["content"]
    reference = content["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert set(schema["components"]["schemas"][reference]["properties"]) == {"sessions", "total"}


def test_schema_export_offers_json_and_markdown(schema):
    content = schema["paths"]["/api/sessions/{session_id}/export"]["get"]["responses"]["200"]["content"]
    assert set(content) == {"application/json", "text/markdown"}


def test_schema_delete_documents_the_contract_bodies(schema):
    responses = schema["paths"]["/api/sessions/{session_id}"]["delete"]["responses"]
    assert responses["200"]["content"]["application/json"]["examples"]["Done"]["value"] == {"status": "ok"}
    not_found = responses["404"]["content"]["application/json"]["examples"]
    assert next(iter(not_found.values()))["value"] == {"detail": "Session not found"}


def test_schema_is_served_as_yaml_by_default(client):
    response = client.get("/api/schema")
    assert response.status_code == 200
    assert b"openapi:" in response.content


def test_swagger_ui_is_served(client):
    response = client.get("/api/docs")
    assert response.status_code == 200
    assert b"swagger" in response.content.lower()


@pytest.mark.parametrize("version", ["a\rb", "2.0"])
def test_the_schema_route_ignores_a_version_parameter(api_client, db, version):
    response = api_client.get("/api/schema", {"version": version})
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'inline; filename="PocketPaw sessions API (1.0.0).yaml"'


def test_the_schema_states_the_api_version_once(api_client, db):
    schema = api_client.get("/api/schema", HTTP_ACCEPT="application/json").json()
    assert schema["info"]["version"] == "1.0.0"


def test_the_schema_says_a_messages_metadata_is_an_object(api_client, db):
    schema = api_client.get("/api/schema", HTTP_ACCEPT="application/json").json()
    assert schema["components"]["schemas"]["Message"]["properties"]["metadata"]["type"] == "object"


def test_the_schema_publishes_no_internal_notes(api_client, db):
    schema = api_client.get("/api/schema", HTTP_ACCEPT="application/json").text
    assert "SimpleJWT" not in schema and "token_blacklist" not in schema


def test_options_on_the_docs_page_is_405(api_client, db):
    assert api_client.options("/api/docs").status_code == 405


def test_options_names_the_route_and_leaves_its_input_fields_to_the_schema(auth_client):
    # DRF listed the session serializer's fields, `id` required, for a message append.
    response = auth_client.options("/api/sessions/s1/messages")
    assert response.status_code == 200
    assert response.json() == {
        "name": "Messages",
        "description": "",
        "renders": ["application/json"],
        "parses": ["application/json"],
    }


@pytest.mark.parametrize(
    "schema_format, content_type", [("json", "application/vnd.oai.openapi+json"), ("yaml", "application/vnd.oai.openapi")]
)
def test_the_schema_is_served_in_the_format_asked_for(api_client, db, schema_format, content_type):
    response = api_client.get("/api/schema", {"format": schema_format})
    assert response["Content-Type"].split(";")[0] == content_type


def test_the_schema_written_by_the_command_states_the_api_version_once(db):
    output = StringIO()
    call_command("spectacular", "--format", "openapi-json", stdout=output)
    assert json.loads(output.getvalue())["info"]["version"] == "1.0.0"


@pytest.mark.parametrize("path", ["/api/health", "/api/sessions/{session_id}/export"])
def test_routes_that_answer_whatever_accept_says_list_no_406(schema, path):
    assert "406" not in schema["paths"][path]["get"]["responses"]


@pytest.mark.parametrize(
    "method, path, headers, status_code",
    [
        ("post", "/api/schema", {}, 405),
        ("get", "/api/schema?format=xml", {}, 404),
        ("get", "/api/schema", {"HTTP_ACCEPT": "text/plain"}, 406),
        ("get", "/api/schema?format=json", {"HTTP_ACCEPT": "application/vnd.oai.openapi+json;q=0, application/json;q=0"}, 406),
        ("put", "/api/docs", {}, 405),
        ("get", "/api/docs", {"HTTP_ACCEPT": "application/json"}, 406),
    ],
    ids=["schema method", "schema format", "schema accept", "schema format refused by accept", "docs method", "docs accept"],
)
def test_the_schema_and_docs_routes_answer_errors_in_json(api_client, db, method, path, headers, status_code):
    response = getattr(api_client, method)(path, **headers)
    assert (response.status_code, response["Content-Type"]) == (status_code, "application/json")
    assert "detail" in response.json()

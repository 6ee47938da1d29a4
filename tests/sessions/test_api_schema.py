"""The OpenAPI document: generated without warnings, valid, and describing the contract."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from django.core.management import call_command

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def schema(tmp_path_factory) -> dict:
    path = tmp_path_factory.mktemp("schema") / "openapi.yaml"
    # --fail-on-warn: any warning (an unresolved type, a missing description) fails the test.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(path))
    return yaml.safe_load(Path(path).read_text())


def test_every_contract_path_is_documented(schema: dict) -> None:
    assert set(schema["paths"]) == {
        "/api/sessions/", "/api/sessions/{name}/", "/api/sessions/{name}/stats", "/api/sessions/{name}/stats/refresh",
        "/api/sessions/{name}/metadata", "/api/sessions/recent/liked", "/api/sessions/{name}/events",
        "/api/sessions/{name}/status", "/api/sessions/{name}/images/", "/api/sessions/{name}/images/{filename}",
        "/api/sessions/{name}/manifest", "/api/images/", "/api/stream", "/api/stats", "/api/health",
    }


def test_every_list_filter_is_documented(schema: dict) -> None:
    parameters = {p["name"]: p for p in schema["paths"]["/api/sessions/"]["get"]["parameters"]}
    assert set(parameters) == {"liked", "test", "complete", "seed_sweep", "model", "from_date", "to_date", "status",
                               "tag", "q", "ordering", "limit", "offset", "fields", "If-None-Match",
                               "If-Modified-Since"}
    assert all(parameter.get("description") for parameter in parameters.values())
    assert parameters["liked"]["schema"]["type"] == "boolean"
    images = {p["name"] for p in schema["paths"]["/api/sessions/{name}/images/"]["get"]["parameters"]}
    assert images == {"name", "variation", "seed", "since", "limit", "offset", "fields", "If-None-Match",
                      "If-Modified-Since"}


def test_envelopes_and_objects(schema: dict) -> None:
    components = schema["components"]["schemas"]
    envelope = components["PaginatedSessionList"]["properties"]
    assert set(envelope) == {"sessions", "total_count", "limit", "offset", "next", "previous"}
    assert set(components["PaginatedImageList"]["properties"]) == {"images", "total_count", "limit", "offset",
                                                                   "next", "previous"}
    assert set(components["Session"]["properties"]) >= {"session_id", "uuid", "stats", "metadata", "thumbnail_url"}
    assert components["Session"]["properties"]["stats"]["nullable"] is True
    health = schema["paths"]["/api/health"]["get"]
    assert health.get("security") in (None, [], [{}])  # open: no credentials
    assert schema["paths"]["/api/stats"]["get"]["security"] == [{"tokenAuth": []}, {"cookieAuth": []}]


def test_the_interactive_page_works_offline(api) -> None:
    page = api.get("/api/docs/")
    assert page.status_code == 200
    assert b"/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in page.content
    assert b"cdn.jsdelivr.net" not in page.content
    assert api.get("/api/schema/").status_code == 200


def test_parameters_state_what_the_server_accepts(schema: dict) -> None:
    sessions = {p["name"]: p["schema"] for p in schema["paths"]["/api/sessions/"]["get"]["parameters"]}
    assert sessions["from_date"] == sessions["to_date"] == {"type": "string", "format": "date"}
    assert sessions["status"]["enum"] == ["aborted", "completed", "ongoing"]
    assert sessions["ordering"] == {"type": "string", "enum": [
        "created_at", "-created_at", "images_actual", "-images_actual", "completion_percentage",
        "-completion_percentage", "updated_at", "-updated_at"]}
    assert all(sessions[flag] == {"type": "boolean"} for flag in ("liked", "test", "complete", "seed_sweep"))
    assert sessions["q"]["pattern"] == r"^[^\x00]*$"  # NUL characters are a 400
    for path in ("/api/sessions/{name}/images/", "/api/images/"):
        variation = next(p for p in schema["paths"][path]["get"]["parameters"] if p["name"] == "variation")
        assert variation["explode"] is True and variation["schema"]["type"] == "array"
        assert variation["schema"]["items"]["pattern"].startswith("^[^:")
    name = next(p for p in schema["paths"]["/api/sessions/{name}/"]["get"]["parameters"] if p["name"] == "name")
    assert name["example"] == "20261121_043601-facial_expressions"  # a session of the reference fixtures


def test_bodies_refuse_unknown_fields(schema: dict) -> None:
    components = schema["components"]["schemas"]
    assert components["PatchedMetadataRequest"]["additionalProperties"] is False
    assert components["StatusChangeRequest"]["additionalProperties"] is False
    for path, method in (("/api/sessions/{name}/metadata", "patch"), ("/api/sessions/{name}/status", "post")):
        assert set(schema["paths"][path][method]["requestBody"]["content"]) == {"application/json"}


def test_every_error_answer_is_documented_with_its_body(schema: dict) -> None:
    codes = {(path, method): set(operation["responses"]) for path, item in schema["paths"].items()
             for method, operation in item.items()}
    assert codes[("/api/sessions/{name}/status", "post")] == {"200", "400", "401", "403", "404", "409", "415",
                                                              "429", "503"}
    assert codes[("/api/sessions/{name}/metadata", "get")] == {"200", "304", "400", "401", "404", "429", "503"}
    assert codes[("/api/sessions/", "get")] == {"200", "304", "400", "401", "429", "503"}
    assert codes[("/api/health", "get")] == {"200", "400", "503"}  # open: no 401
    for (path, method), answered in codes.items():
        for code in answered - {"200", "304"}:
            content = schema["paths"][path][method]["responses"][code]["content"]
            expected = "ValidationError" if code == "400" else "Error"
            assert content["application/json"]["schema"] == {"$ref": f"#/components/schemas/{expected}"}, (path, code)


def test_the_stream_and_the_authentication_schemes(schema: dict) -> None:
    stream = schema["paths"]["/api/stream"]["get"]["responses"]
    assert stream["200"]["content"]["text/event-stream"]["schema"]["properties"]["event"]["enum"] == ["session"]
    assert stream["401"]["content"]["text/event-stream"]["schema"] == {"$ref": "#/components/schemas/ErrorEvent"}
    assert schema["components"]["securitySchemes"] == {
        "tokenAuth": {"type": "http", "scheme": "bearer"},
        "cookieAuth": {"type": "apiKey", "in": "cookie", "name": "sessionid"},
    }

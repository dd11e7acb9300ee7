"""The OpenAPI document the node serves: well formed, complete, and true to the routes."""

from __future__ import annotations

import re

import pytest

from schemas import vocab

METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


@pytest.fixture
def document(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    return response.get_json()


def _refs(node, found=None):
    found = [] if found is None else found
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                found.append(value)
            else:
                _refs(value, found)
    elif isinstance(node, list):
        for value in node:
            _refs(value, found)
    return found


def _resolve(document, ref):
    assert ref.startswith("#/"), ref
    node = document
    for part in ref[2:].split("/"):
        assert part in node, f"unresolved {ref}"
        node = node[part]
    return node


def test_document_is_structurally_valid_openapi_3(document):
    assert re.fullmatch(r"3\.0\.\d+", document["openapi"])
    assert document["info"]["title"] and document["info"]["version"]
    assert document["servers"][0]["url"] == "http://localhost"
    for ref in _refs(document):
        _resolve(document, ref)

    schemes = document["components"]["securitySchemes"]
    assert schemes["bearer"] == {"type": "http", "scheme": "bearer"}
    flow = schemes["oauth2"]["flows"]["clientCredentials"]
    assert flow["tokenUrl"] == "http://localhost/api/v1/oauth/token"
    assert set(flow["scopes"]) == set(vocab.TOKEN_SCOPES)

    operation_ids = []
    for path, item in document["paths"].items():
        assert path.startswith("/api/v1/")
        declared = {p["name"] for p in item.get("parameters", []) if p["in"] == "path"}
        assert declared == set(re.findall(r"\{(\w+)\}", path)), path
        assert all(p["required"] is True for p in item.get("parameters", []))
        for method, operation in item.items():
            if method == "parameters":
                continue
            assert method in METHODS, (path, method)
            operation_ids.append(operation["operationId"])
            assert operation["summary"]
            responses = operation["responses"]
            assert responses and all(re.fullmatch(r"[1-5]\d\d", code) for code in responses)
            assert any(code.startswith("2") for code in responses), (path, method)
            for requirement in operation.get("security", []):
                for name, scopes in requirement.items():
                    assert name in schemes, name
                    if name == "oauth2":
                        assert set(scopes) <= set(flow["scopes"])
            if "requestBody" in operation:
                for media in operation["requestBody"]["content"].values():
                    assert "schema" in media
            for parameter in operation.get("parameters", []):
                assert parameter["in"] in {"query", "header", "path", "cookie"}
                assert parameter["name"] and "schema" in parameter
    assert len(operation_ids) == len(set(operation_ids))


def test_every_api_route_is_documented(app, document):
    routed = {
        (re.sub(r"<(?:[^:<>]+:)?(\w+)>", r"{\1}", rule.rule), method.lower())
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("api.")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    documented = {
        (path, method)
        for path, item in document["paths"].items()
        for method in item
        if method in METHODS
    }
    assert routed == documented
    assert len(routed) > 30


def test_operations_describe_their_contract(document):
    paths = document["paths"]
    schemas = document["components"]["schemas"]

    create = paths["/api/v1/events"]["post"]
    assert create["security"] == [{"bearer": []}, {"oauth2": ["write"]}]
    body = _resolve(
        document, create["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    )
    assert set(body["required"]) == {"title", "kind", "starts_at"}
    assert body["additionalProperties"] is False
    assert {"201", "400", "401", "403", "413", "415"} <= set(create["responses"])
    assert "Location" in create["responses"]["201"]["headers"]

    patch = paths["/api/v1/events/{item_id}"]["patch"]
    patch_body = patch["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert "required" not in _resolve(document, patch_body)

    listing = paths["/api/v1/events"]["get"]
    assert {p["name"] for p in listing["parameters"]} == {
        "page",
        "per_page",
        "when",
        "kind",
        "status",
        "campaign_id",
    }
    per_page = next(p for p in listing["parameters"] if p["name"] == "per_page")
    assert per_page["schema"]["maximum"] == 100
    assert {} in listing["security"]  # public, a token optional
    page = _resolve(
        document, listing["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    )
    assert set(page["properties"]) == {"items", "page", "per_page", "total", "next"}
    item = _resolve(document, page["properties"]["items"]["items"]["$ref"])
    assert "url" in item["properties"] and "starts_at" in item["properties"]

    error = schemas["Error"]
    assert set(error["properties"]) == {"error", "fields"}

    token = paths["/api/v1/oauth/token"]["post"]
    assert "application/x-www-form-urlencoded" in token["requestBody"]["content"]
    assert paths["/api/v1/events/{item_id}/rsvps"]["get"]["security"][1] == {"oauth2": ["members"]}
    assert paths["/api/v1/members"]["post"]["security"][1] == {"oauth2": ["members"]}
    assert paths["/api/v1/group"]["patch"]["security"][1] == {"oauth2": ["group"]}
    assert paths["/api/v1/events/{item_id}/rsvp"]["put"]["security"][1] == {"oauth2": ["rsvp"]}
    assert paths["/api/v1/events/{item_id}"]["delete"]["responses"]["204"].get("content") is None

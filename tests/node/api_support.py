"""Helpers for the JSON API tests (their fixtures are in tests/node/conftest.py)."""

from __future__ import annotations

from sqlalchemy import func, select

from node.extensions import db

API = "/api/v1"


class ApiClient:
    """The Flask test client, speaking JSON to /api/v1 with an optional bearer token."""

    def __init__(self, client) -> None:
        self.client = client

    def call(self, method: str, path: str, token: str | None = None, **kwargs):
        headers = dict(kwargs.pop("headers", {}) or {})
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        url = path if path.startswith("http") or path.startswith(API) else API + path
        return self.client.open(url, method=method, headers=headers, **kwargs)

    def get(self, path, token=None, **kwargs):
        return self.call("GET", path, token, **kwargs)

    def post(self, path, token=None, **kwargs):
        return self.call("POST", path, token, **kwargs)

    def put(self, path, token=None, **kwargs):
        return self.call("PUT", path, token, **kwargs)

    def patch(self, path, token=None, **kwargs):
        return self.call("PATCH", path, token, **kwargs)

    def delete(self, path, token=None, **kwargs):
        return self.call("DELETE", path, token, **kwargs)


def count(model) -> int:
    """Count the rows of ``model`` afresh from the database."""
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model))


def assert_error(response, status: int, field: str | None = None) -> dict:
    """Check the API's error shape and status; return the body."""
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/json"
    document = response.get_json()
    assert set(document) >= {"error", "fields"}, document
    assert isinstance(document["error"], str) and document["error"]
    assert isinstance(document["fields"], dict)
    if field is not None:
        assert field in document["fields"], document
    return document

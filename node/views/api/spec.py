"""The OpenAPI document, generated from the routes and their schemas."""

from __future__ import annotations

from flask import current_app

from schemas import api as shapes

from ...openapi import build
from .access import PUBLIC, operation
from .blueprint import bp
from .exchange import query_args


@bp.get("/openapi.json")
@operation("This document (OpenAPI 3)", PUBLIC, query=shapes.NoQuery)
def openapi_document():
    query_args(shapes.NoQuery())
    return build(current_app)

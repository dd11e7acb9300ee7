"""Addresses for monitors: /healthz (alive), /readyz (able to serve) and /metrics (Prometheus).

/healthz and /readyz answer anyone, cheaply, in JSON, and say nothing private: a load
balancer or an uptime check needs no credentials. They use no session and no request
limit. /metrics is for the operator's Prometheus only: a bearer token (METRICS_TOKEN, or
an admin's API token) or an address in METRICS_ALLOW_NETWORKS; to anyone else it is not
there (404), and a wrong token is a 401.
"""

from __future__ import annotations

import hmac

from authlib.oauth2.rfc6749.errors import OAuth2Error
from flask import Blueprint, Response, current_app, jsonify, request

from .. import metrics, oauth
from ..activitypub.negotiation import json_error
from ..services import health
from .no_store import no_store

bp = Blueprint("operations", __name__)


@bp.get("/healthz")
@no_store
def healthz():
    """Say the process is alive; touch nothing else (not the database)."""
    return jsonify({"status": "alive"})


@bp.get("/readyz")
@no_store
def readyz():
    """Say whether the node can serve: 200, or 503 naming the checks that fail."""
    result = health.readiness()
    body = {
        "status": "ready" if result.ready else "not ready",
        "failing": result.failing,
        "checks": result.checks,
        "queues": result.queues,
    }
    response = jsonify(body)
    if not result.ready:
        response.status_code = 503
        response.headers["Retry-After"] = "10"
    return response


@bp.get("/metrics")
@no_store
def prometheus_metrics():
    """Serve the metrics to the metrics token, an admin's token or an allowed address."""
    refusal = _refusal()
    if refusal is not None:
        return refusal
    body, content_type = metrics.exposition()
    return Response(body, content_type=content_type)


def _refusal() -> Response | None:
    if metrics.from_allowed_network(request.remote_addr, current_app.config):
        return None
    header = request.headers.get("Authorization", "")
    if not header:
        return json_error(404, "There is nothing here.")
    scheme, _, presented = header.partition(" ")
    presented = presented.strip()
    unauthorised = json_error(401, "Present the metrics token or an admin's API token.")
    unauthorised.headers["WWW-Authenticate"] = 'Bearer realm="branchline-metrics"'
    if scheme.lower() != "bearer" or not presented:
        return unauthorised
    expected = current_app.config.get("METRICS_TOKEN")
    if expected and hmac.compare_digest(presented.encode(), str(expected).encode()):
        return None
    try:
        oauth.token_for_request([], role="admin")
    except OAuth2Error:
        return unauthorised
    return None

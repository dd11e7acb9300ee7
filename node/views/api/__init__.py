"""The JSON API under /api/v1: bearer tokens (OAuth 2 via authlib), one error shape.

One module per concern: ``blueprint`` (the blueprint, and the answers every route
shares), ``access`` (who is asking, and the decorator each route declares its access
and contract with), ``exchange`` (query strings, bodies, list pages), and the routes in
``content``, ``announcements``, ``asks``, ``rsvps``, ``shifts``, ``members``, ``mail``,
``group``, ``network``, ``ballots``, ``oauth_token`` and ``spec``.
"""

from __future__ import annotations

from . import (  # noqa: F401 - their routes are added to bp
    announcements,
    asks,
    ballots,
    content,
    group,
    mail,
    members,
    network,
    oauth_token,
    rsvps,
    shifts,
    spec,
)
from .blueprint import bp

for _resource in content.RESOURCES:
    content.register(bp, _resource)

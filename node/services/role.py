"""This node's role: an ordinary group's node, or an aggregator of groups.

A node is an aggregator when BRANCHLINE_ROLE=aggregator or its group row says so
(`branchline init --aggregator`). The role is a fact about this node, like its group, so
it sits beside ``current_group`` and asks nothing of the aggregator's own services.
"""

from __future__ import annotations

from flask import current_app
from flask_babel import gettext

from ..extensions import db
from ..models import Group
from .errors import Conflict, Invalid
from .groups import group_to_read

AGGREGATOR = "aggregator"
GROUP = "group"
ORDINARY_ROLES = ("node", GROUP)


def is_aggregator(group: Group | None = None) -> bool:
    """Tell whether this node has the aggregator role (setting or stored role)."""
    if str(current_app.config.get("ROLE") or "").strip().lower() == AGGREGATOR:
        return True
    group = group if group is not None else group_to_read()
    return group is not None and group.role == AGGREGATOR


def set_role(group: Group, role: str) -> None:
    """Store the node's role (``aggregator`` or ``group``) so it survives restarts."""
    if role not in (AGGREGATOR, GROUP):
        raise Invalid.on("role", gettext("The role is either aggregator or group."))
    group.role = role
    db.session.commit()


def require_aggregator() -> None:
    """Refuse directory changes on a node that is not an aggregator."""
    if not is_aggregator():
        raise Conflict(
            gettext(
                "This node is not an aggregator: set "
                "BRANCHLINE_ROLE=aggregator (or set it up with `branchline "
                "init --aggregator`)."
            )
        )

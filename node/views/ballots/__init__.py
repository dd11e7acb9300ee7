"""Ballot pages: ``pages`` (voting, receipts, papers, setting up) and ``sealed`` (a sealed
ballot's tellers, count and ballot box), both on the one ``ballots`` blueprint.
"""

from __future__ import annotations

from . import pages, sealed  # noqa: F401 - their routes are added to bp
from .blueprint import bp

__all__ = ["bp"]

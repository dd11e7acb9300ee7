"""The ballots blueprint, which the ballot pages and the sealed ballots' own pages share."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("ballots", __name__)

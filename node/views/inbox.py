"""Placeholder blueprint; filled in by its own change."""

from flask import Blueprint

bp = Blueprint("inbox", __name__)

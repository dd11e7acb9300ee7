"""Placeholder blueprint; filled in by its own change."""

from flask import Blueprint

bp = Blueprint("activitypub", __name__)

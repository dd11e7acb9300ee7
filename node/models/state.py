"""Node-wide bookkeeping kept in the database so every worker process sees it."""

from sqlalchemy import Integer
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db


class SiteState(db.Model):
    """One row. ``content_version`` goes up with every change to what public pages show."""

    __tablename__ = "site_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    content_version: Mapped[int] = mapped_column(Integer, default=0)

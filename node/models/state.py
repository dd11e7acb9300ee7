"""Node-wide bookkeeping kept in the database so every worker process sees it."""

from sqlalchemy import Integer
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db


class SiteState(db.Model):
    """One row. ``content_version`` goes up with every change to what public pages show."""

    __tablename__ = "site_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    content_version: Mapped[int] = mapped_column(Integer, default=0)
    # The last seq handed out to this group's feed; taking the next one locks this row,
    # so concurrent writers append one after the other with no gap and no clash.
    feed_seq: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

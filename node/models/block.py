"""The block list: actors and whole domains this node has nothing to do with."""

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .federation import URL
from .types import UTCDateTime, utcnow

BLOCK_KINDS = ("domain", "actor")


class Block(db.Model):
    """One blocked actor (its URL) or domain (its subdomains too), and who blocked it, why."""

    __tablename__ = "peer_block"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # domain | actor
    # Normalised (services/peering/blocks.py): an ASCII lower-case domain (host or host:port)
    # or an actor URL with its scheme and host in lower case. Unique: is_blocked looks
    # candidates up in this index.
    target: Mapped[str] = mapped_column(String(URL), unique=True)
    # The flags of Mastodon's domain-block export, kept so an imported list exports again as
    # it came; every block here rejects everything whatever they say.
    reject_media: Mapped[bool] = mapped_column(Boolean, default=False)
    reject_reports: Mapped[bool] = mapped_column(Boolean, default=False)
    obfuscate: Mapped[bool] = mapped_column(Boolean, default=False)
    public_comment: Mapped[str] = mapped_column(Text, default="")
    private_comment: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("member.id", ondelete="SET NULL"), nullable=True
    )
    # Who, as said at the time: a member's name and e-mail, or "command line".
    created_by: Mapped[str] = mapped_column(String(400), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    member = relationship("Member", lazy="joined")

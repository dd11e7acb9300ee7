"""Places: UK postcode districts, so a member can say "near LS6" instead of a latitude."""

from sqlalchemy import Float, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db


class PostcodeDistrict(db.Model):
    """The centroid of one postcode district (the outward code, e.g. ``LS6``)."""

    __tablename__ = "postcode_district"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    district: Mapped[str] = mapped_column(String(8), unique=True)
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
    postcodes: Mapped[int] = mapped_column(Integer)  # live postcodes the centroid is the mean of

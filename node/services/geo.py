"""Places on the map: coordinates in documents, distances, bounding boxes, postcode districts.

A distance search first narrows the rows with a bounding box on indexed latitude and
longitude columns (an index range, not a scan), then keeps the rows whose great-circle
distance is within the radius. Postcode districts come from the ONS Postcode Directory
(``branchline geo load FILE``): the mean position of the live postcodes of each outward code.
Towns and postcode areas come from the gazetteer shipped in ``node/data/places_gb.csv`` (built
by ``deploy/build_gazetteer.py`` from GeoNames, CC BY 4.0), so a new node finds ``Leeds``,
``Hebden Bridge`` and ``LS7`` with nothing loaded.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from sqlalchemy import delete, func, insert, select

from ..extensions import db
from ..models import PostcodeDistrict
from .errors import Invalid

EARTH_RADIUS_KM = 6371.0088  # the mean radius (IUGG)
# Slack on the box and on the exact test, so float rounding never drops a row on the edge.
EDGE_SLACK_DEGREES = 1e-9
EDGE_SLACK_KM = 1e-6

OUTWARD_CODE = re.compile(r"^[A-Z]{1,2}[0-9][A-Z0-9]?$")
INWARD_CODE = re.compile(r"^[0-9][A-Z]{2}$")

# The ONS Postcode Directory columns the loader reads (the file has many more).
ONSPD_COLUMNS = ("pcds", "lat", "long", "doterm")


def coordinate(value: object, bound: float) -> float | None:
    """Return a latitude (bound 90) or longitude (bound 180) a document gives, or None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    value = float(value)
    return value if math.isfinite(value) and -bound <= value <= bound else None


def place_of(location: object) -> tuple[float | None, float | None]:
    """Return the (latitude, longitude) of the first Place in ``location`` that has both."""
    for place in location if isinstance(location, list) else [location]:
        if isinstance(place, dict):
            latitude = coordinate(place.get("latitude"), 90)
            longitude = coordinate(place.get("longitude"), 180)
            if latitude is not None and longitude is not None:
                return latitude, longitude
    return None, None


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Return the great-circle (haversine) distance between two points, in kilometres."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    d_phi = phi2 - phi1
    d_lambda = math.radians(lon2 - lon1)
    h = math.sin(d_phi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(d_lambda / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def distances_from(lat1: float, lon1: float) -> Callable[[float, float], float]:
    """Return ``distance_km`` from one point as a function of the other, for many points.

    The search pages measure thousands of rows from one place: the place's share of the
    formula is worked out once; each result is the same float ``distance_km`` gives.
    """
    phi1 = math.radians(lat1)
    cos_phi1 = math.cos(phi1)
    radians, sin, cos, asin, sqrt = math.radians, math.sin, math.cos, math.asin, math.sqrt
    diameter = 2 * EARTH_RADIUS_KM

    def distance(lat2: float, lon2: float) -> float:
        phi2 = radians(lat2)
        h = sin((phi2 - phi1) / 2) ** 2 + cos_phi1 * cos(phi2) * sin(radians(lon2 - lon1) / 2) ** 2
        return diameter * asin(min(1.0, sqrt(h)))

    return distance


def haversine_limit(radius_km: float) -> float | None:
    """Return the largest haversine ``h`` of a point within ``radius_km`` (edge included).

    ``distance_km`` is ``2R·asin(√h)`` with
    ``h = sin²(Δφ/2) + cos φ1·cos φ2·sin²(Δλ/2)``, which grows with the distance: so a
    database can keep the points of a circle by comparing ``h`` alone, with no ``asin``.
    None when the circle covers the whole earth.
    """
    half_angle = (radius_km + EDGE_SLACK_KM) / (2 * EARTH_RADIUS_KM)
    if half_angle >= math.pi / 2:
        return None
    return math.sin(half_angle) ** 2


def within(distance: float, radius_km: float) -> bool:
    """Tell whether ``distance`` (km) counts as inside ``radius_km``, edge included."""
    return distance <= radius_km + EDGE_SLACK_KM


@dataclass(frozen=True)
class Box:
    """The smallest latitude/longitude box holding a circle; ``west > east`` wraps at 180°."""

    south: float
    north: float
    west: float
    east: float

    def longitude_ranges(self) -> list[tuple[float, float]]:
        """Return one (west, east) range, or two when the box crosses the antimeridian."""
        if self.west <= self.east:
            return [(self.west, self.east)]
        return [(self.west, 180.0), (-180.0, self.east)]

    def contains(self, latitude: float, longitude: float) -> bool:
        in_latitude = self.south <= latitude <= self.north
        return in_latitude and any(w <= longitude <= e for w, e in self.longitude_ranges())


def bounding_box(latitude: float, longitude: float, radius_km: float) -> Box:
    """Return the box that holds every point within ``radius_km`` of the given point.

    Latitude spans the angular radius either way; longitude spans
    asin(sin δ / cos φ), the widest the circle gets (not its width on the centre's
    parallel). A circle reaching a pole spans every longitude.
    """
    delta = radius_km / EARTH_RADIUS_KM
    phi, lam = math.radians(latitude), math.radians(longitude)
    south, north = phi - delta, phi + delta
    slack = EDGE_SLACK_DEGREES
    if delta >= math.pi or south <= -math.pi / 2 or north >= math.pi / 2:
        return Box(
            max(-90.0, math.degrees(south) - slack),
            min(90.0, math.degrees(north) + slack),
            -180.0,
            180.0,
        )
    d_lambda = math.asin(min(1.0, math.sin(delta) / math.cos(phi)))
    west, east = lam - d_lambda, lam + d_lambda
    if west < -math.pi:
        west += 2 * math.pi
    if east > math.pi:
        east -= 2 * math.pi
    return Box(
        math.degrees(south) - slack,
        math.degrees(north) + slack,
        max(-180.0, math.degrees(west) - slack),
        min(180.0, math.degrees(east) + slack),
    )


# Postcode districts ------------------------------------------------------------------------


def outward_code(text: str) -> str | None:
    """Return the district (outward code) of a postcode or district: ``ls6 1an`` -> ``LS6``."""
    compact = re.sub(r"\s+", "", text or "").upper()
    if OUTWARD_CODE.match(compact):
        return compact
    spaced = (text or "").strip().upper().split()
    if len(spaced) == 2 and OUTWARD_CODE.match(spaced[0]) and INWARD_CODE.match(spaced[1]):
        return spaced[0]
    if len(compact) > 3 and INWARD_CODE.match(compact[-3:]) and OUTWARD_CODE.match(compact[:-3]):
        return compact[:-3]
    return None


def districts_loaded() -> bool:
    """Tell whether a postcode district table has been loaded on this node."""
    return db.session.scalar(select(PostcodeDistrict.id).limit(1)) is not None


def find_district(code: str) -> PostcodeDistrict | None:
    """Return the stored district a postcode or district belongs to, or None."""
    district = outward_code(code)
    if district is None:
        return None
    return db.session.scalar(select(PostcodeDistrict).where(PostcodeDistrict.district == district))


def district_count() -> int:
    return db.session.scalar(select(func.count(PostcodeDistrict.id))) or 0


class DirectoryError(Invalid):
    """A file that is not an ONS Postcode Directory CSV."""

    def __init__(self, message: str) -> None:
        super().__init__(message, {"file": [message]})


@dataclass
class LoadReport:
    """What loading a postcode directory found."""

    rows: int = 0
    used: int = 0
    terminated: int = 0
    no_coordinates: int = 0
    bad_postcode: int = 0
    districts: int = 0
    sums: dict[str, list[float]] = field(default_factory=dict, repr=False)

    @property
    def skipped(self) -> int:
        return self.terminated + self.no_coordinates + self.bad_postcode


def _header(row: list[str]) -> dict[str, int]:
    names = [cell.strip().lstrip("\ufeff").lower() for cell in row]
    missing = [name for name in ONSPD_COLUMNS if name not in names]
    if missing:
        raise DirectoryError(
            "This is not an ONS Postcode Directory CSV: the header has no "
            + ", ".join(missing)
            + " column"
            + ("s" if len(missing) > 1 else "")
            + f" (it needs {', '.join(ONSPD_COLUMNS)})."
        )
    return {name: names.index(name) for name in ONSPD_COLUMNS}


def _degrees(text: str, bound: float) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    if not math.isfinite(value) or abs(value) > bound:
        return None  # ONS writes 99.999999 for a postcode with no grid reference
    return value


def read_postcode_directory(lines: Iterable[str]) -> LoadReport:
    """Sum the live postcodes of an ONS Postcode Directory CSV by district (nothing stored)."""
    reader = csv.reader(lines)
    try:
        header = next(reader)
    except StopIteration:
        raise DirectoryError("The file is empty: it has no header row.") from None
    except csv.Error as error:
        raise DirectoryError(f"The file is not CSV: {error}.") from None
    columns = _header(header)
    report = LoadReport()
    last = max(columns.values())
    try:
        for row in reader:
            report.rows += 1
            if len(row) <= last:
                report.bad_postcode += 1
                continue
            if row[columns["doterm"]].strip():
                report.terminated += 1
                continue
            district = outward_code(row[columns["pcds"]])
            if district is None:
                report.bad_postcode += 1
                continue
            latitude = _degrees(row[columns["lat"]], 90)
            longitude = _degrees(row[columns["long"]], 180)
            if latitude is None or longitude is None or (latitude == 0 and longitude == 0):
                report.no_coordinates += 1
                continue
            sums = report.sums.setdefault(district, [0.0, 0.0, 0])
            sums[0] += latitude
            sums[1] += longitude
            sums[2] += 1
            report.used += 1
    except csv.Error as error:
        raise DirectoryError(f"Line {reader.line_num} is not valid CSV: {error}.") from None
    report.districts = len(report.sums)
    return report


def replace_districts(report: LoadReport) -> None:
    """Replace the district table with the centroids ``report`` found, in one transaction."""
    rows = [
        {
            "district": district,
            "latitude": round(lat_sum / count, 6),
            "longitude": round(lon_sum / count, 6),
            "postcodes": int(count),
        }
        for district, (lat_sum, lon_sum, count) in sorted(report.sums.items())
    ]
    try:
        db.session.execute(delete(PostcodeDistrict))
        for start in range(0, len(rows), 1000):
            db.session.execute(insert(PostcodeDistrict), rows[start : start + 1000])
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise


def decoded_lines(handle: Iterable[bytes], progress: Callable[[int], None]) -> Iterator[str]:
    """Decode a binary file line by line, reporting the bytes read (for a progress bar)."""
    for raw in handle:
        progress(len(raw))
        yield raw.decode("utf-8", errors="replace")


# The gazetteer shipped with the node ----------------------------------------------------------

GAZETTEER = Path(__file__).resolve().parent.parent / "data" / "places_gb.csv"
AREA_LETTERS = re.compile(r"^[A-Z]{1,2}")


@dataclass(frozen=True)
class Town:
    """A town or city of the shipped gazetteer (GeoNames, CC BY 4.0)."""

    name: str
    latitude: float
    longitude: float
    population: int
    part: str  # England, Scotland, Wales or Northern Ireland

    @property
    def described(self) -> str:
        return f"{self.name}, {self.part}" if self.part else self.name


@dataclass(frozen=True)
class Gazetteer:
    """Towns by lower-case name (most populous first), postcode areas by their letters and
    postcode district centres (latitude, longitude) by outward code."""

    towns: dict[str, tuple[Town, ...]]
    areas: dict[str, Town]
    districts: dict[str, tuple[float, float]]


@dataclass(frozen=True)
class Found:
    """Where a typed place was found: a label to show, the point, and how it was found."""

    label: str
    latitude: float
    longitude: float
    source: str  # town, postcode_district or postcode_area
    note: str = ""
    others: tuple[str, ...] = ()


@cache
def gazetteer() -> Gazetteer:
    """Return the shipped gazetteer, read once per process."""
    towns: dict[str, list[Town]] = {}
    areas: dict[str, Town] = {}
    districts: dict[str, tuple[float, float]] = {}
    with GAZETTEER.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            latitude, longitude = float(row["latitude"]), float(row["longitude"])
            if row["kind"] == "district":
                districts[row["name"]] = (latitude, longitude)
            elif row["kind"] == "area":
                area, post_town = row["name"].split("|", 1)
                areas[area] = Town(post_town, latitude, longitude, 0, "")
            else:
                town = Town(
                    row["name"], latitude, longitude, int(row["population"] or 0), row["part"]
                )
                towns.setdefault(_name_key(town.name), []).append(town)
    ranked = {
        key: tuple(sorted(found, key=lambda town: -town.population)) for key, found in towns.items()
    }
    return Gazetteer(ranked, areas, districts)


def _name_key(text: str) -> str:
    """Fold a place name for matching: case, spaces, hyphens and full stops do not count."""
    folded = re.sub(r"[\s\-.']+", " ", (text or "").casefold()).strip()
    return folded


def find_town(text: str) -> tuple[Town, ...]:
    """Return the towns named ``text`` (``Leeds``, ``hebden bridge``), most populous first."""
    name = (text or "").split(",")[0]
    return gazetteer().towns.get(_name_key(name), ())


def find_place(text: str) -> Found | None:
    """Find a typed town, postcode district or full postcode; None when nothing matches.

    A postcode counts as its district. A district comes from the loaded ONS table when there
    is one, else from the shipped district centres (Code-Point Open), else from the post town
    of its area (a Northern Ireland ``BT`` district is placed at Belfast), which the result's
    note says is approximate.
    """
    district = outward_code(text)
    if district is not None:
        return _postcode_place(district, text)
    towns = find_town(text)
    if not towns:
        return None
    town, others = towns[0], towns[1:]
    note = ""
    if others:
        note = (
            f"There are {len(towns)} places called {town.name}: this is the largest, "
            f"{town.described}. Type a postcode to pick another."
        )
    return Found(
        town.described,
        town.latitude,
        town.longitude,
        "town",
        note,
        tuple(other.described for other in others[:5]),
    )


def _postcode_place(district: str, text: str) -> Found | None:
    stored = find_district(district)
    if stored is not None:
        return Found(stored.district, stored.latitude, stored.longitude, "postcode_district")
    shipped = gazetteer().districts.get(district)
    if shipped is not None:
        return Found(district, *shipped, "postcode_district")
    letters = AREA_LETTERS.match(district)
    area = gazetteer().areas.get(letters.group(0)) if letters else None
    if area is None:
        return None
    typed = re.sub(r"\s+", " ", text.strip().upper())
    return Found(
        f"{typed} ({area.name} area)",
        area.latitude,
        area.longitude,
        "postcode_area",
        f"{typed} is placed at the centre of {area.name}, its post town: this node has no "
        "postcode table loaded, so distances from it are approximate.",
    )

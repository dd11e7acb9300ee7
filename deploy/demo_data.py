"""The demo network's groups and what they publish: invented sample data, not real figures.

Two safe seats are twinned with two marginal ones; a national office aggregates all four.
Dates are given as days from today, so the events are always upcoming.
"""

from __future__ import annotations

from typing import Any

PASSWORD = "demo network passphrase"

GROUPS: list[dict[str, Any]] = [
    {
        "handle": "leedsne",
        "name": "Leeds North East Momentum",
        "profile": {
            "summary": "Members in Chapel Allerton, Roundhay and Moortown. Safe seat: "
            "we send people where they are needed.",
            "area": "Leeds",
            "seat_name": "Leeds North East",
            "seat_majority": 17_089,
            "seat_marginality": 33.9,
            "latitude": 53.826,
            "longitude": -1.522,
        },
        "twin": "calder",
        "campaigns": [
            {
                "title": "Keep Chapel Allerton library open",
                "kind": "community",
                "status": "active",
                "summary": "Petition and public meeting against the closure.",
            },
            {
                "title": "Calder Valley by-election push",
                "kind": "election",
                "status": "active",
                "summary": "Coaches to our twinned marginal every Saturday.",
            },
        ],
        "events": [
            {
                "title": "Street stall on Harrogate Road",
                "kind": "street_stall",
                "days": 3,
                "hour": 11,
                "place_name": "Chapel Allerton library steps",
                "latitude": 53.829,
                "longitude": -1.537,
                "capacity": 8,
            },
            {
                "title": "Phonebank for Calder Valley",
                "kind": "phonebank",
                "days": 5,
                "hour": 19,
                "online_url": "https://meet.example.org/leedsne-phonebank",
            },
        ],
        "candidates": [
            {
                "name": "Aisha Rahman",
                "office": "council_ward",
                "area": "Chapel Allerton",
                "stage": "elected",
                "endorsement": "endorsed",
                "result": "Elected with 61% of the vote",
            },
            {
                "name": "Tom Whitaker",
                "office": "council_ward",
                "area": "Moortown",
                "stage": "defeated",
                "endorsement": "endorsed",
                "result": "Lost by 212 votes",
            },
        ],
        "posts": [
            {
                "title": "Forty of us in Calder Valley on Saturday",
                "body": "Two coaches, 1,100 doors knocked. Thank you all.",
            }
        ],
    },
    {
        "handle": "calder",
        "name": "Calder Valley Labour",
        "profile": {
            "summary": "Hebden Bridge, Todmorden, Brighouse and Elland. One of the most "
            "marginal seats in Yorkshire.",
            "area": "Calderdale",
            "seat_name": "Calder Valley",
            "seat_majority": 1_450,
            "seat_marginality": 2.6,
            "latitude": 53.742,
            "longitude": -2.013,
        },
        "campaigns": [
            {
                "title": "Win Calder Valley",
                "kind": "election",
                "status": "active",
                "summary": "Every door in the valley before polling day.",
            }
        ],
        "events": [
            {
                "title": "Saturday canvass in Hebden Bridge",
                "kind": "canvass",
                "days": 4,
                "hour": 10,
                "place_name": "Hebden Bridge Town Hall",
                "address": "St George's Street, Hebden Bridge",
                "latitude": 53.741,
                "longitude": -2.012,
                "capacity": 40,
                "accessibility": "Step-free meeting point; short routes available.",
            },
            {
                "title": "Carpool from Leeds to Todmorden",
                "kind": "carpool",
                "days": 4,
                "hour": 8,
                "place_name": "Leeds station, Aire Street entrance",
                "latitude": 53.795,
                "longitude": -1.548,
                "capacity": 12,
            },
        ],
        "candidates": [
            {
                "name": "Josie Barlow",
                "office": "parliamentary_seat",
                "area": "Calder Valley",
                "stage": "selected",
                "endorsement": "endorsed",
            }
        ],
        "posts": [
            {
                "title": "Canvass returns: the valley is moving",
                "body": "Our last three sessions found more undecided voters than ever.",
            }
        ],
    },
    {
        "handle": "hullwest",
        "name": "Hull West Unite Community",
        "profile": {
            "summary": "Union and community organising in west Hull.",
            "area": "Kingston upon Hull",
            "seat_name": "Hull West and Haltemprice",
            "seat_majority": 13_126,
            "seat_marginality": 29.1,
            "latitude": 53.744,
            "longitude": -0.375,
        },
        "twin": "scarborough",
        "campaigns": [
            {
                "title": "Solidarity with the Humber dock strike",
                "kind": "union_solidarity",
                "status": "active",
                "summary": "Picket rota and strike fund collections.",
            }
        ],
        "events": [
            {
                "title": "Picket line at King George Dock",
                "kind": "picket",
                "days": 2,
                "hour": 6,
                "place_name": "King George Dock, gate 3",
                "latitude": 53.738,
                "longitude": -0.274,
            },
            {
                "title": "Listening session on Hessle Road",
                "kind": "listening_session",
                "days": 6,
                "hour": 18,
                "place_name": "Hessle Road Network Centre",
                "latitude": 53.735,
                "longitude": -0.373,
                "capacity": 30,
            },
        ],
        "candidates": [
            {
                "name": "Dan Fenwick",
                "office": "council_ward",
                "area": "St Andrew's and Docklands",
                "stage": "elected",
                "endorsement": "endorsed",
                "result": "Elected",
            }
        ],
        "posts": [
            {
                "title": "£3,400 raised for the strike fund",
                "body": "Collections at three supermarkets and the Saturday stall.",
            }
        ],
    },
    {
        "handle": "scarborough",
        "name": "Scarborough and Whitby Labour",
        "profile": {
            "summary": "Coastal towns and villages from Filey to Whitby.",
            "area": "North Yorkshire",
            "seat_name": "Scarborough and Whitby",
            "seat_majority": 3_000,
            "seat_marginality": 6.4,
            "latitude": 54.283,
            "longitude": -0.400,
        },
        "campaigns": [
            {
                "title": "Save Whitby hospital's minor injuries unit",
                "kind": "community",
                "status": "active",
                "summary": "Consultation responses and a march on the 14th.",
            },
            {
                "title": "Win Scarborough and Whitby",
                "kind": "election",
                "status": "planned",
            },
        ],
        "events": [
            {
                "title": "Canvass in Eastfield",
                "kind": "canvass",
                "days": 5,
                "hour": 10,
                "place_name": "Eastfield Community Centre",
                "latitude": 54.246,
                "longitude": -0.407,
                "capacity": 25,
            },
            {
                "title": "Branch AGM",
                "kind": "agm",
                "days": 12,
                "hour": 19,
                "place_name": "Scarborough Trades Hall",
                "latitude": 54.281,
                "longitude": -0.402,
            },
        ],
        "candidates": [
            {
                "name": "Maria Costa",
                "office": "council_ward",
                "area": "Eastfield",
                "stage": "defeated",
                "endorsement": "endorsed",
                "result": "Lost by 96 votes",
            }
        ],
        "posts": [
            {
                "title": "Hospital march: 600 people on the West Pier",
                "body": "The biggest march in Whitby for years.",
            }
        ],
    },
]

AGGREGATOR = {
    "handle": "national",
    "name": "National Office",
    "profile": {
        "summary": "The national view of the network: every listed group's feed, verified."
    },
}

"""Endorsed candidates across the network and the win rate, each figure traceable to the
signed entries it was computed from."""

from __future__ import annotations

import pytest

from node.services.aggregator.national import candidates
from tests.node.federation_support import remote  # noqa: F401
from tests.node.national_support import followed_group


@pytest.fixture
def results(remote):  # noqa: F811
    """Two groups' candidates: two won, two defeated, one undecided, one not endorsed."""
    leeds, leeds_peer = followed_group(remote, 2)
    manchester, manchester_peer = followed_group(remote, 3)
    entries = {}
    for slug, name, office, stage, extra in [
        ("ann", "Ann", "council_ward", "elected", {"result": "Elected with 2,345 votes"}),
        ("bob", "Bob", "council_ward", "selected", {"result": "Defeated by 12 votes"}),
        ("cat", "Cat", "mayor", "shortlisted", {}),
        ("dan", "Dan", "mayor", "shortlisted", {}),
        ("eve", "Eve", "council_ward", "elected", {"endorsement": "proposed"}),
    ]:
        document = leeds.candidate(slug, name, office=office, stage=stage, **extra)
        entries[slug] = leeds.publish(leeds_peer, "Create", document)
    # Cat's result comes in later, as an Update: that entry is the evidence.
    cat = leeds.candidate(
        "cat", "Cat", office="mayor", stage="elected", updated="2030-06-01T00:00:00Z"
    )
    entries["cat"] = leeds.publish(leeds_peer, "Update", cat)
    fay = manchester.candidate("fay", "Fay", office="parliamentary_seat", stage="defeated")
    entries["fay"] = manchester.publish(manchester_peer, "Create", fay)
    return entries


@pytest.mark.parametrize(
    ("stage", "result", "outcome"),
    [
        ("elected", None, "won"),
        ("defeated", None, "defeated"),
        ("selected", "Elected with 2,345 votes", "won"),
        ("selected", "defeated.", "defeated"),
        ("elected", "Defeated on appeal", "defeated"),  # the published result decides
        ("shortlisted", "Count on Thursday", None),
        ("shortlisted", None, None),
        (None, "", None),
    ],
)
def test_the_outcome_is_read_from_the_result_then_the_stage(stage, result, outcome):
    assert candidates.outcome_of(stage, result) == outcome


def test_win_rates_overall_and_by_office(results):
    rates = candidates.win_rates()

    assert (rates.overall.won, rates.overall.decided) == (2, 4)
    assert rates.overall.rate == 0.5
    by_office = {rate.office: (rate.won, rate.decided) for rate in rates.by_office}
    assert by_office == {"council_ward": (1, 2), "mayor": (1, 1), "parliamentary_seat": (0, 1)}


def test_only_endorsed_candidates_are_listed(results):
    found = candidates.candidates()

    assert [row.title for row in found.items] == ["Ann", "Bob", "Cat", "Dan", "Fay"]
    assert [row.title for row in candidates.candidates(outcome="undecided").items] == ["Dan"]
    assert [row.title for row in candidates.candidates(office="mayor", sort="name").items] == [
        "Cat",
        "Dan",
    ]


def test_each_candidate_names_the_signed_entry_it_was_read_from(results):
    cat = candidates.candidates(office="mayor", outcome="won").items[0]

    assert cat.entry.activity_id == results["cat"]["id"]
    assert cat.entry.seq == results["cat"]["seq"] == 6
    assert cat.entry.hash.startswith("sha256:")
    assert cat.entry.group == "http://127.0.0.2/actor"


def test_the_candidates_page_links_every_figure_to_its_evidence(client, results):
    html = client.get("/network/candidates").get_data(as_text=True)

    assert "50%" in html
    assert 'href="/network/candidates/evidence?outcome=won&amp;office=council_ward"' in html
    assert 'href="/network/candidates/evidence?outcome=decided"' in html
    assert "Elected with 2,345 votes" in html


def test_the_evidence_page_lists_the_entries_behind_a_figure(client, results):
    decided = client.get("/network/candidates/evidence?office=council_ward&outcome=decided")
    html = decided.get_data(as_text=True)

    assert decided.status_code == 200
    assert results["ann"]["id"] in html and results["bob"]["id"] in html
    assert f"seq {results['ann']['seq']}" in html
    assert results["dan"]["id"] not in html and results["fay"]["id"] not in html

    won = client.get("/network/candidates/evidence?outcome=won").get_data(as_text=True)
    assert results["ann"]["id"] in won and results["cat"]["id"] in won
    assert results["bob"]["id"] not in won


def test_the_api_win_rates_link_to_the_candidates_they_count(client, results):
    body = client.get("/api/v1/network/candidates").get_json()

    overall = body["win_rates"]["overall"]
    assert (overall["won"], overall["decided"], overall["rate"]) == (2, 4, 0.5)
    mayor = next(rate for rate in body["win_rates"]["by_office"] if rate["office"] == "mayor")
    evidence = client.get(mayor["evidence"]).get_json()
    assert [item["title"] for item in evidence["items"]] == ["Cat"]
    assert evidence["items"][0]["entry"]["seq"] == 6
    assert evidence["items"][0]["outcome"] == "won"
    assert client.get(mayor["evidence_page"]).status_code == 200

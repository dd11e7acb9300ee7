"""Organisers download the members list as CSV; a cell a spreadsheet would run is quoted."""

from __future__ import annotations

import csv
import io

from node.services.membership.roster_csv import spreadsheet_cell
from tests import factories
from tests.conftest import log_in


def _rows(answer) -> list[list[str]]:
    return list(csv.reader(io.StringIO(answer.get_data(as_text=True))))


def test_an_organiser_downloads_every_member_as_csv(client, organiser):
    factories.member(email="nia@example.org", display_name="Nia Jones", password_hash=None)
    log_in(client, organiser)

    answer = client.get("/manage/members/export.csv")

    assert answer.status_code == 200
    assert answer.mimetype == "text/csv"
    assert "attachment" in answer.headers["Content-Disposition"]
    assert "no-store" in answer.headers["Cache-Control"]
    rows = _rows(answer)
    assert rows[0] == ["name", "email", "role", "status", "joined", "account"]
    by_email = {row[1]: row for row in rows[1:]}
    assert by_email["nia@example.org"][:4] == ["Nia Jones", "nia@example.org", "member", "active"]
    assert by_email["nia@example.org"][5] == "invited"
    assert by_email[organiser.email][2:4] == ["organiser", "active"]
    assert by_email[organiser.email][5] == "joined"


def test_cells_a_spreadsheet_would_run_as_formulas_are_quoted(client, organiser):
    for n, start in enumerate(("=", "+", "-", "@")):
        factories.member(email=f"f{n}@example.org", display_name=f"{start}SUM(A1:A9)")
    log_in(client, organiser)

    names = [row[0] for row in _rows(client.get("/manage/members/export.csv"))[1:]]

    for start in ("=", "+", "-", "@"):
        assert f"'{start}SUM(A1:A9)" in names
    assert not any(name.startswith(("=", "+", "-", "@")) for name in names)


def test_a_cell_starting_with_a_tab_is_quoted_and_plain_text_is_left_alone():
    assert spreadsheet_cell("\t=1") == "'\t=1"
    assert spreadsheet_cell("Robin") == "Robin"
    assert spreadsheet_cell("") == ""


def test_the_export_follows_the_role_filter_of_the_list(client, organiser):
    factories.member(email="nia@example.org")
    log_in(client, organiser)

    rows = _rows(client.get("/manage/members/export.csv?role=organiser"))

    assert [row[1] for row in rows[1:]] == [organiser.email]


def test_the_members_page_links_to_the_download(client, organiser):
    log_in(client, organiser)

    page = client.get("/manage/members/?role=member").get_data(as_text=True)

    assert "/manage/members/export.csv?role=member" in page
    assert "personal data" in page


def test_a_member_cannot_download_the_list(client, member):
    log_in(client, member)

    assert client.get("/manage/members/export.csv").status_code == 403


def test_a_visitor_is_sent_to_log_in(client, group):
    answer = client.get("/manage/members/export.csv")

    assert answer.status_code == 302 and "/login" in answer.headers["Location"]

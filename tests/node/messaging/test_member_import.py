"""CSV import of a member list: preview, confirm, a report per row, every bad-row case,
good rows invited by mail (real SMTP) and nothing half-written; the CLI prints the same."""

from __future__ import annotations

import html as html_module
import io
import re

import pytest
from click.testing import CliRunner
from flask.cli import ScriptInfo
from sqlalchemy import func, select

from node.cli import members as members_cli
from node.extensions import db
from node.models import Invite, OutboundMail
from node.services import mail
from node.services.errors import Invalid
from node.services.membership import imports, invitations
from tests import factories
from tests.conftest import log_in, post_form
from tests.node.mail_support import smtp_settings

EVERY_CASE = (
    "\ufeffName;E-mail;Role\n"  # a BOM, semicolons, and a header a spreadsheet wrote
    "Rosa Park;rosa@example.org;member\n"
    "\n"
    "Already Here;member@example.org;member\n"
    "Waiting;waiting@example.org;\n"
    "Rosa Again;ROSA@example.org;member\n"
    "Typo;not-an-address;member\n"
    "Chief;chief@example.org;boss\n"
    "Boss;boss@example.org;admin\n"
    ";sam@example.org;member\n"
)


@pytest.fixture
def app_config(app_config, mailbox):
    return smtp_settings(app_config, mailbox)


@pytest.fixture
def as_organiser(client, organiser):
    log_in(client, organiser)
    return client


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def _upload(client, content: str | bytes, name: str = "members.csv"):
    data = content.encode() if isinstance(content, str) else content
    return post_form(
        client,
        "/manage/members/import",
        {"file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def _rows(html: str) -> list[list[str]]:
    body = html.split('class="import-report"', 1)[1].split("</table>", 1)[0]
    return [
        [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td>(.*?)</td>", row)]
        for row in re.findall(r"<tr class=\"outcome-[a-z_]+\">(.*?)</tr>", body, re.S)
    ]


@pytest.fixture
def listed(member, organiser):
    invitations.invite(organiser, email="waiting@example.org")
    return member


def test_the_preview_says_what_every_row_will_do_and_writes_nothing(as_organiser, listed):
    before = _count(Invite), _count(OutboundMail)
    response = _upload(as_organiser, EVERY_CASE.replace("E-mail", "email"))
    assert response.status_code == 200
    assert (_count(Invite), _count(OutboundMail)) == before
    rows = _rows(response.get_data(as_text=True))
    assert [(r[0], r[2], r[4]) for r in rows] == [
        ("2", "rosa@example.org", "will be invited"),
        ("4", "member@example.org", "already a member"),
        ("5", "waiting@example.org", "already invited (pending)"),
        ("6", "rosa@example.org", "duplicate in file (as row 2)"),
        ("7", "not-an-address", "bad e-mail"),
        ("8", "chief@example.org", "unknown role (use one of: member, organiser, admin)"),
        ("9", "boss@example.org", "role not allowed (organisers may import members only)"),
        ("10", "sam@example.org", "will be invited"),
    ]


def test_confirming_invites_the_good_rows_by_mail_and_reports_each(as_organiser, listed, mailbox):
    preview = _upload(as_organiser, EVERY_CASE.replace("E-mail", "email"))
    text = re.search(r'name="csv" value="([^"]*)"', preview.get_data(as_text=True), re.S)
    assert text is not None
    mailed_before = _count(OutboundMail)

    response = post_form(
        as_organiser,
        "/manage/members/import/confirm",
        {"csv": html_module.unescape(text.group(1))},  # as the browser sends the hidden field
        page="/manage/members/import",
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Invited 2 of 8 rows" in html
    outcomes = {r[0]: r[4] for r in _rows(html)}
    assert outcomes["2"] == "invited" and outcomes["10"] == "invited"
    assert outcomes["7"] == "bad e-mail"
    assert _count(OutboundMail) == mailed_before + 2

    mail.send_due(limit=100)
    to = sorted(address for _, [address], _ in mailbox.received)
    assert "rosa@example.org" in to and "sam@example.org" in to
    assert "boss@example.org" not in to and "chief@example.org" not in to
    rosa = db.session.scalar(select(Invite).where(Invite.email == "rosa@example.org"))
    assert rosa.role == "member" and rosa.display_name == "Rosa Park"

    # The rows to fix come back as a CSV to upload again.
    fix = re.search(r'<pre class="rejected-csv">(.*?)</pre>', html, re.S).group(1)
    assert fix.splitlines()[0] == "name,email,role,problem"
    assert len(fix.strip().splitlines()) == 4  # bad e-mail, unknown role, role not allowed
    download = post_form(
        as_organiser,
        "/manage/members/import/rejected.csv",
        {"csv": "name,email,role,problem\nTypo,not-an-address,member,bad e-mail\n"},
        page="/manage/members/import",
    )
    assert download.mimetype == "text/csv"
    assert "attachment" in download.headers["Content-Disposition"]


def test_an_admin_may_import_any_role(client, admin, mailbox):
    log_in(client, admin)
    text = "name,email,role\nOlu,olu@example.org,organiser\nAda,ada@example.org,admin\n"
    response = post_form(
        client, "/manage/members/import/confirm", {"csv": text}, page="/manage/members/import"
    )
    assert "Invited 2 of 2 rows" in response.get_data(as_text=True)
    roles = dict(db.session.execute(select(Invite.email, Invite.role)).all())
    assert roles == {"olu@example.org": "organiser", "ada@example.org": "admin"}


def test_a_row_that_fails_to_save_loses_nothing_else(app, organiser, monkeypatch):
    real = imports.add_invite

    def flaky(actor, role, email, name=""):
        real(actor, role, email, name)
        if email == "two@example.org":
            db.session.execute(select(func.nosuchfunction()))  # fails inside the savepoint
        return "x"

    monkeypatch.setattr(imports, "add_invite", flaky)
    text = "name,email,role\nOne,one@example.org,\nTwo,two@example.org,\nThree,three@example.org,\n"
    report = imports.run(text, organiser)
    assert [row.outcome for row in report.rows] == ["invited", "not_saved", "invited"]
    db.session.expire_all()
    assert sorted(db.session.scalars(select(Invite.email))) == [
        "one@example.org",
        "three@example.org",
    ]
    assert sorted(db.session.scalars(select(OutboundMail.to_address))) == [
        "one@example.org",
        "three@example.org",
    ]  # the failed row's mail went with its invitation


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", "empty"),
        (b"name,role\nx,member\n", "missing: email"),
        (b"name,email,role\n", "no rows"),
        (b"name,email,role\n\xff\xfe,x@example.org,member\n", "UTF-8"),
        (b"name,email,role\n" + b"a,b@example.org,member\n" * 20000, "too big"),
    ],
)
def test_a_file_that_cannot_be_read_is_a_400_naming_the_file(as_organiser, content, problem):
    response = _upload(as_organiser, content)
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert 'id="f-file-error"' in html and problem in html
    assert _count(Invite) == 0


def test_too_many_rows_are_refused(organiser):
    text = "name,email,role\n" + "".join(
        f"P{n},p{n}@example.org,member\n" for n in range(imports.MAX_ROWS + 1)
    )
    with pytest.raises(Invalid) as refused:
        imports.check(text, organiser)
    assert "file" in refused.value.fields


def test_no_file_is_a_400(as_organiser):
    response = post_form(as_organiser, "/manage/members/import", {})
    assert response.status_code == 400 and 'id="f-file-error"' in response.get_data(as_text=True)


def test_a_spreadsheet_formula_is_not_handed_back_as_one(organiser):
    report = imports.check("name,email,role\n=cmd(),bad,member\n", organiser)
    assert "'=cmd()" in imports.rejected_csv(report.fixable)


def test_members_cannot_import(client, member):
    log_in(client, member)
    assert client.get("/manage/members/import").status_code == 403


def test_the_command_line_import_prints_the_report(app, tmp_path, member, mailbox):
    source = tmp_path / "list.csv"
    source.write_text(
        "name,email,role\nKim,kim@example.org,organiser\nBad,nope,member\n"
        f"Here,{member.email},member\n"
    )
    rejected = tmp_path / "fix.csv"
    result = CliRunner().invoke(
        members_cli.member,
        ["import", str(source), "--rejected", str(rejected)],
        obj=ScriptInfo(create_app=lambda: app),
    )
    assert result.exit_code == 0, result.output
    assert "2\tkim@example.org\tinvited" in result.output
    assert "3\tnope\tbad e-mail" in result.output
    assert f"4\t{member.email}\talready a member" in result.output
    assert "1 of 3 row(s) invited" in result.output
    assert rejected.read_text().splitlines()[1].startswith("Bad,nope,member")
    db.session.expire_all()
    assert db.session.scalar(select(Invite.role).where(Invite.email == "kim@example.org")) == (
        "organiser"  # the command line is the operator's: any role
    )


def test_the_command_line_dry_run_writes_nothing(app, tmp_path, organiser):
    source = tmp_path / "list.csv"
    source.write_text("name,email,role\nKim,kim@example.org,member\n")
    result = CliRunner().invoke(
        members_cli.member,
        ["import", str(source), "--dry-run"],
        obj=ScriptInfo(create_app=lambda: app),
    )
    assert result.exit_code == 0 and "will be invited" in result.output
    assert _count(Invite) == 0


def test_an_existing_member_gets_no_second_invitation(organiser):
    factories.member(email="old@example.org")
    report = imports.run("name,email,role\nOld,old@example.org,member\n", organiser)
    assert report.rows[0].outcome == "member" and _count(Invite) == 0

"""The Blocked page: admins add, remove, import and export blocks; nobody else may."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from node.extensions import db
from node.models import Block
from node.services.peering import blocking, blocks
from tests.conftest import csrf_token, log_in, post_form
from tests.node.peering.test_blocks_csv_cli import MASTODON_EXPORT

PAGE = "/manage/blocks/"


def test_an_admin_blocks_a_domain_from_the_page(client, admin):
    log_in(client, admin)
    response = post_form(
        client,
        PAGE,
        {"target": "Spam.Example", "public_comment": "spam", "private_comment": "ticket 7"},
    )
    assert response.status_code == 302
    html = client.get(PAGE).get_data(as_text=True)
    assert "Blocked spam.example" in html  # the flash message
    assert "spam.example" in html and "ticket 7" in html and admin.email in html
    row = db.session.scalar(select(Block))
    assert row.created_by_id == admin.id and row.private_comment == "ticket 7"


def test_a_bad_target_is_a_400_naming_the_field(client, admin):
    log_in(client, admin)
    for typed in ("", "acct:bob@spam.example", "x" * 2001):
        response = post_form(client, PAGE, {"target": typed})
        assert response.status_code == 400
        assert 'href="#f-target"' in response.get_data(as_text=True)
    assert db.session.scalar(select(Block)) is None


def test_blocking_twice_is_a_409_on_the_page(client, admin):
    blocking.block("spam.example")
    log_in(client, admin)
    response = post_form(client, PAGE, {"target": "spam.example"})
    assert response.status_code == 409 and "blocked already" in response.get_data(as_text=True)


def test_an_admin_unblocks(client, admin):
    severed = blocking.block("spam.example")
    log_in(client, admin)
    response = post_form(client, f"{PAGE}{severed.block.id}/remove", page=PAGE)
    assert response.status_code == 302
    assert not blocks.is_blocked("https://spam.example/actor")


def test_import_and_export_on_the_page(client, admin):
    log_in(client, admin)
    token = csrf_token(client, PAGE)
    upload = (io.BytesIO(MASTODON_EXPORT.encode("utf-8")), "domain_blocks.csv")
    response = client.post(
        f"{PAGE}import",
        data={"csrf_token": token, "file": upload},
        content_type="multipart/form-data",
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "3 blocked, 0 blocked already, 2 skipped" in html
    assert "Row 4 loud.example: severity silence" in html

    exported = client.get(f"{PAGE}export.csv")
    assert exported.status_code == 200 and exported.mimetype == "text/csv"
    assert "attachment" in exported.headers["Content-Disposition"]
    assert exported.get_data(as_text=True) == blocking.export_csv()
    assert "\nspam.example,suspend," in exported.get_data(as_text=True)


def test_import_refuses_a_missing_or_unreadable_file(client, admin):
    log_in(client, admin)
    token = csrf_token(client, PAGE)
    missing = client.post(f"{PAGE}import", data={"csrf_token": token})
    bad = client.post(
        f"{PAGE}import",
        data={"csrf_token": token, "file": (io.BytesIO(b"\xff\xfe\x00x"), "x.csv")},
        content_type="multipart/form-data",
    )
    assert missing.status_code == 400 and bad.status_code == 400
    assert "not UTF-8" in bad.get_data(as_text=True)


def test_forms_need_the_csrf_token(client, admin):
    log_in(client, admin)
    assert client.post(PAGE, data={"target": "spam.example"}).status_code == 400
    assert db.session.scalar(select(Block)) is None


@pytest.mark.parametrize("role", ["member", "organiser"])
def test_only_admins_may_see_or_change_blocks(client, role, request):
    who = request.getfixturevalue(role)
    log_in(client, who)
    assert client.get(PAGE).status_code == 403
    assert client.get(f"{PAGE}export.csv").status_code == 403
    token = csrf_token(client, "/account")
    assert client.post(PAGE, data={"csrf_token": token, "target": "x.example"}).status_code == 403
    assert db.session.scalar(select(Block)) is None
    assert "/manage/blocks" not in client.get("/manage/").get_data(as_text=True)


def test_the_manage_menu_shows_blocked_to_admins(client, admin):
    log_in(client, admin)
    assert 'href="/manage/blocks/"' in client.get("/manage/").get_data(as_text=True)

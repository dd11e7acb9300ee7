"""Organisers edit the group profile and upload its logo."""

from __future__ import annotations

import io
import struct
import zlib

import pytest

from node.extensions import db
from node.services import profile
from tests.conftest import csrf_token, log_in, post_form

PROFILE = {
    "name": "Leeds North Momentum",
    "summary": "We organise in **Leeds North East**.",
    "area": "Leeds",
    "seat_name": "Leeds North East",
    "seat_majority": "17089",
    "seat_marginality": "32.5",
    "latitude": "53.83",
    "longitude": "-1.52",
    "contact_email": "hello@example.org",
    "website": "https://example.org",
    "timezone": "Europe/London",
    "follow_approval": "1",
}


def tiny_png() -> bytes:
    """Return a valid 1x1 PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xb3\x12\x3b")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


@pytest.fixture
def as_organiser(client, organiser):
    log_in(client, organiser)
    return client


def upload(client, content: bytes, filename: str):
    token = csrf_token(client, "/manage/group")
    return client.post(
        "/manage/group/logo",
        data={"csrf_token": token, "logo": (io.BytesIO(content), filename)},
        content_type="multipart/form-data",
    )


def test_organiser_edits_the_group_profile(as_organiser, group):
    response = post_form(as_organiser, "/manage/group", PROFILE)

    assert response.status_code == 302
    db.session.refresh(group)
    assert group.seat_majority == 17089
    assert group.seat_marginality == 32.5
    assert (group.latitude, group.longitude) == (53.83, -1.52)
    assert group.contact_email == "hello@example.org"
    assert group.follow_approval is True


def test_unticked_box_turns_follow_approval_off_and_blanks_clear_fields(as_organiser, group):
    group.follow_approval, group.website = True, "https://old.example.org"
    db.session.commit()
    form = {**PROFILE, "website": "", "seat_majority": ""}
    del form["follow_approval"]

    post_form(as_organiser, "/manage/group", form)

    db.session.refresh(group)
    assert group.follow_approval is False
    assert group.website == ""
    assert group.seat_majority is None


def test_form_shows_the_stored_profile(as_organiser, group):
    group.seat_majority = 5000
    db.session.commit()
    html = as_organiser.get("/manage/group").get_data(as_text=True)
    assert 'value="5000"' in html
    assert 'value="Europe/London"' in html
    assert 'enctype="multipart/form-data"' in html


@pytest.mark.parametrize(
    "bad",
    [
        {"seat_marginality": "150"},
        {"latitude": "53.8", "longitude": ""},
        {"timezone": "Mars/Olympus_Mons"},
        {"contact_email": "nobody"},
        {"name": ""},
    ],
)
def test_bad_profile_is_refused_and_nothing_changes(as_organiser, group, bad):
    before = (group.name, group.seat_marginality, group.latitude, group.timezone)

    response = post_form(as_organiser, "/manage/group", {**PROFILE, **bad})

    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "There is a problem" in html
    db.session.refresh(group)
    assert (group.name, group.seat_marginality, group.latitude, group.timezone) == before


def test_png_logo_is_stored(as_organiser, group):
    response = upload(as_organiser, tiny_png(), "logo.png")

    assert response.status_code == 302
    db.session.refresh(group)
    assert group.logo_filename.endswith(".png")
    assert (profile.logo_folder() / group.logo_filename).read_bytes() == tiny_png()
    assert f"/logo?v={group.logo_filename}" in as_organiser.get("/manage/group").get_data(
        as_text=True
    )


@pytest.mark.parametrize(
    ("content", "filename"),
    [
        (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "logo.svg"),
        (b"just some text\n", "logo.png"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * (512 * 1024), "huge.png"),
    ],
    ids=["svg", "text", "too-big"],
)
def test_other_files_are_refused_as_logos(as_organiser, group, content, filename):
    response = upload(as_organiser, content, filename)

    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert 'id="f-logo-error"' in html
    db.session.refresh(group)
    assert group.logo_filename is None


def test_logo_form_without_a_file_is_a_400(as_organiser, group):
    response = post_form(as_organiser, "/manage/group/logo", {}, page="/manage/group")
    assert response.status_code == 400
    assert "Choose an image file." in response.get_data(as_text=True)

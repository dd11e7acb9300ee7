"""Uploaded pictures: Pillow re-encoding, what is refused, /uploads headers, who may upload."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import ExifTags, Image
from sqlalchemy import func, select

from node import text
from node.activitypub.documents import object_document
from node.extensions import db
from node.models import Event, Picture
from node.services import pictures
from node.services.errors import Invalid
from node.services.messaging import outbox
from node.text import PICTURE_REFUSED, markdown_to_plain_text, render_markdown
from tests import factories
from tests.conftest import csrf_token, log_in

OWN = "/uploads/0123456789abcdef0123456789abcdef.png"


def picture_bytes(fmt: str = "PNG", size: tuple[int, int] = (40, 20), **save) -> bytes:
    """Return a generated picture in ``fmt``: left half red, right half blue."""
    image = Image.new("RGB", size, (200, 0, 0))
    image.paste((0, 0, 200), (size[0] // 2, 0, size[0], size[1]))
    out = io.BytesIO()
    image.save(out, fmt, **save)
    return out.getvalue()


def jpeg_with_gps_and_orientation() -> bytes:
    """Return a 40x20 JPEG whose EXIF says where it was taken and to turn it a quarter."""
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6  # shown turned 90° clockwise
    exif[ExifTags.Base.Make] = "PhoneCo"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (53.0, 49.0, 12.0)
    gps[ExifTags.GPS.GPSLongitudeRef] = "W"
    gps[ExifTags.GPS.GPSLongitude] = (1.0, 31.0, 30.0)
    return picture_bytes("JPEG", exif=exif.tobytes())


def png_claiming(width: int, height: int) -> bytes:
    """Return a small PNG whose header claims ``width`` x ``height`` pixels (a bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00" * 4096)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def opened(content: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(content))
    image.load()
    return image


# Re-encoding -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "written", "media_type"),
    [
        ("JPEG", "JPEG", "image/jpeg"),
        ("PNG", "PNG", "image/png"),
        ("WEBP", "WEBP", "image/webp"),
        ("GIF", "PNG", "image/png"),
    ],
)
def test_each_accepted_format_is_reencoded(fmt, written, media_type):
    encoded = pictures.reencode(picture_bytes(fmt), max_width=1600, max_pixels=10_000)
    assert encoded.media_type == media_type
    image = opened(encoded.content)
    assert image.format == written
    assert image.size == (40, 20)
    left = image.convert("RGB").getpixel((5, 10))
    assert left[0] > 150 and left[2] < 60  # still red on the left


def test_a_phones_multi_picture_jpeg_is_taken_as_a_jpeg():
    first = Image.new("RGB", (30, 20), (200, 0, 0))
    out = io.BytesIO()
    first.save(out, "MPO", save_all=True, append_images=[Image.new("RGB", (30, 20))])
    assert Image.open(io.BytesIO(out.getvalue())).format == "MPO"  # as Pillow reads it
    encoded = pictures.reencode(out.getvalue(), max_width=1600, max_pixels=10_000)
    assert encoded.media_type == "image/jpeg"
    assert opened(encoded.content).format == "JPEG"


@pytest.mark.parametrize(
    ("mode", "fmt", "written_mode"),
    [("CMYK", "JPEG", "RGB"), ("P", "PNG", "RGBA"), ("I;16", "PNG", "RGB"), ("LA", "PNG", "LA")],
)
def test_unusual_colour_modes_are_written_in_a_plain_one(mode, fmt, written_mode):
    image = Image.new(mode, (1000, 10))
    save = {"transparency": 0} if mode == "P" else {}
    out = io.BytesIO()
    image.save(out, fmt, **save)
    encoded = pictures.reencode(out.getvalue(), max_width=500, max_pixels=10**6)
    assert opened(encoded.content).mode == written_mode
    assert opened(encoded.content).size == (500, 5)


def test_a_gif_keeps_its_first_frame():
    frames = [Image.new("RGB", (10, 10), colour) for colour in ((0, 200, 0), (200, 0, 0))]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    encoded = pictures.reencode(out.getvalue(), max_width=1600, max_pixels=10_000)
    first = opened(encoded.content).convert("RGB").getpixel((5, 5))
    assert first[1] > 150 and first[0] < 60


def test_exif_is_removed_but_the_orientation_is_applied():
    upload = jpeg_with_gps_and_orientation()
    assert ExifTags.IFD.GPSInfo in Image.open(io.BytesIO(upload)).getexif()  # the test's own check
    encoded = pictures.reencode(upload, max_width=1600, max_pixels=10_000)
    for content in (encoded.content, encoded.thumbnail):
        image = opened(content)
        assert not image.getexif()
        assert b"Exif" not in content and b"PhoneCo" not in content
    assert opened(encoded.content).size == (20, 40)  # turned upright, as the phone showed it


def test_wide_pictures_are_shrunk_and_get_a_thumbnail():
    encoded = pictures.reencode(picture_bytes("PNG", (2000, 500)), max_width=1600, max_pixels=10**7)
    assert opened(encoded.content).size == (1600, 400)
    assert (encoded.width, encoded.height) == (1600, 400)
    assert opened(encoded.thumbnail).size == (pictures.THUMBNAIL_WIDTH, 100)


def test_a_decompression_bomb_is_refused_before_decoding():
    bomb = png_claiming(50_000, 50_000)
    assert len(bomb) < 1000
    with pytest.raises(Invalid) as refused:
        pictures.reencode(bomb, max_width=1600, max_pixels=40_000_000)
    assert refused.value.fields == {"image": ["This picture has too many pixels to be shown here."]}


@pytest.mark.parametrize(
    "content",
    [
        b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>',
        b"not a picture at all",
        picture_bytes("BMP"),
        picture_bytes("TIFF"),
        picture_bytes("PNG")[:60],  # cut short
    ],
    ids=["svg", "svg-xml", "text", "bmp", "tiff", "truncated"],
)
def test_anything_but_jpeg_png_webp_or_gif_is_refused(content):
    with pytest.raises(Invalid) as refused:
        pictures.reencode(content, max_width=1600, max_pixels=10_000)
    assert refused.value.fields == {"image": [pictures.UNREADABLE]}


# Storing and serving ---------------------------------------------------------------------


def test_store_names_the_file_by_its_hash_and_keeps_one_copy(app, organiser):
    first = pictures.store(picture_bytes("PNG"), organiser)
    again = pictures.store(picture_bytes("PNG"), organiser)
    assert again.id == first.id
    assert pictures.NAME.match(first.name) and first.name.endswith(".png")
    assert (pictures.folder() / first.name).is_file()
    assert (pictures.folder() / pictures.thumbnail_name(first.name)).is_file()
    assert db.session.scalar(select(func.count()).select_from(Picture)) == 1
    assert first.uploaded_by_id == organiser.id


def test_store_refuses_a_file_over_the_size_limit(app, organiser):
    app.config["PICTURE_MAX_BYTES"] = 1024 * 1024
    with pytest.raises(Invalid) as refused:
        pictures.store(b"\xff\xd8\xff" + b"\x00" * (1024 * 1024), organiser)
    assert refused.value.fields == {"image": ["The picture must be at most 1 MiB."]}
    assert not pictures.folder().exists() or not any(pictures.folder().iterdir())


def test_uploads_are_served_with_their_type_and_long_lived_headers(app, client, organiser):
    stored = pictures.store(picture_bytes("JPEG"), organiser)
    for name in (stored.name, pictures.thumbnail_name(stored.name)):
        response = client.get(f"/uploads/{name}")
        assert response.status_code == 200
        assert response.mimetype == "image/jpeg"
        assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Content-Disposition"] == "inline"
        assert "sandbox" in response.headers["Content-Security-Policy"]
        assert opened(response.data).format == "JPEG"
    etag = client.get(f"/uploads/{stored.name}").headers["ETag"]
    assert client.get(f"/uploads/{stored.name}", headers={"If-None-Match": etag}).status_code == 304


@pytest.mark.parametrize(
    "name",
    [
        "0123456789abcdef0123456789abcdef.png",  # well formed, never uploaded
        "0123456789abcdef0123456789abcdef.svg",
        "logo-0123456789abcdef.png",
        "..%2Fnode.sqlite3",
        "0123456789ABCDEF0123456789ABCDEF.png",
    ],
)
def test_nothing_else_is_served_from_uploads(client, name):
    assert client.get(f"/uploads/{name}").status_code == 404


# Markdown ----------------------------------------------------------------------------------


def test_markdown_shows_the_nodes_own_pictures_with_their_alt_text():
    html = str(render_markdown(f'![The "stall" at the market]({OWN})'))
    assert f'<img src="{OWN}" alt="The &quot;stall&quot; at the market" loading="lazy">' in html
    assert PICTURE_REFUSED not in html


def test_markdown_gives_own_pictures_a_full_address_when_read_elsewhere():
    html = str(render_markdown(f"![Stall]({OWN})", "https://leeds.example"))
    assert f'src="https://leeds.example{OWN}"' in html
    pasted_whole = str(
        render_markdown(f"![Stall](https://leeds.example{OWN})", "https://leeds.example")
    )
    assert f'src="https://leeds.example{OWN}"' in pasted_whole


@pytest.mark.parametrize(
    "source",
    [
        "![tracker](https://elsewhere.example/pixel.png)",
        "![](http://elsewhere.example/a.jpg)",
        f"![other node](https://other.example{OWN})",
        '<img src="https://elsewhere.example/a.png" onerror="alert(1)">',
        "![x](javascript:alert(1))",
        "![x](/uploads/0123456789abcdef0123456789abcdef-t.png/../../secret)",
        "![x](data:image/png;base64,iVBORw0KGgo=)",
    ],
)
def test_markdown_replaces_any_other_picture_with_a_visible_note(source):
    html = str(render_markdown(f"Before {source} after"))
    assert "<img" not in html
    assert "onerror" not in html and "elsewhere" not in html
    assert f'<span class="picture-refused">{PICTURE_REFUSED}</span>' in html
    assert "Before" in html and "after" in html


def test_plain_text_names_a_picture_and_keeps_the_note():
    text = markdown_to_plain_text(f"Look: ![Our stall]({OWN}) and ![x](https://e.example/x.png)")
    assert text == f"Look: [Picture: Our stall] and {PICTURE_REFUSED}"


# Federation ----------------------------------------------------------------------------------


def test_an_events_picture_is_federated_as_an_image_with_its_alt_text(app, group):
    event = factories.event(
        image="0123456789abcdef0123456789abcdef.webp",
        image_alt="Volunteers at the stall",
        description=f"See ![the map]({OWN})",
    )
    document = object_document(group, event)
    image = {
        "type": "Image",
        "url": f"{group.base_url}/uploads/0123456789abcdef0123456789abcdef.webp",
        "mediaType": "image/webp",
        "name": "Volunteers at the stall",
    }
    assert document["image"] == image
    assert document["attachment"] == [image]
    assert f'src="{group.base_url}{OWN}"' in document["content"]


def test_items_without_a_picture_federate_no_image(app, group):
    assert "image" not in object_document(group, factories.event())
    assert "attachment" not in object_document(group, factories.post())


# Organisers upload ---------------------------------------------------------------------------


def upload_on_pictures_page(client, content: bytes, alt: str = "Our stall", filename="a.png"):
    token = csrf_token(client, "/manage/pictures/")
    return client.post(
        "/manage/pictures/",
        data={"csrf_token": token, "image_alt": alt, "image": (io.BytesIO(content), filename)},
        content_type="multipart/form-data",
    )


def test_organiser_uploads_a_picture_and_gets_markdown_to_paste(client, organiser):
    log_in(client, organiser)
    response = upload_on_pictures_page(client, picture_bytes("PNG"))
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    stored = db.session.scalars(select(Picture)).one()
    assert f'value="![Our stall](/uploads/{stored.name})"' in page


def test_pictures_page_refuses_an_svg_and_a_missing_alt_in_the_form(client, organiser):
    log_in(client, organiser)
    svg = upload_on_pictures_page(client, b"<svg xmlns='http://www.w3.org/2000/svg'/>", "Logo")
    assert svg.status_code == 400
    assert pictures.UNREADABLE in svg.get_data(as_text=True)
    no_alt = upload_on_pictures_page(client, picture_bytes("PNG"), alt="")
    assert no_alt.status_code == 400
    assert "Describe the picture for people who cannot see it." in no_alt.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Picture)) == 0


def test_members_cannot_upload(client, member):
    log_in(client, member)
    assert client.get("/manage/pictures/").status_code == 403
    token = csrf_token(client, "/account")  # a good token: the role alone refuses
    response = client.post(
        "/manage/pictures/",
        data={
            "csrf_token": token,
            "image_alt": "x",
            "image": (io.BytesIO(picture_bytes()), "a.png"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 403
    assert db.session.scalar(select(func.count()).select_from(Picture)) == 0


def test_visitors_are_sent_to_log_in(client):
    assert client.get("/manage/pictures/").status_code == 302


def test_upload_without_the_csrf_token_is_refused(client, organiser):
    log_in(client, organiser)
    response = client.post(
        "/manage/pictures/",
        data={"image_alt": "x", "image": (io.BytesIO(picture_bytes()), "a.png")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    assert db.session.scalar(select(func.count()).select_from(Picture)) == 0


def test_a_phone_sized_photo_passes_the_larger_body_limit(client, organiser, app):
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024
    log_in(client, organiser)
    noisy = Image.effect_noise((600, 600), 100).convert("RGB")
    out = io.BytesIO()
    noisy.save(out, "PNG")
    assert len(out.getvalue()) > 64 * 1024
    assert upload_on_pictures_page(client, out.getvalue()).status_code == 302
    too_big = client.post("/login", data={"x": "y" * (65 * 1024)})
    assert too_big.status_code == 413  # other forms keep the ordinary limit


EVENT_FORM = {
    "title": "Market stall",
    "kind": "street_stall",
    "starts_at": "2031-07-05T10:00",
    "timezone": "Europe/London",
    "visibility": "public",
}


def post_event_form(client, path: str, data: dict, content: bytes | None = None):
    fields = {"csrf_token": csrf_token(client, path), **data}
    if content is not None:
        fields["image"] = (io.BytesIO(content), "stall.jpg")
    return client.post(path, data=fields, content_type="multipart/form-data")


def test_organiser_gives_an_event_a_picture_shown_on_its_page_and_in_the_list(client, organiser):
    log_in(client, organiser)
    form = {**EVENT_FORM, "image_alt": "Our stall on the market"}
    response = post_event_form(client, "/manage/events/new", form, jpeg_with_gps_and_orientation())
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    event = db.session.scalars(select(Event)).one()
    assert pictures.NAME.match(event.image) and event.image_alt == "Our stall on the market"
    page = client.get(f"/events/{event.id}").get_data(as_text=True)
    assert f'<img src="/uploads/{event.image}" alt="Our stall on the market">' in page
    listing = client.get("/events").get_data(as_text=True)
    assert f'src="/uploads/{pictures.thumbnail_name(event.image)}"' in listing


def test_a_picture_needs_its_alt_text_and_is_kept_while_the_form_is_corrected(client, organiser):
    log_in(client, organiser)
    refused = post_event_form(client, "/manage/events/new", EVENT_FORM, picture_bytes("JPEG"))
    assert refused.status_code == 400
    html = refused.get_data(as_text=True)
    assert "Describe the picture for people who cannot see it." in html
    assert db.session.scalar(select(func.count()).select_from(Event)) == 0
    kept = db.session.scalars(select(Picture)).one().name
    assert f'name="image_name" value="{kept}"' in html  # not chosen again
    again = post_event_form(
        client, "/manage/events/new", {**EVENT_FORM, "image_name": kept, "image_alt": "A stall"}
    )
    assert again.status_code == 302
    assert db.session.scalars(select(Event)).one().image == kept


def test_organiser_removes_an_events_picture(client, organiser):
    stored = pictures.store(picture_bytes("PNG"), organiser)
    event = factories.event(image=stored.name, image_alt="Old")
    log_in(client, organiser)
    path = f"/manage/events/{event.id}/edit"
    assert f'value="{stored.name}"' in client.get(path).get_data(as_text=True)
    form = {**EVENT_FORM, "image_name": stored.name, "image_alt": "Old", "image_remove": "1"}
    assert post_event_form(client, path, form).status_code == 302
    db.session.refresh(event)
    assert event.image is None and event.image_alt is None


def test_an_unknown_picture_name_in_the_form_is_ignored(client, organiser):
    log_in(client, organiser)
    form = {**EVENT_FORM, "image_name": "../../node.sqlite3", "image_alt": "x"}
    assert post_event_form(client, "/manage/events/new", form).status_code == 302
    assert db.session.scalars(select(Event)).one().image is None


def test_an_svg_on_the_event_form_is_refused_on_the_picture_field(client, organiser):
    log_in(client, organiser)
    form = {**EVENT_FORM, "image_alt": "x"}
    response = post_event_form(client, "/manage/events/new", form, b"<svg/>")
    assert response.status_code == 400
    assert 'href="#f-image">Picture: Upload a JPEG' in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Event)) == 0


def test_mail_and_the_news_feed_give_own_pictures_their_full_address(app, client, group):
    composed = outbox.compose("Stall", f"![Our stall]({OWN})")
    assert f'src="{group.base_url}{OWN}"' in str(composed.html)
    assert "[Picture: Our stall]" in composed.text
    factories.post(body=f"![Our stall]({OWN})")
    atom = client.get("/news.atom").get_data(as_text=True)
    assert f"{group.base_url}{OWN}" in atom


def test_the_same_text_is_rendered_once_and_a_changed_text_afresh(monkeypatch):
    calls = []
    real = text.md.markdown
    monkeypatch.setattr(text.md, "markdown", lambda *a, **k: calls.append(a) or real(*a, **k))
    source = f"Kept **{id(calls)}**"  # a text no other test renders
    first, again = text.render_markdown(source), text.render_markdown(source)
    changed = text.render_markdown(source + " and more")
    assert first == again and "<strong>" in first and "and more" in changed
    assert len(calls) == 2

"""Pictures organisers upload: checked, re-encoded with Pillow and stored by content hash.

Nothing an upload carries survives but its pixels: the file is decoded (JPEG, PNG, WebP or
the first frame of a GIF, nothing else), turned the way its EXIF orientation says, shrunk
to ``PICTURE_MAX_WIDTH`` and encoded afresh, so EXIF (with a phone's GPS position), XMP
and comments are gone. A thumbnail is made beside it. Names are the hash of what was
written, so a name never changes meaning and can be cached for ever.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

from flask import current_app
from flask_babel import gettext
from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy import select

from schemas.wording import N_

from ..config import ensure_private_dir, write_private_file
from ..extensions import db
from ..models import Member, Picture
from .errors import Invalid
from .organising.records import commit

# What Pillow may decode; anything else (SVG, TIFF, BMP, PSD, ...) is refused unread.
ACCEPTED = ("JPEG", "PNG", "WEBP", "GIF")
# Decoded format -> (format written, extension, media type). A GIF keeps its first frame, as PNG.
WRITTEN = {
    "JPEG": ("JPEG", "jpg", "image/jpeg"),
    "MPO": ("JPEG", "jpg", "image/jpeg"),  # a phone's JPEG with a second picture inside
    "PNG": ("PNG", "png", "image/png"),
    "WEBP": ("WEBP", "webp", "image/webp"),
    "GIF": ("PNG", "png", "image/png"),
}
MEDIA_TYPES = {extension: media for _, extension, media in WRITTEN.values()}
THUMBNAIL_WIDTH = 400
NAME = re.compile(r"^[0-9a-f]{32}(-t)?\.(jpg|png|webp)$")  # a picture or its thumbnail
PICTURE = re.compile(r"^[0-9a-f]{32}\.(jpg|png|webp)$")
UNREADABLE = N_("Upload a JPEG, PNG, WebP or GIF picture.")


@dataclass(frozen=True)
class Encoded:
    """A re-encoded picture and its thumbnail, ready to be written."""

    content: bytes
    thumbnail: bytes
    extension: str
    media_type: str
    width: int
    height: int


def _limit(name: str) -> int:
    return int(current_app.config[name])


def _decode(content: bytes, max_pixels: int) -> tuple[Image.Image, str]:
    """Open ``content`` as one of the accepted formats, refusing pictures too large to decode."""
    with warnings.catch_warnings():
        # Pillow warns (and past twice its limit, raises) on huge images: both are refusals.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            picture = Image.open(io.BytesIO(content), formats=ACCEPTED)
            # Checked before any pixel is decoded: a small file can claim a vast image.
            if picture.width * picture.height > max_pixels:
                raise Invalid.on(
                    "image", gettext("This picture has too many pixels to be shown here.")
                )
            source_format = picture.format or ""
            picture.seek(0)  # the first frame of an animated GIF or WebP
            picture.load()
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise Invalid.on(
                "image", gettext("This picture has too many pixels to be shown here.")
            ) from exc
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
            raise Invalid.on("image", gettext(UNREADABLE)) from exc
    if source_format not in WRITTEN:
        raise Invalid.on("image", gettext(UNREADABLE))
    return picture, source_format


def _workable(picture: Image.Image, target: str) -> Image.Image:
    """Return the picture in a mode ``target`` writes and resizing treats well (no palette)."""
    if picture.mode in ("RGB", "L") or (picture.mode in ("RGBA", "LA") and target != "JPEG"):
        return picture
    if target == "JPEG":
        return picture.convert("RGB")
    see_through = picture.mode in ("RGBA", "LA", "PA") or "transparency" in picture.info
    return picture.convert("RGBA" if see_through else "RGB")


def _encode(picture: Image.Image, target: str, icc: bytes | None) -> bytes:
    options: dict = {"icc_profile": icc} if icc else {}
    if target == "JPEG":
        options.update(quality=85, optimize=True, progressive=True)
    elif target == "WEBP":
        options.update(quality=85)
    else:
        options.update(optimize=True)
    out = io.BytesIO()
    # No exif= and no pnginfo=: the new file carries none of the upload's metadata.
    picture.save(out, target, **options)
    return out.getvalue()


def reencode(content: bytes, *, max_width: int, max_pixels: int) -> Encoded:
    """Decode an upload, apply its orientation, shrink it and encode it (and a thumbnail) afresh."""
    decoded, source_format = _decode(content, max_pixels)
    target, extension, media_type = WRITTEN[source_format]
    # The colour profile is kept (a phone's wide-gamut colours), unless the pixels leave CMYK.
    icc = decoded.info.get("icc_profile") if decoded.mode != "CMYK" else None
    upright = _workable(ImageOps.exif_transpose(decoded), target)
    main = _shrunk(upright, max_width)
    thumbnail = _shrunk(upright, min(THUMBNAIL_WIDTH, max_width))
    return Encoded(
        content=_encode(main, target, icc),
        thumbnail=_encode(thumbnail, target, icc),
        extension=extension,
        media_type=media_type,
        width=main.width,
        height=main.height,
    )


def _shrunk(picture: Image.Image, width: int) -> Image.Image:
    if picture.width <= width:
        return picture
    height = max(1, round(picture.height * width / picture.width))
    return picture.resize((width, height), Image.Resampling.LANCZOS)


def folder() -> Path:
    """Return the folder that holds uploaded pictures."""
    return Path(current_app.instance_path) / "uploads" / "pictures"


def thumbnail_name(name: str) -> str:
    """Return the file name of a picture's thumbnail."""
    stem, extension = name.rsplit(".", 1)
    return f"{stem}-t.{extension}"


def media_type_of(name: str) -> str:
    """Return the media type a stored picture was written as (its extension says)."""
    return MEDIA_TYPES[name.rsplit(".", 1)[-1]]


def _write(path: Path, content: bytes) -> None:
    # Written beside and then renamed: a full disk leaves no half picture under the real name.
    partial = path.with_name(f".{path.name}.partial")
    try:
        write_private_file(partial, content)
        os.replace(partial, path)
    except OSError:
        partial.unlink(missing_ok=True)
        raise


def store(content: bytes, uploader: Member | None) -> Picture:
    """Check and re-encode an upload, write it and its thumbnail, and record it."""
    if not content:
        raise Invalid.on("image", gettext("Choose a picture to upload."))
    limit = _limit("PICTURE_MAX_BYTES")
    if len(content) > limit:
        raise Invalid.on(
            "image",
            gettext(
                "The picture must be at most %(value)s MiB.",
                value=format(limit / (1024 * 1024), "g"),
            ),
        )
    encoded = reencode(
        content, max_width=_limit("PICTURE_MAX_WIDTH"), max_pixels=_limit("PICTURE_MAX_PIXELS")
    )
    name = f"{hashlib.sha256(encoded.content).hexdigest()[:32]}.{encoded.extension}"
    known = db.session.scalar(select(Picture).where(Picture.name == name))
    if known is not None:
        return known
    where = ensure_private_dir(folder())
    _write(where / thumbnail_name(name), encoded.thumbnail)
    _write(where / name, encoded.content)
    picture = Picture(
        name=name,
        media_type=encoded.media_type,
        width=encoded.width,
        height=encoded.height,
        byte_size=len(encoded.content),
        uploaded_by_id=uploader.id if uploader is not None else None,
    )
    db.session.add(picture)
    commit()
    return picture


def find(name: str | None) -> Picture | None:
    """Return the uploaded picture called ``name``, or None for anything else."""
    if not name or not PICTURE.match(name):
        return None
    return db.session.scalar(select(Picture).where(Picture.name == name))


def recent(limit: int = 50) -> list[Picture]:
    """Return the latest uploads, newest first."""
    return list(db.session.scalars(select(Picture).order_by(Picture.id.desc()).limit(limit)).all())

"""An item's uploaded picture as ActivityStreams terms (node/services/pictures.py stores it)."""

from __future__ import annotations

from typing import Any

# Uploaded pictures are named ``<hash>.<ext>``; the extension says how they were written.
PICTURE_MEDIA_TYPES = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp"}


def picture_terms(base_url: str, item: Any) -> dict[str, Any]:
    """Return an item's picture as an AS Image, both as ``image`` and as its ``attachment``."""
    name = getattr(item, "image", None)
    if not name:
        return {}
    image = {
        "type": "Image",
        "url": f"{base_url}/uploads/{name}",
        "mediaType": PICTURE_MEDIA_TYPES[name.rsplit(".", 1)[-1]],
    }
    if item.image_alt:
        image["name"] = item.image_alt
    return {"image": image, "attachment": [image]}

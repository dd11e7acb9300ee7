"""Markdown in, sanitised HTML out (or plain text, for calendar apps)."""

from __future__ import annotations

import functools
import re
from html.parser import HTMLParser

import markdown as md
import nh3
from markupsafe import Markup

ALLOWED_TAGS = {
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "code",
    "del",
    "em",
    "h2",
    "h3",
    "h4",
    "hr",
    "i",
    "li",
    "ol",
    "p",
    "pre",
    "strong",
    "table",
    "tbody",
    "td",
    "th",
    "thead",
    "tr",
    "ul",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "abbr": {"title"},
    "img": {"src", "alt", "title"},
    "td": {"align"},
    "th": {"align"},
}

# Markdown may show pictures uploaded to this node (services/pictures.py names them) and no
# other: an image from elsewhere would tell its host who reads the page, and when.
OWN_PICTURE = re.compile(r"/uploads/[0-9a-f]{32}\.(?:jpg|png|webp)")
PICTURE_REFUSED = "(image not shown: only pictures uploaded to this group are allowed)"
# nh3 writes every attribute double-quoted with any quote inside escaped, so this reads them.
_IMG_TAG = re.compile(r'<img((?:\s+[a-z-]+="[^"]*")*)\s*/?>')
_ATTRIBUTE = re.compile(r'([a-z-]+)="([^"]*)"')


def _own_picture(src: str, base_url: str) -> str | None:
    """Return the path of one of this node's uploaded pictures, or None for any other address."""
    if base_url and src.startswith(base_url.rstrip("/") + "/uploads/"):
        src = src[len(base_url.rstrip("/")) :]
    return src if OWN_PICTURE.fullmatch(src) else None


def _pictures(html: str, base_url: str) -> str:
    """Give each kept picture its full address; put a note where a picture was refused."""

    def replace(found: re.Match[str]) -> str:
        attributes = dict(_ATTRIBUTE.findall(found.group(1)))
        if "src" not in attributes:  # the sanitiser dropped an address from elsewhere
            return f'<span class="picture-refused">{PICTURE_REFUSED}</span>'
        alt = attributes.get("alt", "")
        return f'<img src="{base_url.rstrip("/")}{attributes["src"]}" alt="{alt}" loading="lazy">'

    return _IMG_TAG.sub(replace, html)


# Rendered text by its source: a page shows the same few bodies on view after view, and
# Markdown plus the sanitiser cost far more than a look-up. Longer texts are rendered each
# time, so the cache stays small (at most MARKDOWN_KEPT x LONGEST_KEPT characters).
MARKDOWN_KEPT = 512
LONGEST_KEPT = 20_000


def render_markdown(source: str | None, base_url: str = "") -> Markup:
    """Render Markdown and keep only safe tags; links get rel=nofollow noopener.

    Pictures are kept only from this node's uploads (addressed from ``base_url`` when it is
    given, for copies read elsewhere); any other picture becomes a visible note.
    """
    if not source:
        return Markup("")
    if len(source) > LONGEST_KEPT:
        return Markup(_rendered(source, base_url))  # noqa: S704 - sanitised by nh3 there
    return Markup(_kept_rendering(source, base_url))  # noqa: S704 - sanitised by nh3 there


@functools.lru_cache(maxsize=MARKDOWN_KEPT)
def _kept_rendering(source: str, base_url: str) -> str:
    return _rendered(source, base_url)


def _rendered(source: str, base_url: str) -> str:
    html = md.markdown(source, extensions=["tables", "sane_lists"], output_format="html")

    def keep(tag: str, attribute: str, value: str) -> str | None:
        if tag == "img" and attribute == "src":
            return _own_picture(value, base_url)
        return value

    clean = nh3.clean(
        html,
        tags=ALLOWED_TAGS | {"img"},
        attributes=ALLOWED_ATTRIBUTES,
        attribute_filter=keep,
        url_schemes={"http", "https", "mailto"},
        link_rel="nofollow noopener noreferrer",
    )
    return _pictures(clean, base_url)


# Closing these tags ends a paragraph; <br>, <hr> and table rows end a line.
_PARAGRAPH_ENDS = {"p", "h2", "h3", "h4", "blockquote", "pre", "table", "ul", "ol"}
_LINE_ENDS = {"br", "hr"}
_BLANK_LINES = re.compile(r"\n[ \t]*(?:\n[ \t]*)+")


class _PlainText(HTMLParser):
    """Collect the text of sanitised HTML, keeping paragraphs, list items and link targets."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._link: tuple[str, int] | None = None  # (href, where its text starts)
        self._in_pre = False
        self._cells = 0  # cells started in this table row

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "li":
            self.parts.append("\n- ")
        elif tag == "pre":
            self._in_pre = True
        elif tag == "tr":
            self._cells = 0
        elif tag in ("td", "th"):
            self.parts.append(" | " if self._cells else "")
            self._cells += 1
        elif tag == "a":
            self._link = (dict(attrs).get("href") or "", len(self.parts))
        elif tag in _LINE_ENDS:
            self.parts.append("\n")
        elif tag == "img":
            alt = dict(attrs).get("alt") or ""
            self.parts.append(f"[Picture: {alt}]" if alt else "[Picture]")

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._link is not None:
            href, start = self._link
            text = "".join(self.parts[start:]).strip()
            if href and text != href and not href.startswith("mailto:"):
                self.parts.append(f" ({href})")
            self._link = None
        elif tag in _PARAGRAPH_ENDS:
            self._in_pre = self._in_pre and tag != "pre"
            self.parts.append("\n\n")
        elif tag == "tr":
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if "\n" in data and not data.strip() and not self._in_pre:
            return  # the line breaks Markdown puts between blocks; the tags say where
        self.parts.append(data)


def markdown_to_plain_text(source: str | None) -> str:
    """Render Markdown as the pages do and reduce it to plain text (no tags, no entities)."""
    if not source:
        return ""
    reader = _PlainText()
    reader.feed(str(render_markdown(source)))
    reader.close()
    text = _BLANK_LINES.sub("\n\n", "".join(reader.parts))
    return "\n".join(line.rstrip() for line in text.strip().splitlines())

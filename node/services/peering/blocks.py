"""The block list: which actors and domains this node has nothing to do with.

A block names an actor (its URL) or a domain, which covers its subdomains too, as
Mastodon's domain blocks do (``example.org`` blocks ``social.example.org``). Domains are
compared in lower-case ASCII (IDNA, UTS #46), so ``Bücher.example`` and
``xn--bcher-kva.example`` are one domain. A domain may carry a port (``127.0.0.1:8001``):
then it covers that one origin only, which is how one of several nodes on a host is
blocked. An IP address covers itself only.

``is_blocked(url)`` is one look-up in the unique index on ``target``: every name the URL
could be blocked under (the actor, the host with its port, the host and each parent
domain) in one ``IN``. Code that checks many URLs at once (a feed entry's followers)
takes a ``BlockList`` of the blocks their candidates name: a few indexed queries, however
long the list. What a block does to follows, deliveries, twins and an aggregator's
directory is in ``blocking.py``; this module only keeps and reads the list, and reads and
writes it as Mastodon's domain-block CSV.
"""

from __future__ import annotations

import csv
import io
import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import urlsplit, urlunsplit

import idna
from flask_babel import gettext
from sqlalchemy import bindparam, select

from ...extensions import db
from ...models import Block, Member
from ..errors import Conflict, Forbidden, Invalid, NotFound

DOMAIN = "domain"
ACTOR = "actor"
MAX_COMMENT = 1000
MAX_CSV_ROWS = 100_000
MAX_TARGET = 2000
# Mastodon's export columns, in its order; files may leave the leading '#' out.
CSV_COLUMNS = (
    "#domain",
    "#severity",
    "#reject_media",
    "#reject_reports",
    "#public_comment",
    "#obfuscate",
)
SEVERITIES = ("suspend", "silence", "noop")
DEFAULT_PORTS = {"http": 80, "https": 443}
_LABEL = re.compile(r"^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$")
_KEY_ID = re.compile(r"""keyid\s*=\s*"([^"]{1,2000})\"""", re.IGNORECASE)


class NotATarget(ValueError):
    """Text that names no actor URL and no domain."""


# Normalising ---------------------------------------------------------------------------


def normalise_domain(text: str) -> str:
    """Return ``text`` as a domain block target: lower-case ASCII, with its port if given."""
    value = (text or "").strip().rstrip(".").lower()
    value = value.removeprefix("*.")
    if not value or len(value) > 253 + 6:
        raise NotATarget("Give a domain such as example.org.")
    host, port = value, ""
    if value.startswith("["):
        raise NotATarget("Block an IPv6 address by an actor URL instead.")
    if value.count(":") == 1:
        host, port = value.split(":")
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise NotATarget(f"{text!r} has no usable port.")
    try:
        ipaddress.ip_address(host)
        return f"{host}:{port}" if port else host
    except ValueError:
        pass
    try:
        ascii_host = idna.encode(host, uts46=True).decode("ascii")
    except idna.IDNAError:
        raise NotATarget(f"{text!r} is not a domain.") from None
    labels = ascii_host.split(".")
    if len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        raise NotATarget(f"{text!r} is not a domain (give one with a dot, such as example.org).")
    return f"{ascii_host}:{port}" if port else ascii_host


def normalise_actor(url: str) -> str:
    """Return an actor URL as a block target: scheme and host lower-case, no fragment."""
    parts = urlsplit((url or "").strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise NotATarget("Give an actor URL starting with https://.")
    host = normalise_domain(parts.hostname) if not _is_ip(parts.hostname) else parts.hostname
    default = DEFAULT_PORTS[parts.scheme.lower()]
    try:
        port = parts.port
    except ValueError:
        raise NotATarget("That URL has no usable port.") from None
    netloc = host if port in (None, default) else f"{host}:{port}"
    return urlunsplit((parts.scheme.lower(), netloc, parts.path or "/", parts.query, ""))


def target_of(text: str) -> tuple[str, str]:
    """Read what an admin typed as (kind, target): a URL with a path is an actor, else a domain.

    ``acct:name@host`` and ``@name@host`` name an actor the node would have to look up; they
    are refused here (block its URL, or its domain).
    """
    value = (text or "").strip()
    if not value:
        raise NotATarget("Give an actor URL or a domain.")
    if len(value) > MAX_TARGET:
        raise NotATarget("That is too long for an actor URL or a domain.")
    if value.startswith(("acct:", "@")) or ("@" in value and "://" not in value):
        raise NotATarget("Give the actor's URL (https://…) or its domain, not its handle.")
    if "://" in value:
        parts = urlsplit(value)
        if parts.path in ("", "/") and not parts.query:
            if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
                raise NotATarget("Give an actor URL starting with https://.")
            return DOMAIN, normalise_domain(parts.netloc)
        return ACTOR, normalise_actor(value)
    return DOMAIN, normalise_domain(value)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


@lru_cache(maxsize=8192)  # a fan-out asks of the same follower URLs entry after entry
def candidates(url: str) -> tuple[str, ...]:
    """List every target that would block ``url``: the URL itself, its origin, its domains."""
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
        port = parts.port
    except (AttributeError, ValueError):
        return ()
    if not host:
        return ()
    host = host.rstrip(".")
    if _is_ip(host):
        names = [host]
    else:
        ascii_host = host if host.isascii() else _ascii_host(host)  # hostname is lower-case
        labels = ascii_host.split(".")
        names = [".".join(labels[start:]) for start in range(len(labels))]
    found: list[str] = []
    scheme = parts.scheme.lower()
    if scheme in DEFAULT_PORTS:
        netloc = names[0] if port in (None, DEFAULT_PORTS[scheme]) else f"{names[0]}:{port}"
        found.append(urlunsplit((scheme, netloc, parts.path or "/", parts.query, "")))
    if port is not None:
        found.append(f"{names[0]}:{port}")
    found.extend(names)
    return tuple(found)


def _ascii_host(host: str) -> str:
    try:
        return idna.encode(host, uts46=True).decode("ascii")
    except idna.IDNAError:
        return host.lower()


# Reading ------------------------------------------------------------------------------


def is_blocked(url: str | None) -> bool:
    """Tell whether ``url`` (an actor, key, inbox or any URL) falls under a block."""
    return _any_blocked(list(candidates(url)) if url else [])


# Built once: the inbox asks for every request (building a statement costs more than
# running it). A fixed number of names, not an expanding IN list: an expanding list is
# written into the SQL again on every run, which cost the inbox more than the query.
SLOTS = 16
_blocks = Block.__table__
_ANY_BLOCKED = (
    select(_blocks.c.id)
    .where(_blocks.c.target.in_([bindparam(f"n{slot}") for slot in range(SLOTS)]))
    .limit(1)
)


def _any_blocked(names: list[str]) -> bool:
    unique = list(dict.fromkeys(names))
    connection = db.session.connection() if unique else None
    for start in range(0, len(unique), SLOTS):
        chunk = unique[start : start + SLOTS]
        chunk += [chunk[-1]] * (SLOTS - len(chunk))  # the spare slots repeat a name
        values = {f"n{slot}": name for slot, name in enumerate(chunk)}
        if connection.execute(_ANY_BLOCKED, values).first() is not None:
            return True
    return False


def blocked_by(url: str | None) -> Block | None:
    """Return the block covering ``url``, the most specific first, if any."""
    if not url:
        return None
    names = list(candidates(url))
    if not names:
        return None
    found = {b.target: b for b in db.session.scalars(select(Block).where(Block.target.in_(names)))}
    return next((found[name] for name in names if name in found), None)


def refuse_blocked(target: str | None) -> None:
    """Refuse (403) to follow, list or twin with a handle or URL the block list covers."""
    text = (target or "").strip()
    url = text
    if "://" not in text:
        # acct:name@host or @name@host: the host is all that can be checked before a look-up.
        url = f"https://{text.removeprefix('acct:').lstrip('@').rpartition('@')[2]}/"
    if is_blocked(url):
        raise Forbidden(
            gettext("%(text)s is blocked on this node.", text=text),
            {"target": [gettext("It is blocked.")]},
        )


def blocks_sender(actor: str, headers: Iterable[tuple[str, str]]) -> bool:
    """Tell whether a request's claimed actor or signing key falls under a block.

    Asked before the signature is checked, so a blocked server's key is never fetched; the
    inbox then checks that the key's owner is that actor.
    """
    urls = [actor, *signer_key_ids(headers)]
    return _any_blocked([name for url in urls for name in candidates(url)])  # one query


def signer_key_ids(headers: Iterable[tuple[str, str]]) -> list[str]:
    """Read the key ids a request's Signature or Signature-Input headers name (unverified)."""
    found = []
    for name, value in headers:
        if name.lower() in ("signature", "signature-input"):
            found.extend(_KEY_ID.findall(value)[:4])
    return found


@dataclass
class BlockList:
    """The whole list read once, for checking many URLs (a feed entry's followers)."""

    targets: frozenset[str] = field(default_factory=frozenset)

    def covers(self, url: str | None) -> bool:
        """Tell whether ``url`` falls under one of these blocks."""
        if not self.targets or not url:
            return False
        return any(name in self.targets for name in candidates(url))


def block_list(urls: Iterable[str | None] | None = None) -> BlockList:
    """Read the blocks that could cover ``urls`` (all blocks without), for checking in memory.

    With ``urls`` only the targets their candidates name are read, a few indexed queries
    however long the list (an imported list may hold tens of thousands of domains).
    """
    if urls is None:
        return BlockList(frozenset(db.session.scalars(select(Block.target))))
    if db.session.scalar(select(Block.id).limit(1)) is None:
        return BlockList()  # most nodes block nothing: one look at an empty table
    names = sorted({name for url in urls if url for name in candidates(url)})
    found: set[str] = set()
    for start in range(0, len(names), 900):
        chunk = names[start : start + 900]
        found.update(db.session.scalars(select(Block.target).where(Block.target.in_(chunk))))
    return BlockList(frozenset(found))


def listing() -> list[Block]:
    """List every block, domains first, then by target."""
    return list(db.session.scalars(select(Block).order_by(Block.kind.desc(), Block.target)))


def get(block_id: int) -> Block:
    """Return one block by its id (a 404 when there is none)."""
    found = db.session.get(Block, block_id)
    if found is None:
        raise NotFound(gettext("There is no such block."))
    return found


def find(text: str) -> Block:
    """Return the block of an actor URL or domain as typed, or by its id."""
    value = (text or "").strip()
    if value.isdigit():
        return get(int(value))
    try:
        _kind, target = target_of(value)
    except NotATarget as error:
        raise Invalid.on("target", str(error)) from None
    found = db.session.scalar(select(Block).where(Block.target == target))
    if found is None:
        raise NotFound(gettext("%(value)s is not blocked.", value=value))
    return found


# Writing (blocking.py decides what else a new block changes) ----------------------------


def new_block(
    text: str,
    *,
    public_comment: str = "",
    private_comment: str = "",
    by: Member | None = None,
    by_name: str = "",
    reject_media: bool = False,
    reject_reports: bool = False,
    obfuscate: bool = False,
    known: set[str] | None = None,
) -> Block:
    """Add a block row for ``text`` (actor URL or domain), without committing.

    ``known`` (the targets blocked already, kept up to date here) saves an import a query
    and a flush per row.
    """
    try:
        kind, target = target_of(text)
    except NotATarget as error:
        raise Invalid.on("target", str(error)) from None
    for name, comment in (("public_comment", public_comment), ("private_comment", private_comment)):
        if len(comment or "") > MAX_COMMENT:
            raise Invalid.on(
                name,
                gettext("Keep the comment to %(max_comment)s characters.", max_comment=MAX_COMMENT),
            )
    if known is not None:
        if target in known:
            raise Conflict(gettext("%(target)s is blocked already.", target=target))
        known.add(target)
    elif db.session.scalar(select(Block.id).where(Block.target == target)) is not None:
        raise Conflict(gettext("%(target)s is blocked already.", target=target))
    who = by_name or (f"{by.display_name} <{by.email}>" if by is not None else "")
    block = Block(
        kind=kind,
        target=target,
        public_comment=(public_comment or "").strip(),
        private_comment=(private_comment or "").strip(),
        reject_media=reject_media,
        reject_reports=reject_reports,
        obfuscate=obfuscate,
        created_by_id=by.id if by is not None else None,
        created_by=who[:400],
    )
    db.session.add(block)
    if known is None:
        db.session.flush()
    return block


# Mastodon's domain-block CSV ------------------------------------------------------------


@dataclass(frozen=True)
class CsvRow:
    """One row of a block-list file: what it asks, or why it is skipped."""

    row: int
    domain: str
    severity: str
    reject_media: bool = False
    reject_reports: bool = False
    public_comment: str = ""
    obfuscate: bool = False
    problem: str = ""


def _flag(value: str) -> bool:
    return (value or "").strip().lower() in ("true", "1", "yes", "t")


def read_csv(text: str) -> list[CsvRow]:
    """Read a Mastodon domain-block export (header with or without '#'; blank rows left out)."""
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    if len(rows) > MAX_CSV_ROWS:
        raise Invalid.on(
            "file",
            gettext("A file may list at most %(max_csv_rows)s blocks.", max_csv_rows=MAX_CSV_ROWS),
        )
    if not rows:
        return []
    header = [cell.strip().lower().lstrip("#") for cell in rows[0]]
    if "domain" in header:
        body, start = rows[1:], 2
    else:  # no header: Mastodon's column order
        header, body, start = [name.lstrip("#") for name in CSV_COLUMNS], rows, 1
    read: list[CsvRow] = []
    for number, row in enumerate(body, start=start):
        if not any(cell.strip() for cell in row):
            continue
        cells = {name: (row[i] if i < len(row) else "") for i, name in enumerate(header)}
        severity = (cells.get("severity") or "suspend").strip().lower()
        problem = "" if severity in SEVERITIES else f"unknown severity {severity!r}"
        read.append(
            CsvRow(
                row=number,
                domain=(cells.get("domain") or "").strip(),
                severity=severity,
                reject_media=_flag(cells.get("reject_media", "")),
                reject_reports=_flag(cells.get("reject_reports", "")),
                public_comment=(cells.get("public_comment") or "").strip()[:MAX_COMMENT],
                obfuscate=_flag(cells.get("obfuscate", "")),
                problem=problem,
            )
        )
    return read


def write_csv(blocks: Iterable[Block], *, actors: bool = False) -> str:
    """Write blocks as Mastodon's domain-block export (with ``actors``, actor URLs too)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for block in blocks:
        if block.kind == ACTOR and not actors:
            continue
        writer.writerow(
            [
                block.target,
                "suspend",
                _bool(block.reject_media),
                _bool(block.reject_reports),
                block.public_comment,
                _bool(block.obfuscate),
            ]
        )
    return out.getvalue()


def _bool(value: bool) -> str:
    return "true" if value else "false"

"""What integration tests do to a running node: wait, log in, publish, read its database."""

from __future__ import annotations

import html
import re
import sqlite3
import time
from collections.abc import Callable
from contextlib import closing
from typing import Any, TypeVar

import requests

from .conftest import ADMIN_PASSWORD, RunningNode

T = TypeVar("T")
WAIT_SECONDS = 30.0
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def wait_until(
    condition: Callable[[], T],
    what: str,
    *,
    timeout: float = WAIT_SECONDS,
    explain: Callable[[], str] | None = None,
) -> T:
    """Poll ``condition`` until it returns something truthy and return that; fail after
    ``timeout`` seconds saying ``what`` did not happen (and ``explain()`` if given)."""
    deadline = time.monotonic() + timeout
    while True:
        found = condition()
        if found:
            return found
        if time.monotonic() > deadline:
            detail = f"\n{explain()}" if explain is not None else ""
            raise AssertionError(f"within {timeout:.0f}s: {what}{detail}")
        time.sleep(0.2)


# The web pages, as an organiser uses them ------------------------------------------------


def log_in(node: RunningNode) -> requests.Session:
    """Log in as the node's admin through the real login form; return the session."""
    session = requests.Session()
    form = session.get(f"{node.url}/login", timeout=10)
    token = _CSRF.search(form.text)
    assert token, "the login form has no CSRF token"
    answer = session.post(
        f"{node.url}/login",
        data={"email": node.admin_email, "password": ADMIN_PASSWORD, "csrf_token": token[1]},
        allow_redirects=False,
        timeout=30,
    )
    assert answer.status_code == 302, answer.text
    return session


def follow_from_the_page(session: requests.Session, node: RunningNode, target: str) -> str:
    """Follow ``target`` with the organisers' form on Network → Following; return the page."""
    form = session.get(f"{node.url}/network/following", timeout=10)
    token = _CSRF.search(form.text)
    assert token, "the follow form has no CSRF token"
    answer = session.post(
        f"{node.url}/network/following",
        data={"target": target, "csrf_token": token[1]},
        timeout=60,
    )
    assert answer.status_code == 200, answer.text
    return answer.text


def network_items(session: requests.Session, node: RunningNode, kind: str = "events") -> list[str]:
    """Return the items of the node's Network page (one kind) as plain text, top to bottom."""
    page = session.get(f"{node.url}/network/", params={"kind": kind}, timeout=10)
    assert page.status_code == 200, page.text
    found = re.search(r'<ul class="items">(.*?)</ul>', page.text, re.S)
    if found is None:
        return []
    items = re.findall(r"<li>(.*?)</li>", found[1], re.S)
    return [" ".join(html.unescape(re.sub(r"<[^>]+>", " ", item)).split()) for item in items]


# The JSON API, as an organiser's app uses it ---------------------------------------------


class Api:
    """The node's JSON API with a bearer token made by `branchline token create`."""

    def __init__(self, node: RunningNode) -> None:
        self.node = node
        self.token = node.cli("token", "create", node.admin_email).stdout.strip()

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        answer = requests.request(
            method,
            f"{self.node.url}/api/v1{path}",
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=30,
            **kwargs,
        )
        assert answer.status_code in (200, 201), f"{method} {path}: {answer.text}"
        return answer.json()

    def create(self, plural: str, **fields: Any) -> dict[str, Any]:
        return self._call("POST", f"/{plural}", json=fields)

    def update(self, plural: str, item_id: int, **fields: Any) -> dict[str, Any]:
        return self._call("PATCH", f"/{plural}/{item_id}", json=fields)

    def event(self, title: str, starts_at: str = "2031-06-01T18:00:00+01:00", **fields: Any):
        return self.create("events", title=title, kind="canvass", starts_at=starts_at, **fields)

    def post(self, title: str, body: str = "", **fields: Any) -> dict[str, Any]:
        return self.create("posts", title=title, body=body or f"{title}.", **fields)


# The node's own records, read-only -------------------------------------------------------


def query(node: RunningNode, sql: str, *params: Any) -> list[tuple]:
    """Run a read-only query on the node's SQLite database."""
    with closing(sqlite3.connect(f"file:{node.database}?mode=ro", uri=True, timeout=10)) as db:
        return db.execute(sql, params).fetchall()


def peer_state(node: RunningNode, actor: str) -> dict[str, Any] | None:
    """Return what the node records about the peer with actor id ``actor``."""
    rows = query(
        node,
        "SELECT state, state_reason, held_seq, head_seq FROM peer WHERE actor_id = ?",
        actor,
    )
    if not rows:
        return None
    state, reason, held, head = rows[0]
    return {"state": state, "reason": reason, "held_seq": held, "head_seq": head}


def held_seq(node: RunningNode, actor: str) -> int:
    found = peer_state(node, actor)
    return found["held_seq"] if found else 0


def remote_entries(node: RunningNode, actor: str) -> list[tuple[int | None, str, str]]:
    """Return (seq, activity id, body) of each entry of ``actor``'s feed the node stored,
    in the order it stored them."""
    return query(
        node,
        "SELECT e.seq, e.activity_id, e.body FROM remote_entry e JOIN peer p ON p.id = e.peer_id"
        " WHERE p.actor_id = ? ORDER BY e.id",
        actor,
    )


def following_state(node: RunningNode, actor: str) -> str:
    """Return the state of the node's follow of ``actor`` ('' if it does not follow it)."""
    rows = query(
        node,
        "SELECT f.state FROM following f JOIN peer p ON p.id = f.peer_id WHERE p.actor_id = ?",
        actor,
    )
    return rows[0][0] if rows else ""


def undelivered(node: RunningNode, actor: str) -> int:
    """Count the node's deliveries to ``actor`` that have not landed (nor been given up)."""
    return query(
        node,
        "SELECT count(*) FROM delivery d JOIN peer p ON p.id = d.peer_id"
        " WHERE p.actor_id = ? AND d.state IN ('pending', 'sending')",
        actor,
    )[0][0]


def following_line(node: RunningNode, other: RunningNode | str) -> str:
    """Return the line `branchline following` prints for ``other`` ('' if none)."""
    handle = other if isinstance(other, str) else f"{other.handle}@127.0.0.1:{other.port}"
    lines = node.cli("following").stdout.splitlines()
    return next((line for line in lines if line.split("\t")[0] == handle), "")


def peers_line(node: RunningNode, handle: str) -> str:
    """Return the row `branchline peers` prints for the peer ``handle`` ('' if none)."""
    lines = node.cli("peers").stdout.splitlines()
    return next((line for line in lines if line.split()[0] == handle), "")


def outbox_entries(node: RunningNode) -> list[dict[str, Any]]:
    """Return every entry of the node's own feed, as its outbox serves them."""
    answer = node.get("/outbox?after=0&limit=200", headers={"Accept": "application/activity+json"})
    assert answer.status_code == 200, answer.text
    return answer.json()["orderedItems"]


# Members and forms, as people use them --------------------------------------------------


def post_page_form(
    session: requests.Session, node: RunningNode, path: str, data: dict[str, Any], *, page: str
) -> requests.Response:
    """POST ``data`` to ``path`` as the form on ``page`` would (with its CSRF token)."""
    form = session.get(f"{node.url}{page}", timeout=10)
    token = _CSRF.search(form.text)
    assert token, f"no CSRF token on {page}"
    return session.post(
        f"{node.url}{path}",
        data={**data, "csrf_token": token[1]},
        allow_redirects=False,
        timeout=30,
    )


def join_as_member(node: RunningNode, email: str, name: str) -> requests.Session:
    """Add a member with `branchline member add`, accept the invitation; return their session."""
    added = node.cli("member", "add", email, "--name", name).stdout
    link = re.search(r"https?://\S+", added)
    assert link, added
    path = link[0].split(str(node.port), 1)[1]
    session = requests.Session()
    answer = post_page_form(
        session,
        node,
        path,
        {
            "email": email,
            "display_name": name,
            "password": ADMIN_PASSWORD,
            "password_confirm": ADMIN_PASSWORD,
        },
        page=path,
    )
    assert answer.status_code == 302, answer.text
    return session

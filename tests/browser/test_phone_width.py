"""Every HTML page of a group node and of an aggregator fits a 390 px phone: no sideways scroll.

The pages come from the app's own url_map (every GET route, with the ids of seeded objects
filled in), so a page added later is measured without anyone remembering to list it.
"""

from __future__ import annotations

import runpy
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from playwright.sync_api import expect

from node import create_app
from tests.integration.conftest import ADMIN_PASSWORD

from .support import PHONE

pytestmark = pytest.mark.browser

MEMBER_PASSWORD = "a member's long passphrase"
# Machine documents, downloads and endpoints that only redirect or need a secret token.
SKIPPED_PREFIXES = ("/api/", "/.well-known/", "/static/", "/aggregate/", "/nodeinfo/")
SKIPPED_ENDPOINTS = {"auth.setup", "account.data_download", "pages.logo"}

# The demo network's sample content (deploy/ is scripts, not a package).
GROUPS = runpy.run_path(str(Path(__file__).resolve().parents[2] / "deploy" / "demo_data.py"))[
    "GROUPS"
]


def _routes(tmp_path) -> list[tuple[str, str, list[str]]]:
    """Every GET rule of the app as (endpoint, rule, arguments)."""
    app = create_app(
        {
            "INSTANCE_PATH": str(tmp_path / "routes"),
            "DATABASE_URL": "sqlite://",
            "SECRET_KEY": "routes",
        }
    )
    found = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint in SKIPPED_ENDPOINTS:
            continue
        if rule.rule.startswith(SKIPPED_PREFIXES):
            continue
        found.append((rule.endpoint, rule.rule, sorted(rule.arguments)))
    return found


def _urls(routes, ids: dict[str, int]) -> list[str]:
    """Fill each rule's arguments from ``ids``; leave out rules with an argument it lacks."""
    urls = []
    for _endpoint, rule, arguments in routes:
        if not arguments:
            urls.append(rule)
            continue
        kinds = ["campaigns", "events", "candidates", "posts"] if "kind" in arguments else [None]
        for kind in kinds:
            path = rule
            if kind:
                path = path.replace("<any(campaigns, events, candidates, posts):kind>", kind)
            section = kind or path.strip("/").split("/")[0].replace("news", "posts")
            if path.startswith("/manage/events/"):
                section = "events"
            values = {**ids, "item_id": ids.get(section)}
            filled = True
            for name in arguments:
                if name == "kind":
                    continue
                value = values.get(name)
                if value is None:
                    filled = False
                    break
                start = path.index("<")
                path = path[:start] + str(value) + path[path.index(">", start) + 1 :]
            if filled:
                urls.append(path)
    return sorted(set(urls))


def _when(days: int, hour: int) -> str:
    return (datetime(2031, 3, 1, hour, tzinfo=UTC) + timedelta(days=days)).isoformat()


def _seed(node) -> dict[str, int]:
    """Publish the first demo group's content and a ballot; return their ids."""
    token = node.cli("token", "create", node.admin_email).stdout.strip()

    def api(method: str, path: str, body: dict) -> dict:
        answer = requests.request(
            method,
            f"{node.url}/api/v1{path}",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        assert answer.ok, f"{method} {path}: {answer.status_code} {answer.text}"
        return answer.json()

    group = GROUPS[0]
    api("PATCH", "/group", group["profile"])
    ids = {"campaigns": api("POST", "/campaigns", group["campaigns"][0])["id"]}
    for item in group["events"]:
        event = {k: v for k, v in item.items() if k not in ("days", "hour")}
        event["starts_at"] = _when(item["days"], item["hour"])
        ids.setdefault("events", api("POST", "/events", event)["id"])
    ids["candidates"] = api("POST", "/candidates", group["candidates"][0])["id"]
    ids["posts"] = api("POST", "/posts", group["posts"][0])["id"]
    ballot = {
        "question": "Should we affiliate to the trades council and send two delegates?",
        "kind": "yes_no",
        "opens_at": _when(-30, 9),
        "closes_at": _when(30, 9),
    }
    ids["ballot_id"] = api("POST", "/ballots", ballot)["id"]
    ids["member_id"] = api("GET", "/me", None)["id"]
    return ids


def _too_wide(context, urls: list[str], visited: list[str]) -> list[str]:
    """Visit each HTML page (adding it to ``visited``); return 'URL: N px' for each too wide."""
    page = context.new_page()
    offenders = []
    for url in urls:
        answer = context.request.get(url, max_redirects=0)
        content_type = answer.headers.get("content-type", "")
        if answer.status != 200 or not content_type.startswith("text/html"):
            continue
        page.goto(url)
        visited.append(url)
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > PHONE["width"]:
            offenders.append(f"{url}: {width}px")
    page.close()
    return offenders


def _log_in(context, node) -> None:
    page = context.new_page()
    page.goto("/login")
    page.fill("#f-email", node.admin_email)
    page.fill("#f-password", ADMIN_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(lambda url: "/login" not in url)
    page.close()


def _join_as_member(context, node) -> None:
    """Add a member from the command line and take their invitation in the browser."""
    added = node.cli("member", "add", "morgan@example.org", "--name", "Morgan Member").stdout
    link = added.split("here: ")[1].strip()
    page = context.new_page()
    page.goto(link)
    page.fill("#f-password", MEMBER_PASSWORD)
    page.fill("#f-password_confirm", MEMBER_PASSWORD)
    page.get_by_role("button", name="Join the group").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    page.close()


def _check_in_is_in_reach(context, folder: Path) -> None:
    """On the phone, the Events list shows each event as a card with Check-in on screen."""
    page = context.new_page()
    page.goto("/manage/events/")
    check_in = page.get_by_role("link", name="Check-in").first
    expect(check_in).to_be_in_viewport()
    box = check_in.bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box
    page.screenshot(path=str(folder / "manage-events-phone.png"), full_page=True)
    page.close()


def test_every_page_of_a_node_and_an_aggregator_fits_a_phone(start_node, chromium, tmp_path):
    routes = _routes(tmp_path)
    group = start_node()
    national = start_node("National Office", "national", init_args=("--aggregator",))
    offenders: list[str] = []
    visited: list[str] = []
    for node in (group, national):
        urls = _urls(routes, _seed(node))
        visitor = chromium.new_context(base_url=node.url, viewport=PHONE)
        offenders += [f"{node.handle} visitor {line}" for line in _too_wide(visitor, urls, visited)]
        visitor.close()
        if node is group:  # a member without a role sees members' pages, and no Manage
            member = chromium.new_context(base_url=node.url, viewport=PHONE)
            _join_as_member(member, node)
            too_wide = _too_wide(member, urls, visited)
            offenders += [f"{node.handle} member {line}" for line in too_wide]
            member.close()
        admin = chromium.new_context(base_url=node.url, viewport=PHONE)
        _log_in(admin, node)
        offenders += [f"{node.handle} admin {line}" for line in _too_wide(admin, urls, visited)]
        if node is group:
            _check_in_is_in_reach(admin, tmp_path)
        admin.close()
    assert "/manage/events/" in " ".join(visited) and "/network/groups" in visited
    assert not offenders, "pages wider than a 390px phone:\n" + "\n".join(offenders)

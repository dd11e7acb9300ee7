"""`branchline verify URL`: audit a group's feed or an aggregator's combined feed.

The command looks a handle up by WebFinger, then hands the target to
federation.feed_walk, which finds the feed, walks it page by page through
federation.audit and asks each group for its own keys and head. Here: which fetch to use,
the progress bars and the report. Exit status: 0 when every group verifies to its own
head, 1 when anything does not, 2 when the target cannot be audited at all (unreachable,
not a feed, a feed that cannot be walked).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy.exc import SQLAlchemyError

from federation import client
from federation.audit import AuditReport, FeedHead, GroupReport
from federation.feed_walk import (
    DEFAULT_PAGE_SIZE,
    FeedAudit,
    FeedSource,
    GroupDocuments,
    ListedGroup,
    Unusable,
    resolve,
)

from ..services import groups
from ..services.peering import outbound, peers

EXIT_OK, EXIT_FAILED, EXIT_UNUSABLE = 0, 1, 2
MAX_PAGE_SIZE = 200  # a group's outbox serves at most 200 entries a page


# Fetching -------------------------------------------------------------------------------


def _fetcher() -> client.Fetch:
    """Return the fetch to use: signed as this node once it is set up, else unsigned.

    Anyone may audit a feed, including someone who never set up a node: then there is no
    key to sign with, and the same guarded client fetches unsigned, under the same
    private-address policy and timeouts as outbound.fetch.
    """
    try:
        signed = groups.is_set_up()
    except SQLAlchemyError:
        signed = False
    if signed:
        return outbound.fetch
    policy = outbound.address_policy()
    config = current_app.config
    timeouts = client.Timeouts(
        connect=float(config.get("FETCH_CONNECT_TIMEOUT", 5)),
        read=float(config.get("FETCH_READ_TIMEOUT", 20)),
        total=float(config.get("FETCH_TOTAL_TIMEOUT", 60)),
    )

    def fetch(url: str, *, accept: Sequence[str] = client.ACTIVITYPUB_TYPES) -> client.FetchResult:
        return client.fetch_json(url, sign=None, accept=accept, policy=policy, timeouts=timeouts)

    return fetch


# Finding the feed -----------------------------------------------------------------------


def _find_feed(
    target: str, fetch: client.Fetch, documents: GroupDocuments, page_size: int
) -> FeedSource:
    """Find the feed ``target`` names, looking a handle (acct:handle@host) up first."""
    found = peers.ACCT.match(target.strip())
    if found:
        try:
            target = peers.webfinger(*found.groups(), fetch=fetch)
        except peers.PeerError as error:
            raise Unusable(str(error)) from error
    return resolve(target, fetch, documents, page_size)


# The report -----------------------------------------------------------------------------


def _head_text(head: FeedHead | None) -> str:
    if head is None:
        return "none"
    return f"seq {head.seq}" + (f" {head.hash}" if head.hash else "")


def _group_lines(group: GroupReport, name: str, claim: ListedGroup | None) -> list[str]:
    status = "OK  " if group.ok else "FAIL"
    title = f"{name} " if name else ""
    lines = [f"{status} {title}{group.actor}"]
    checked = f"{group.entries} ({group.verified} verified by proof"
    if group.redacted:
        checked += f", {len(group.redacted)} redacted: held by hash only"
    lines.append(f"     entries checked: {checked})")
    lines.append(f"     head reached: {_head_text(group.head)}")
    lines.append(f"     group's own head: {_head_text(group.declared_head)}")
    if claim is not None and (claim.held_seq is not None or claim.state):
        said = [f"holds seq {claim.held_seq}"] if claim.held_seq is not None else []
        said += [claim.state.replace("_", " ")] if claim.state else []
        lines.append(f"     the aggregator says: {', '.join(said)}")
    lines.extend(f"     note: {note}" for note in group.notes)
    if group.problem is not None:
        problem = group.problem
        where = f" at seq {problem.seq}" if problem.seq is not None else ""
        lines.append(f"     FIRST PROBLEM{where}: {problem.kind}: {problem.detail}")
    return lines


def report_text(report: AuditReport, source: FeedSource, names: Callable[[str], str]) -> str:
    """Return the report as an auditor reads it: one block per group, then a summary."""
    what = "combined feed" if source.kind == "aggregator" else "group feed"
    lines = [f"Audit of the {what} {source.feed}", ""]
    for group in report.groups:
        lines.extend(_group_lines(group, names(group.actor), source.listed.get(group.actor)))
        lines.append("")
    for stray in report.stray:
        at = f" (seq {stray.problem.seq})" if stray.problem.seq is not None else ""
        lines.append(f"FAIL item {stray.index + 1} of the feed{at}: {stray.problem.detail}")
    if report.stray:
        lines.append("")
    failed = len(report.failed)
    summary = (
        f"{len(report.groups)} group(s), {report.entries} entries: "
        f"{len(report.groups) - failed} verified, {failed} failed"
    )
    if report.stray:
        summary += f", {len(report.stray)} item(s) naming no group"
    lines.append(summary + (": everything verifies." if report.ok else "."))
    return "\n".join(lines)


def _head_json(head: FeedHead | None) -> dict[str, Any] | None:
    return None if head is None else {"seq": head.seq, "hash": head.hash}


def _claim_json(claim: ListedGroup | None) -> dict[str, Any] | None:
    if claim is None:
        return None
    return {"name": claim.name, "heldSeq": claim.held_seq, "state": claim.state}


def report_json(
    report: AuditReport, source: FeedSource, names: Callable[[str], str]
) -> dict[str, Any]:
    """Return the report as a JSON object (what --json prints)."""
    return {
        "feed": source.feed,
        "kind": source.kind,
        "ok": report.ok,
        "entries": report.entries,
        "groups": [
            {
                "actor": group.actor,
                "name": names(group.actor),
                "ok": group.ok,
                "entries": group.entries,
                "verified": group.verified,
                "redacted": list(group.redacted),
                "head": _head_json(group.head),
                "declaredHead": _head_json(group.declared_head),
                "problem": None
                if group.problem is None
                else {
                    "seq": group.problem.seq,
                    "kind": group.problem.kind,
                    "detail": group.problem.detail,
                },
                "notes": list(group.notes),
                "aggregatorSays": _claim_json(source.listed.get(group.actor)),
            }
            for group in report.groups
        ],
        "stray": [
            {
                "index": stray.index,
                "seq": stray.problem.seq,
                "kind": stray.problem.kind,
                "detail": stray.problem.detail,
            }
            for stray in report.stray
        ],
        "summary": {
            "groups": len(report.groups),
            "verified": len(report.groups) - len(report.failed),
            "failed": len(report.failed),
        },
    }


# The command ----------------------------------------------------------------------------


def _audit(source: FeedSource, fetch: client.Fetch, documents: GroupDocuments) -> AuditReport:
    """Walk the whole feed through the audit, showing progress on stderr."""
    run = FeedAudit(source, fetch, documents, now=datetime.now(UTC))
    stderr = sys.stderr  # progress on stderr, so the report on stdout can be piped
    length = max(source.total or 0, 1)
    with click.progressbar(
        length=length, label="Checking entries", show_pos=True, file=stderr
    ) as bar:
        for served in run.check_pages():
            bar.length = max(length, run.entries)
            bar.update(served)
    groups_met = max(run.group_count, 1)
    with click.progressbar(
        length=groups_met, label="Asking groups for their heads", file=stderr
    ) as bar:
        return run.finish(lambda _actor: bar.update(1))


@click.command("verify")
@click.argument("url")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option(
    "--page-size",
    type=click.IntRange(1, MAX_PAGE_SIZE),
    default=DEFAULT_PAGE_SIZE,
    show_default=True,
    help="Entries asked for per page.",
)
@with_appcontext
def verify(url: str, as_json: bool, page_size: int) -> None:
    """Check every proof and chain of a group's feed or an aggregator's combined feed.

    URL is acct:handle@host, a group's actor or outbox URL, or an aggregator (its actor or
    its /aggregate/feed). Exit status 0 when everything verifies, 1 when anything does
    not, 2 when the feed cannot be read.
    """
    context = click.get_current_context()
    fetch = _fetcher()
    documents = GroupDocuments(fetch)
    try:
        source = _find_feed(url, fetch, documents, page_size)
        report = _audit(source, fetch, documents)
    except Unusable as error:
        click.echo(f"Error: {error}", err=True)
        context.exit(EXIT_UNUSABLE)

    def name(actor: str) -> str:
        listed = source.listed.get(actor)
        return documents.name(actor) or (listed.name if listed is not None else "")

    if as_json:
        click.echo(json.dumps(report_json(report, source, name), indent=2))
    else:
        click.echo(report_text(report, source, name))
    context.exit(EXIT_OK if report.ok else EXIT_FAILED)


commands: list[click.Command] = [verify]

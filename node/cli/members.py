"""`branchline member|token|client`: members and their API credentials."""

from __future__ import annotations

import click
from flask import current_app, url_for
from flask.cli import with_appcontext
from marshmallow import ValidationError

from schemas import vocab
from schemas.members import MemberIn

from ..services import groups
from ..services.errors import ServiceError
from ..services.membership import imports, invitations, members, tokens
from .errors import fail


@click.group()
def member() -> None:
    """Manage members."""


@member.command("add")
@click.argument("email")
@click.option("--name", "display_name", help="Display name (default: the part before @).")
@click.option("--role", type=click.Choice(vocab.ROLES), default="member", show_default=True)
@with_appcontext
def member_add(email: str, display_name: str | None, role: str) -> None:
    """Add a member and print the link where they choose a password."""

    try:
        data = MemberIn().load(
            {"email": email, "display_name": display_name or email.split("@")[0], "role": role}
        )
        added, token = invitations.add_with_invite(data)
    except (ValidationError, ServiceError) as exc:
        fail(exc)
    with current_app.test_request_context(base_url=_base_url()):
        link = url_for("auth.accept_invite", token=token, _external=True)
    click.echo(f"Added {added.email} as {role}. They choose a password here: {link}")


@member.command("import")
@click.argument("file", type=click.File("rb"))
@click.option("--dry-run", is_flag=True, help="Only say what each row would do.")
@click.option(
    "--rejected",
    type=click.File("w"),
    help="Write the rows to fix to this CSV file, to upload again once fixed.",
)
@with_appcontext
def member_import(file, dry_run: bool, rejected) -> None:
    """Invite by mail everyone in a CSV (name, email, role); print what each row did."""
    try:
        text = imports.decode(file.read(imports.MAX_BYTES + 1))
        report = imports.check(text, None) if dry_run else imports.run(text, None)
    except ServiceError as exc:
        fail(exc)
    for row in report.rows:
        click.echo(f"{row.number}\t{row.email or '-'}\t{row.label}")
    if rejected is not None and report.fixable:
        rejected.write(imports.rejected_csv(report.fixable))
    done = report.count(imports.INVITE if dry_run else imports.INVITED)
    verb = "would be invited" if dry_run else "invited"
    click.echo(f"{done} of {len(report.rows)} row(s) {verb}", err=True)


@member.command("list")
@click.option("--role", type=click.Choice(vocab.ROLES))
@click.option("--status", type=click.Choice(vocab.MEMBER_STATUSES))
@with_appcontext
def member_list(role: str | None, status: str | None) -> None:
    """List members: e-mail, name, role, status, joined."""
    page, shown = 1, 0
    while True:
        batch = members.listing(page, 100, role=role, status=status)
        for m in batch.items:
            joined = m.joined_at.date().isoformat()
            click.echo(f"{m.email}\t{m.display_name}\t{m.role}\t{m.status}\t{joined}")
            shown += 1
        if not batch.has_next:
            break
        page += 1
    click.echo(f"{shown} member(s)", err=True)


@member.command("set")
@click.argument("email")
@click.option("--role", type=click.Choice(vocab.ROLES))
@click.option("--status", type=click.Choice(vocab.MEMBER_STATUSES))
@with_appcontext
def member_set(email: str, role: str | None, status: str | None) -> None:
    """Change a member's role or status."""
    found = members.by_email(email)
    if found is None:
        fail(f"No member with e-mail {email}.")
    changes = {k: v for k, v in {"role": role, "status": status}.items() if v}
    try:
        members.change(found, changes)
    except ServiceError as exc:
        fail(exc)
    click.echo(f"{found.email}: {found.role}, {found.status}")


@click.group()
def token() -> None:
    """Issue API credentials."""


@token.command("create")
@click.argument("email")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    type=click.Choice(vocab.TOKEN_SCOPES),
    help="Repeat for several (default: all the member's role allows).",
)
@click.option("--name", default="personal token", show_default=True)
@click.option("--days", type=click.IntRange(1, 3650), help="Expire after this many days.")
@with_appcontext
def token_create(email: str, scopes: tuple[str, ...], name: str, days: int | None) -> None:
    """Print a new bearer token for the member with EMAIL."""
    found = members.by_email(email)
    if found is None:
        fail(f"No member with e-mail {email}.")
    if not found.is_active:
        fail(f"{email} is {found.status}; only active members get tokens.")
    try:
        value = tokens.create_personal(found, scopes or None, name=name, days=days)
    except ServiceError as exc:
        fail(exc)
    click.echo(value)


@click.group()
def client() -> None:
    """Register OAuth 2 clients (client-credentials grant) for apps."""


@client.command("create")
@click.argument("email")
@click.option("--name", required=True, help="What the app is, e.g. 'phonebank dialler'.")
@click.option("--scope", "scopes", multiple=True, type=click.Choice(vocab.TOKEN_SCOPES))
@with_appcontext
def client_create(email: str, name: str, scopes: tuple[str, ...]) -> None:
    """Register an app that acts as the member with EMAIL; print its id and secret."""
    found = members.by_email(email)
    if found is None:
        fail(f"No member with e-mail {email}.")
    try:
        client_id, secret = tokens.create_client(found, name, scopes or None)
    except ServiceError as exc:
        fail(exc)
    click.echo(f"client_id: {client_id}\nclient_secret: {secret}")


def _base_url() -> str:
    group = groups.current_group()
    return group.base_url if group else current_app.config["BASE_URL"]


commands: list[click.Command] = [member, token, client]

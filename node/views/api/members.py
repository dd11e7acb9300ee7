"""Members, for organisers (scope `members`), and the token's own member at /me."""

from __future__ import annotations

from schemas import api as shapes
from schemas.member_data import MemberDataOut
from schemas.members import MemberIn, MemberOut, MemberUpdate

from ...services.membership import invitations, member_data, members, tokens
from ..no_store import no_store
from .access import caller, operation, presented_token, token
from .blueprint import bp
from .content import ID
from .exchange import body, created, html_url, page_response, query_args

MANAGE = token("members", "organiser")
ADMIN_RULE = "Only an admin may grant the admin role or change an admin (403 otherwise)."


@bp.get("/me")
@operation(
    "Who this token acts for",
    token(),
    query=shapes.NoQuery,
    response=shapes.MeOut,
    description="Any valid token, whatever its scopes; `scopes` lists what it may do now.",
)
def me():
    query_args(shapes.NoQuery())
    member = caller()
    scopes = sorted(tokens.effective_scopes(presented_token()))
    return {**MemberOut().dump(member), "scopes": scopes}


@bp.get("/me/data")
@no_store
@operation(
    "Everything the node holds about this token's member",
    token("read"),
    query=shapes.NoQuery,
    response=MemberDataOut,
    description="Profile, RSVPs, ballots voted in (never what was chosen: papers are "
    "anonymous), tokens (never their secrets), mail sent to the member's address and more. "
    "Leaving the group is only on the account page, with the password.",
)
def my_data():
    query_args(shapes.NoQuery())
    return MemberDataOut().dump(member_data.export(caller()))


@bp.get("/members")
@operation("List members", MANAGE, query=shapes.MemberQuery, response=shapes.page_of(MemberOut))
def list_members():
    args = query_args(shapes.MemberQuery())
    return page_response(members.listing(**args), MemberOut())


@bp.get(f"/members/<{ID}:member_id>")
@operation("Get one member", MANAGE, response=MemberOut, errors=(404,))
def get_member(member_id: int):
    return MemberOut().dump(members.get(member_id))


@bp.post("/members")
@no_store  # the answer carries the invitation link
@operation(
    "Add a member and get their invitation link",
    MANAGE,
    body=MemberIn,
    response=shapes.MemberCreated,
    status=201,
    description="The member is active at once; `invite_url` is where they choose a password "
    f"(valid for 14 days, shown only here). {ADMIN_RULE}",
    errors=(409,),
)
def create_member():
    data = body(MemberIn())
    added, invitation = invitations.add_with_invite(data, actor=caller())
    link = html_url("auth.accept_invite", "/invite/{token}", token=invitation)
    document = {**MemberOut().dump(added), "invite_url": link}
    return created(document, "api.get_member", member_id=added.id)


@bp.patch(f"/members/<{ID}:member_id>")
@operation(
    "Change a member's name, role or status",
    MANAGE,
    body=MemberUpdate,
    response=MemberOut,
    description="Suspending a member (or marking them left) logs them out and revokes their "
    f"tokens. The group always keeps one active admin (409 otherwise). {ADMIN_RULE}",
    errors=(404, 409),
)
def update_member(member_id: int):
    found = members.get(member_id)
    data = body(MemberUpdate())
    return MemberOut().dump(members.change(found, data, actor=caller()))


@bp.delete(f"/members/<{ID}:member_id>")
@operation(
    "Erase a member",
    MANAGE,
    status=204,
    description="Erases the member and their answers to events, freeing their places. "
    f"{ADMIN_RULE}",
    errors=(404, 409),
)
def delete_member(member_id: int):
    members.remove(members.get(member_id), actor=caller())
    return "", 204

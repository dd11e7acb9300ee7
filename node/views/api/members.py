"""Members and invitations, for organisers (scope `members`), and the token's own member at /me."""

from __future__ import annotations

from schemas import api as shapes
from schemas.invitations import InvitationIn, InvitationList, InvitationOut, InvitationSent
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


# Invitations mailed to an address --------------------------------------------------------


def _invitation(sent: invitations.Sent) -> dict:
    found = sent.invite
    return InvitationOut().dump(
        {
            "id": found.id,
            "email": found.email,
            "role": found.role,
            "display_name": found.display_name,
            "invited_by": found.created_by.display_name if found.created_by else None,
            "sent_at": found.created_at,
            "expires_at": found.expires_at,
            "state": sent.state,
            "mail_suppressed": sent.suppressed,
        }
    )


def _with_link(found, value: str) -> dict:
    link = html_url("auth.accept_invite", "/invite/{token}", token=value)
    return {**_invitation(invitations.describe(found)), "invite_url": link}


@bp.get("/invitations")
@operation(
    "List invitations not yet used",
    MANAGE,
    query=shapes.NoQuery,
    response=InvitationList,
    description="Newest first, at most 200: each with when it was sent, when it expires and "
    "its state (pending, expired or bounced).",
)
def list_invitations():
    query_args(shapes.NoQuery())
    return {"items": [_invitation(sent) for sent in invitations.sent_invitations()]}


@bp.post("/invitations")
@no_store  # the answer carries the invitation link
@operation(
    "Mail an invitation to an address",
    MANAGE,
    body=InvitationIn,
    response=InvitationSent,
    status=201,
    description="The invitation is mailed at once (kind `account`); `invite_url` is the "
    f"same link, shown only here. 409 if the address is a member's or already invited. "
    f"{ADMIN_RULE}",
    errors=(409,),
)
def create_invitation():
    data = body(InvitationIn())
    email = data["email"].lower()
    value = invitations.invite(
        caller(),
        role=data.get("role") or "member",
        email=email,
        name=data.get("display_name") or "",
    )
    found = invitations.pending_for(email)
    return created(_with_link(found, value), "api.list_invitations")


@bp.post(f"/invitations/<{ID}:invite_id>/resend")
@no_store
@operation(
    "Mail an invitation again with a new link",
    MANAGE,
    response=InvitationSent,
    description="A new link and a new expiry; the old link stops working. 409 if it was "
    f"used. {ADMIN_RULE}",
    errors=(404, 409),
)
def resend_invitation(invite_id: int):
    found = invitations.get_sent(invite_id)
    value = invitations.resend(found, caller())
    return _with_link(found, value)


@bp.delete(f"/invitations/<{ID}:invite_id>")
@operation(
    "Revoke an invitation",
    MANAGE,
    status=204,
    description=f"Its link stops working. 409 if it was used. {ADMIN_RULE}",
    errors=(404, 409),
)
def revoke_invitation(invite_id: int):
    invitations.revoke(invitations.get_sent(invite_id), caller())
    return "", 204

"""Ballots: organisers set them up and close them; members vote and check their receipts."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from flask import g
from marshmallow import fields

from schemas import api as shapes
from schemas.ballots import (
    BallotChange,
    BallotIn,
    BallotOut,
    OpenedPaperOut,
    PaperOut,
    ReceiptOut,
    ResultOut,
    TellerCodeIn,
    TellerCodeOut,
    TrackerOut,
    VoteIn,
)
from schemas.common import PageArgs, Text

from ...models import Ballot
from ...services.organising.records import can_see_members_only
from ...services.voting import ballot_box, ballot_tellers, ballots, votes
from ..no_store import no_store
from .access import PUBLIC, caller, operation, token, viewer
from .blueprint import bp
from .content import ID, WRITE
from .exchange import body, created, html_url, page_response, query_args

ONE = f"/ballots/<{ID}:ballot_id>"
# Built once: the vote is the hot path, and building a schema costs more than using one.
VOTE_IN = VoteIn()
RECEIPT_OUT = ReceiptOut()


class BallotItem(BallotOut):
    url = fields.String(metadata={"description": "the ballot's page"})
    has_voted = fields.Boolean(metadata={"description": "whether the token's member has voted"})


class PapersQuery(PageArgs):
    receipt = Text(40)


class TrackersQuery(PageArgs):
    tracker = Text(64)


def _dump(ballot: Ballot) -> dict[str, Any]:
    dumped = BallotOut().dump(ballot)
    dumped["state"] = ballots.state(ballot)
    dumped["options"] = [{"position": o.position, "label": o.label} for o in ballot.options]
    dumped["url"] = html_url("ballots.ballot", "/ballots/{ballot_id}", ballot_id=ballot.id)
    if ballot.sealed:
        dumped["public_key_fingerprint"] = ballot_tellers.key_fingerprint(ballot)
        # The tellers are shown to members; only a hash of their names leaves the node.
        if can_see_members_only(viewer()):
            dumped["tellers"] = ballot_tellers.teller_status(ballot)
    member = g.get("api_member")
    if member is not None:
        dumped["has_voted"] = votes.has_voted(ballot, member)
    return dumped


@bp.get("/ballots")
@operation(
    "List ballots",
    PUBLIC,
    query=PageArgs,
    response=shapes.page_of(BallotItem),
    description="Open and coming ballots first, then the latest closed. Members (a token "
    "with scope `read`) see every ballot; the public sees public ballots once closed.",
)
def list_ballots():
    args = query_args(PageArgs())
    found = ballots.listing(viewer(), **args)
    return {**page_response(found, BallotOut()), "items": [_dump(b) for b in found.items]}


@bp.get(ONE)
@operation("Get one ballot", PUBLIC, response=BallotItem, errors=(404,))
def get_ballot(ballot_id: int):
    return _dump(ballots.get(ballot_id, viewer()))


@bp.post("/ballots")
@operation(
    "Create a ballot",
    WRITE,
    body=BallotIn,
    response=BallotItem,
    status=201,
    description="Times without an offset are read in the group's time zone; freeze_at "
    "(who may vote: members who joined by then) defaults to the opening time and may not be "
    "later (400).",
    errors=(400,),
)
def create_ballot():
    found = ballots.create(body(BallotIn()), caller())
    return created(_dump(found), "api.get_ballot", ballot_id=found.id)


@bp.patch(ONE)
@operation(
    "Change a ballot before it opens",
    WRITE,
    body=BallotChange,
    response=BallotItem,
    description="Once a ballot opens its terms are fixed: this answers 409.",
    errors=(404, 409),
)
def update_ballot(ballot_id: int):
    found = ballots.get(ballot_id, viewer())
    return _dump(ballots.update(found, body(BallotChange(), partial=True)))


@bp.delete(ONE)
@operation(
    "Delete a ballot nobody has voted in",
    WRITE,
    status=204,
    description="A ballot with votes, or closed, stays on record: 409.",
    errors=(404, 409),
)
def delete_ballot(ballot_id: int):
    ballots.delete(ballots.get(ballot_id, viewer()))
    return "", 204


@bp.post(f"{ONE}/vote")
@no_store
@operation(
    "Vote",
    token("vote"),
    body=VoteIn,
    response=ReceiptOut,
    description="Casts the token's member's vote and answers with a receipt code, shown "
    "only this once: its first part is published with your choice at the close, the rest "
    "changes your vote where the ballot allows (send it back as receipt_code, with the "
    "token of the member who voted: nobody else's code works). A second vote from the same "
    "address, even after leaving and joining again, is 409; a member who joined after the "
    "freeze date, or is suspended, 403; a receipt code that is not the one this member was "
    "given for this ballot, 403; after the close, 409.",
    errors=(400, 403, 404, 409),
)
def vote(ballot_id: int):
    member = caller()
    found = votes.for_voting(ballot_id, member)
    data = body(VOTE_IN)
    receipt = votes.cast(found, member, data["choices"], data.get("receipt_code"))
    return RECEIPT_OUT.dump(receipt), 200 if receipt.changed else 201


@bp.post(f"{ONE}/close")
@operation(
    "Close a ballot now and count it",
    WRITE,
    response=ResultOut,
    description="Closes early (or when its time is up, before the worker does). The result "
    "goes on the group's feed as a Question with its counts if the ballot is public. A sealed "
    "ballot answers 202 with the ballot, its state counting: the result comes when enough "
    "tellers have given their shares.",
    errors=(404, 409),
)
def close_ballot(ballot_id: int):
    found = ballots.close(ballots.get(ballot_id, viewer()), early=True)
    if not ballots.has_result(found):
        return _dump(found), 202  # sealed: counting, until k tellers give their shares
    return ResultOut().dump(ballots.result(found))


@bp.get(f"{ONE}/result")
@operation(
    "Get a closed ballot's result",
    PUBLIC,
    response=ResultOut,
    description="Counts, turnout and quorum; for ranked ballots each STV round. Before the "
    "close: 403.",
    errors=(403, 404),
)
def ballot_result(ballot_id: int):
    return ResultOut().dump(ballots.result(ballots.get(ballot_id, viewer())))


@bp.get(f"{ONE}/papers")
@no_store
@operation(
    "List a closed ballot's papers",
    token("read"),
    query=PapersQuery,
    response=shapes.page_of(PaperOut),
    description="For members. A sealed ballot's opened papers in the count's shuffled order "
    "(position, choices, spoilt; no tracker beside them), so anyone can recount: before the "
    "tellers have counted, 403. A ballot set up before sealing: every paper's receipt with its "
    "choices (?receipt= finds one); before the close, 403.",
    errors=(403, 404),
)
def ballot_papers(ballot_id: int):
    found = ballots.get(ballot_id, caller())
    args = query_args(PapersQuery())
    if found.sealed:
        args.pop("receipt", None)
        return page_response(votes.papers(found, **args), OpenedPaperOut())
    return page_response(votes.papers(found, **args), PaperOut())


@bp.get(f"{ONE}/trackers")
@operation(
    "List the ballot box's trackers",
    token("read"),
    query=TrackersQuery,
    response=shapes.page_of(TrackerOut),
    description="For members, while voting is open and after: the tracker of every sealed "
    "paper, in tracker order. ?tracker= finds one (404 when no paper has it). A tracker "
    "proves a paper was cast and counted, never what it says. Ballots set up before sealing "
    "have none: 404.",
    errors=(404,),
)
def ballot_trackers(ballot_id: int):
    found = ballots.get(ballot_id, caller())
    args = query_args(TrackersQuery())
    listed = ballot_box.trackers(found, args["page"], args["per_page"], args.get("tracker"))
    items = [{"tracker": t} for t in listed.items]
    return page_response(replace(listed, items=items), TrackerOut())


@bp.post(f"{ONE}/teller-code")
@no_store
@operation(
    "Take your teller code",
    token("vote"),
    response=TellerCodeOut,
    status=201,
    description="For the ballot's tellers, before its key is dealt: makes your teller key and "
    "answers with its private half as a code, shown only this once (keep it: your share of "
    "the ballot key is sealed to it). Taking it again replaces it. Not a teller: 403; the key "
    "already dealt: 409.",
    errors=(403, 404, 409),
)
def take_teller_code(ballot_id: int):
    found = ballots.get(ballot_id, caller())
    return {"code": ballot_tellers.take_code(found, caller())}, 201


@bp.post(f"{ONE}/teller-code/confirm")
@no_store
@operation(
    "Show you kept your teller code",
    token("vote"),
    body=TellerCodeIn,
    response=BallotItem,
    description="Send back the code you took. When the last teller has, the ballot's key is "
    "dealt and the ballot can open. A code that is not yours: 400 (field code).",
    errors=(400, 403, 404, 409),
)
def confirm_teller_code(ballot_id: int):
    found = ballots.get(ballot_id, caller())
    data = body(TellerCodeIn())
    return _dump(ballot_tellers.confirm_code(found, caller(), data["code"]))


@bp.post(f"{ONE}/shares")
@no_store
@operation(
    "Give your share to count",
    token("vote"),
    body=TellerCodeIn,
    response=BallotItem,
    description="For tellers, after the close: your teller code opens your share of the "
    "ballot key, which is kept only until enough tellers have given theirs; then the papers "
    "are opened, shuffled and counted, and every share forgotten. Not a teller: 403; before "
    "the close, a repeated share, or already counted: 409; a code that does not open your "
    "share: 400 (field code).",
    errors=(400, 403, 404, 409),
)
def give_share(ballot_id: int):
    found = ballots.get(ballot_id, caller())
    data = body(TellerCodeIn())
    return _dump(ballot_tellers.submit_share(found, caller(), data["code"]))

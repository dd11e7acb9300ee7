"""The controlled vocabularies a group's content uses, shared by the API, forms and models."""

ROLES = ("member", "organiser", "admin")
MEMBER_STATUSES = ("active", "suspended", "left")
VISIBILITIES = ("public", "members")

CAMPAIGN_KINDS = ("election", "community", "union_solidarity", "selection", "policy", "internal")
CAMPAIGN_STATUSES = ("planned", "active", "won", "lost", "ended")

EVENT_KINDS = (
    "canvass",
    "phonebank",
    "street_stall",
    "listening_session",
    "meeting",
    "agm",
    "training",
    "social",
    "picket",
    "hustings",
    "carpool",
    "other",
)
EVENT_STATUSES = ("scheduled", "postponed", "cancelled")
RSVP_RESPONSES = ("going", "maybe", "not_going")

CANDIDATE_OFFICES = (
    "council_ward",
    "parliamentary_seat",
    "mayor",
    "nec",
    "regional_board",
    "conference_delegate",
    "other",
)
CANDIDATE_STAGES = (
    "interested",
    "nominated",
    "longlisted",
    "shortlisted",
    "selected",
    "elected",
    "defeated",
    "withdrawn",
)
ENDORSEMENTS = ("none", "proposed", "endorsed")

# yes/no/abstain; choose one option; choose up to N; rank them (STV for N seats).
BALLOT_KINDS = ("yes_no", "choose_one", "choose_many", "ranked")
# waiting_for_tellers: a sealed ballot whose key is not dealt; counting: closed, not yet opened.
BALLOT_STATES = ("scheduled", "waiting_for_tellers", "open", "closing", "counting", "closed")
# passed/rejected: a motion; decided/tied: choose one or many; elected: ranked; no_votes;
# no_quorum: too few voted, whatever the papers said.
BALLOT_OUTCOMES = ("passed", "rejected", "decided", "tied", "elected", "no_votes", "no_quorum")
YES_NO_OPTIONS = ("Yes", "No", "Abstain")

TOKEN_SCOPES = ("read", "rsvp", "vote", "mail", "write", "members", "group", "announce")
SCOPES_BY_ROLE = {
    "member": ("read", "rsvp", "vote", "mail"),
    "organiser": TOKEN_SCOPES,
    "admin": TOKEN_SCOPES,
}


def label(value: str) -> str:
    """Turn a vocabulary value into words for people: ``street_stall`` -> ``Street stall``."""
    special = {"agm": "AGM", "nec": "NEC", "rsvp": "RSVP", "yes_no": "Yes/No"}
    if value in special:
        return special[value]
    return value.replace("_", " ").capitalize()

"""The node's tables. Only services change them."""

from .aggregate import CombinedEntry, CombinedFeedState, Listing, QuarantinedEntry
from .asks import AskReply, InboundAsk, OutboundAsk
from .attendee import GuestRsvp
from .ballot import (
    Ballot,
    BallotOpened,
    BallotOption,
    BallotPaper,
    BallotTeller,
    BallotVoter,
)
from .block import Block
from .carpool import CarpoolOffer, CarpoolRequest
from .content import Campaign, Candidate, Event, Post, Rsvp
from .federation import (
    Delivery,
    EarlyEntry,
    FeedEntry,
    Follower,
    Following,
    Peer,
    ReceivedActivity,
    RemoteEntry,
    RemoteObject,
)
from .geo import PostcodeDistrict
from .group import Group
from .idempotency import IdempotentRequest
from .joining import JoinRequest
from .mail import OutboundMail
from .member import ROLE_RANK, Invite, LoginFailure, Member, MemberSession, PasswordReset
from .messaging import Announcement, MailAddress, MailPreference
from .notice import MailNotice
from .oauth import ApiClient, ApiToken, digest
from .picture import Picture
from .request_count import RequestCount
from .series import EventSeries, SeriesException
from .shift import Shift, ShiftSignup
from .state import SiteState
from .twinning import OutgoingRsvp, RemoteRsvp, Twinning
from .types import UTCDateTime, utcnow
from .worker import WorkerHeartbeat

__all__ = [
    "ROLE_RANK",
    "ApiClient",
    "ApiToken",
    "Announcement",
    "AskReply",
    "Ballot",
    "BallotOpened",
    "BallotOption",
    "BallotPaper",
    "BallotTeller",
    "BallotVoter",
    "Block",
    "Campaign",
    "Candidate",
    "CarpoolOffer",
    "CarpoolRequest",
    "CombinedEntry",
    "CombinedFeedState",
    "Delivery",
    "EarlyEntry",
    "Event",
    "EventSeries",
    "GuestRsvp",
    "FeedEntry",
    "Follower",
    "Following",
    "Group",
    "InboundAsk",
    "IdempotentRequest",
    "Invite",
    "JoinRequest",
    "Listing",
    "MailAddress",
    "MailNotice",
    "MailPreference",
    "LoginFailure",
    "MemberSession",
    "Member",
    "OutboundMail",
    "OutboundAsk",
    "OutgoingRsvp",
    "PasswordReset",
    "Peer",
    "Picture",
    "Post",
    "PostcodeDistrict",
    "QuarantinedEntry",
    "ReceivedActivity",
    "RemoteEntry",
    "RemoteObject",
    "RemoteRsvp",
    "RequestCount",
    "Rsvp",
    "SeriesException",
    "Shift",
    "ShiftSignup",
    "SiteState",
    "Twinning",
    "UTCDateTime",
    "WorkerHeartbeat",
    "digest",
    "utcnow",
]

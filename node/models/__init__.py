"""The node's tables. Only services change them."""

from .content import Campaign, Candidate, Event, Post, Rsvp
from .federation import (
    Delivery,
    FeedEntry,
    Follower,
    Following,
    Peer,
    ReceivedActivity,
    RemoteEntry,
    RemoteObject,
)
from .group import Group
from .member import ROLE_RANK, Invite, LoginFailure, Member, PasswordReset
from .oauth import ApiClient, ApiToken, digest
from .state import SiteState
from .types import UTCDateTime, utcnow

__all__ = [
    "ROLE_RANK",
    "ApiClient",
    "ApiToken",
    "Campaign",
    "Candidate",
    "Delivery",
    "Event",
    "FeedEntry",
    "Follower",
    "Following",
    "Group",
    "Invite",
    "LoginFailure",
    "Member",
    "PasswordReset",
    "Peer",
    "Post",
    "ReceivedActivity",
    "RemoteEntry",
    "RemoteObject",
    "Rsvp",
    "SiteState",
    "UTCDateTime",
    "digest",
    "utcnow",
]

"""What drivers and riders of a carpool are told by e-mail, and only once it concerns them:
a match (with each other's name and address), a match undone, a ride off, a seat free.

Each is a change to an event the member is going to (kind ``event_changes``), so a member
who turned those off is not told, and every message carries the one-click unsubscribe.
"""

from __future__ import annotations

from flask_babel import gettext

from ...models import CarpoolOffer, CarpoolRequest, Event, Member
from ..groups import base_url
from ..messaging import outbox
from ..messaging.outbox import Recipient


def _title(event: Event) -> str:
    return outbox.literal(" ".join(event.title.split()))


def _send(member: Member, subject: str, body: str, event: Event) -> None:
    outbox.queue(
        Recipient(member.email, member.display_name, member.id),
        "event_changes",
        subject,
        body,
        source=f"carpool:{event.id}",
    )


def _name(member: Member) -> str:
    return outbox.literal(member.display_name)


def _who(member: Member) -> str:
    return outbox.literal(f"{member.display_name} <{member.email}>")


def _link(event: Event) -> str:
    return outbox.link(f"{(base_url() or '').rstrip('/')}/events/{event.id}#carpools")


def _title_plain(event: Event) -> str:
    return " ".join(event.title.split())


def tell_matched(
    event: Event, request: CarpoolRequest, offer: CarpoolOffer, rider: Member, driver: Member
) -> None:
    """Tell a rider and their driver that they are matched, each with the other's address."""
    rider_note = (
        "\n" + gettext("Their note: %(note)s", note=outbox.literal(request.note))
        if request.note
        else ""
    )
    driver_note = (
        "\n" + gettext("Their note: %(note)s", note=outbox.literal(offer.note))
        if offer.note
        else ""
    )
    _send(
        rider,
        gettext("You have a ride: %(title)s", title=_title_plain(event)),
        gettext("An organiser has found you a seat to %(title)s.", title=_title(event))
        + "\n\n"
        + gettext("Your driver: %(who)s", who=_who(driver))
        + "\n"
        + gettext("Setting off from: %(place)s", place=outbox.literal(offer.from_place))
        + driver_note
        + "\n\n"
        + gettext(
            "Get in touch with them to arrange where and when to meet. If your plans change, "
            "withdraw your request on the event's page so the seat can go to someone else: "
            "%(link)s",
            link=_link(event),
        ),
        event,
    )
    _send(
        driver,
        gettext("You have a rider: %(title)s", title=_title_plain(event)),
        gettext(
            "An organiser has matched a rider with your offer of seats to %(title)s.",
            title=_title(event),
        )
        + "\n\n"
        + gettext("Your rider: %(who)s", who=_who(rider))
        + "\n"
        + gettext("Coming from: %(place)s", place=outbox.literal(request.from_place))
        + rider_note
        + "\n\n"
        + gettext(
            "Get in touch with them to arrange the pick-up. The event: %(link)s", link=_link(event)
        ),
        event,
    )


def tell_unmatched(event: Event, rider: Member, driver: Member) -> None:
    """Tell a rider and their driver that an organiser undid their match."""
    _send(
        rider,
        gettext("Your ride has changed: %(title)s", title=_title_plain(event)),
        gettext(
            "An organiser has undone your ride with %(driver)s to %(title)s. You are still on "
            "the list of those asking for a ride, and an organiser will look for another seat "
            "for you.",
            driver=_name(driver),
            title=_title(event),
        )
        + "\n\n"
        + gettext("The event: %(link)s", link=_link(event)),
        event,
    )
    _send(
        driver,
        gettext("Your carpool has changed: %(title)s", title=_title_plain(event)),
        gettext(
            "An organiser has moved %(rider)s out of your car for %(title)s, so their seat is "
            "free again.",
            rider=_name(rider),
            title=_title(event),
        )
        + "\n\n"
        + gettext("The event: %(link)s", link=_link(event)),
        event,
    )


def tell_ride_off(event: Event, rider: Member, driver: Member) -> None:
    """Tell a rider that their driver withdrew their offer."""
    _send(
        rider,
        gettext("Your ride is off: %(title)s", title=_title_plain(event)),
        gettext(
            "%(driver)s can no longer drive to %(title)s, so your ride with them is off.",
            driver=_name(driver),
            title=_title(event),
        )
        + "\n\n"
        + gettext(
            "You are still on the list of those asking for a ride, and an organiser will look "
            "for another seat for you. If you have made other plans, withdraw your request on "
            "the event's page: %(link)s",
            link=_link(event),
        ),
        event,
    )


def tell_seat_free(event: Event, rider: Member, driver: Member) -> None:
    """Tell a driver that their rider withdrew their request."""
    _send(
        driver,
        gettext("A rider no longer needs your seat: %(title)s", title=_title_plain(event)),
        gettext(
            "%(rider)s no longer needs a ride to %(title)s, so their seat in your car is free "
            "again; an organiser may match someone else with you.",
            rider=_name(rider),
            title=_title(event),
        )
        + "\n\n"
        + gettext("The event: %(link)s", link=_link(event)),
        event,
    )

"""What drivers and riders of a carpool are told by e-mail, and only once it concerns them:
a match (with each other's name and address), a match undone, a ride off, a seat free.

Each is a change to an event the member is going to (kind ``event_changes``), so a member
who turned those off is not told, and every message carries the one-click unsubscribe.
"""

from __future__ import annotations

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


def _subject(what: str, event: Event) -> str:
    return f"{what}: {' '.join(event.title.split())}"[:500]


def _link(event: Event) -> str:
    return outbox.link(f"{(base_url() or '').rstrip('/')}/events/{event.id}#carpools")


def tell_matched(
    event: Event, request: CarpoolRequest, offer: CarpoolOffer, rider: Member, driver: Member
) -> None:
    """Tell a rider and their driver that they are matched, each with the other's address."""
    rider_note = f"\nTheir note: {outbox.literal(request.note)}" if request.note else ""
    driver_note = f"\nTheir note: {outbox.literal(offer.note)}" if offer.note else ""
    _send(
        rider,
        _subject("You have a ride", event),
        f"An organiser has found you a seat to {_title(event)}.\n\n"
        f"Your driver: {_who(driver)}\n"
        f"Setting off from: {outbox.literal(offer.from_place)}{driver_note}\n\n"
        "Get in touch with them to arrange where and when to meet. If your plans change, "
        f"withdraw your request on the event's page so the seat can go to someone else: "
        f"{_link(event)}",
        event,
    )
    _send(
        driver,
        _subject("You have a rider", event),
        f"An organiser has matched a rider with your offer of seats to {_title(event)}.\n\n"
        f"Your rider: {_who(rider)}\n"
        f"Coming from: {outbox.literal(request.from_place)}{rider_note}\n\n"
        f"Get in touch with them to arrange the pick-up. The event: {_link(event)}",
        event,
    )


def tell_unmatched(event: Event, rider: Member, driver: Member) -> None:
    """Tell a rider and their driver that an organiser undid their match."""
    _send(
        rider,
        _subject("Your ride has changed", event),
        f"An organiser has undone your ride with {_name(driver)} to {_title(event)}. You are"
        " still on the list of those asking for a ride, and an organiser will look "
        f"for another seat for you.\n\nThe event: {_link(event)}",
        event,
    )
    _send(
        driver,
        _subject("Your carpool has changed", event),
        f"An organiser has moved {_name(rider)} out of your car for {_title(event)}, "
        f"so their seat is free again.\n\nThe event: {_link(event)}",
        event,
    )


def tell_ride_off(event: Event, rider: Member, driver: Member) -> None:
    """Tell a rider that their driver withdrew their offer."""
    _send(
        rider,
        _subject("Your ride is off", event),
        f"{_name(driver)} can no longer drive to {_title(event)}, so your ride "
        "with them is off.\n\n"
        "You are still on the list of those asking for a ride, and an organiser will "
        "look for another seat for you. If you have made other plans, withdraw your "
        f"request on the event's page: {_link(event)}",
        event,
    )


def tell_seat_free(event: Event, rider: Member, driver: Member) -> None:
    """Tell a driver that their rider withdrew their request."""
    _send(
        driver,
        _subject("A rider no longer needs your seat", event),
        f"{_name(rider)} no longer needs a ride to {_title(event)}, so their seat in "
        "your car is free again; an organiser may match someone else with you.\n\n"
        f"The event: {_link(event)}",
        event,
    )

"""What drivers and riders of a carpool are told by e-mail, and only once it concerns them:
a match (with each other's name and address), a match undone, a ride off, a seat free."""

from __future__ import annotations

from ...models import CarpoolOffer, CarpoolRequest, Event, Member
from .. import mail
from ..groups import base_url


def _title(event: Event) -> str:
    return " ".join(event.title.split())


def _subject(what: str, event: Event) -> str:
    return f"{what}: {_title(event)}"[:500]


def _link(event: Event) -> str:
    return f"{(base_url() or '').rstrip('/')}/events/{event.id}#carpools"


def tell_matched(
    event: Event, request: CarpoolRequest, offer: CarpoolOffer, rider: Member, driver: Member
) -> None:
    """Tell a rider and their driver that they are matched, each with the other's address."""
    rider_note = f"\nTheir note: {request.note}" if request.note else ""
    driver_note = f"\nTheir note: {offer.note}" if offer.note else ""
    mail.send(
        rider.email,
        _subject("You have a ride", event),
        f"An organiser has found you a seat to {_title(event)}.\n\n"
        f"Your driver: {driver.display_name} <{driver.email}>\n"
        f"Setting off from: {offer.from_place}{driver_note}\n\n"
        "Get in touch with them to arrange where and when to meet. If your plans change, "
        f"withdraw your request on the event's page so the seat can go to someone else: "
        f"{_link(event)}",
    )
    mail.send(
        driver.email,
        _subject("You have a rider", event),
        f"An organiser has matched a rider with your offer of seats to {_title(event)}.\n\n"
        f"Your rider: {rider.display_name} <{rider.email}>\n"
        f"Coming from: {request.from_place}{rider_note}\n\n"
        f"Get in touch with them to arrange the pick-up. The event: {_link(event)}",
    )


def tell_unmatched(event: Event, rider: Member, driver: Member) -> None:
    """Tell a rider and their driver that an organiser undid their match."""
    mail.send(
        rider.email,
        _subject("Your ride has changed", event),
        f"An organiser has undone your ride with {driver.display_name} to {_title(event)}. "
        "You are still on the list of those asking for a ride, and an organiser will look "
        f"for another seat for you.\n\nThe event: {_link(event)}",
    )
    mail.send(
        driver.email,
        _subject("Your carpool has changed", event),
        f"An organiser has moved {rider.display_name} out of your car for {_title(event)}, "
        f"so their seat is free again.\n\nThe event: {_link(event)}",
    )


def tell_ride_off(event: Event, rider: Member, driver: Member) -> None:
    """Tell a rider that their driver withdrew their offer."""
    mail.send(
        rider.email,
        _subject("Your ride is off", event),
        f"{driver.display_name} can no longer drive to {_title(event)}, so your ride "
        "with them is off.\n\n"
        "You are still on the list of those asking for a ride, and an organiser will "
        "look for another seat for you. If you have made other plans, withdraw your "
        f"request on the event's page: {_link(event)}",
    )


def tell_seat_free(event: Event, rider: Member, driver: Member) -> None:
    """Tell a driver that their rider withdrew their request."""
    mail.send(
        driver.email,
        _subject("A rider no longer needs your seat", event),
        f"{rider.display_name} no longer needs a ride to {_title(event)}, so their seat in "
        "your car is free again; an organiser may match someone else with you.\n\n"
        f"The event: {_link(event)}",
    )

"""The flight bot's custom actions: forget a finished booking, confirm every detail, tidy values."""

import re
from typing import Any, Dict, List, Optional

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

REQUIRED = ["origin", "destination", "departure_date"]
OPTIONAL = ["return_date", "passengers", "travel_class"]
BOOKING = REQUIRED + OPTIONAL + ["time", "airline"]
NEW_BOOKING = {"book_flight", "inform"}  # intents whose details start a new booking

NUMBERS = {
    "one": 1, "single": 1, "two": 2, "couple": 2, "pair": 2, "three": 3, "four": 4,
    "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
}  # fmt: skip
# Words that name one traveller each in "me and my wife", "my son and I".
PEOPLE = set("me i myself wife husband partner friend son daughter kid child baby mom dad".split())
PEOPLE |= set("mother father brother sister boyfriend girlfriend colleague".split())
CLASSES = {"economy": "economy", "coach": "economy", "premium": "premium economy",
           "business": "business", "first": "first"}  # fmt: skip


def set_since_last_message(tracker: Tracker) -> set:
    """Slots set by the user's latest message (Rasa sets them right after it)."""
    names = set()
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            break
        if event.get("event") == "slot":
            names.add(event.get("name"))
    return names


def passenger_count(text: Any) -> Optional[int]:
    """'two', '3', 'me and my wife', 'the two of us', 'just me' -> a count; None if unclear."""
    words = re.findall(r"[a-z0-9]+", str(text).lower())
    digits = [int(w) for w in words if w.isdigit()]
    if digits:
        return digits[0] if 0 < digits[0] < 100 else None
    named = [NUMBERS[w] for w in words if w in NUMBERS]
    if named:
        return named[0]
    found = sum(w in PEOPLE for w in words)
    return found or None


def travel_class(text: Any) -> Optional[str]:
    """'Business class', 'economy', 'premium economy' -> a class name; None if unknown."""
    words = str(text).lower().split()
    return next((CLASSES[w] for w in words if w in CLASSES), None)


def city_name(text: Any) -> Any:
    """'salt lake city' -> 'Salt Lake City' for display; a name with capitals is kept as typed."""
    if isinstance(text, str) and text == text.lower():
        return " ".join(w[:1].upper() + w[1:] for w in text.split())
    return text


def details(tracker: Tracker) -> str:
    """The optional booking details as a clause for the confirmation: ', returning ...'."""
    parts = []
    if tracker.get_slot("return_date"):
        parts.append(f"returning {tracker.get_slot('return_date')}")
    given = tracker.get_slot("passengers")
    if given:
        count = passenger_count(given) or given
        parts.append("for 1 passenger" if str(count) == "1" else f"for {count} passengers")
    given = tracker.get_slot("travel_class")
    if given:
        parts.append(f"in {travel_class(given) or given} class")
    return "".join(f", {p}" for p in parts)


class ActionResetBooking(Action):
    """Forgets the last booking's details: all of them (done, cancelled, refused), or, when the
    latest message asks for a new booking, those it did not give, and nothing if the form is
    still collecting them."""

    def name(self) -> str:
        return "action_reset_booking"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[str, Any]]:
        starts = (tracker.latest_message.get("intent") or {}).get("name") in NEW_BOOKING
        if starts and tracker.active_loop.get("name"):
            return []  # a booking in progress (a misread "book" mid-form) keeps what was given
        # A new booking ("book me a flight to chicago") keeps what its request named.
        keep = set_since_last_message(tracker) if starts else set()
        return [SlotSet(s, None) for s in BOOKING if s not in keep and tracker.get_slot(s)]


class ActionConfirmBooking(Action):
    """Asks to confirm the booking with every detail given (response utter_confirm_booking)."""

    def name(self) -> str:
        return "action_confirm_booking"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[str, Any]]:
        cities = {s: city_name(tracker.get_slot(s)) for s in ("origin", "destination")}
        dispatcher.utter_message(
            response="utter_confirm_booking", details=details(tracker), **cities
        )
        return []


class ValidateFlightForm(FormValidationAction):
    """Asks only for the required slots; tidies the optional ones when they are given."""

    def name(self) -> str:
        return "validate_flight_form"

    async def required_slots(
        self,
        domain_slots: List[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> List[str]:
        given = [s for s in OPTIONAL if tracker.get_slot(s) is not None]
        return [s for s in domain_slots if s in REQUIRED or s in given]

    def validate_passengers(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        count = passenger_count(value)
        return {"passengers": str(count) if count else value}

    def validate_travel_class(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        return {"travel_class": travel_class(value) or value}

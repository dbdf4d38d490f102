"""The default bot's custom actions (actions/actions.py), run by rasa_sdk's own dispatcher."""

import asyncio

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.actions import (
    ActionConfirmBooking,
    ActionResetBooking,
    ValidateFlightForm,
    passenger_count,
    travel_class,
)
from tests.conftest import REPO

DOMAIN = yaml.safe_load((REPO / "config" / "domain.yml").read_text())


def tracker(slots: dict, events: list = (), intent: str = "", form: str = "") -> Tracker:
    latest = {"intent": {"name": intent}} if intent else {}
    loop = {"name": form} if form else {}
    return Tracker("u", slots, latest, list(events), False, None, loop, "action_listen")


def run(action, state: Tracker):
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, state, DOMAIN))
    return dispatcher.messages, events


@pytest.mark.parametrize(
    "text, count",
    [("two", 2), ("3", 3), ("me and my wife", 2), ("my son and I", 2), ("the two of us", 2),
     ("just me", 1), ("four adults", 4), ("many", None), ("500", None)],
)  # fmt: skip
def test_passenger_count(text, count):
    assert passenger_count(text) == count


def test_travel_class():
    assert [travel_class(t) for t in ["Business", "premium economy", "first", "coach", "vip"]] == [
        "business",
        "premium economy",
        "first",
        "economy",
        None,
    ]


def test_reset_keeps_only_what_the_latest_message_gave():
    old = {"origin": "Boston", "destination": "Denver", "departure_date": "tomorrow"}
    events = [
        {"event": "user", "text": "book me a flight to chicago"},
        {"event": "slot", "name": "destination", "value": "chicago"},
    ]
    state = tracker({**old, "destination": "chicago"}, events, intent="book_flight")
    _, reset = run(ActionResetBooking(), state)
    assert {e["name"]: e["value"] for e in reset} == {"origin": None, "departure_date": None}


def test_reset_after_a_refused_change_forgets_the_change_too():
    events = [
        {"event": "user", "text": "make it three people"},
        {"event": "slot", "name": "passengers", "value": "three"},
    ]
    state = tracker({"passengers": "three"}, events, intent="change_booking")
    _, reset = run(ActionResetBooking(), state)
    assert reset == [{"event": "slot", "timestamp": None, "name": "passengers", "value": None}]


def test_cancel_while_the_form_asks_forgets_the_booking():
    slots = {"origin": "Boston", "destination": "Denver"}
    events = [{"event": "user", "text": "forget it"}]
    state = tracker(slots, events, intent="cancel_booking", form="flight_form")
    _, reset = run(ActionResetBooking(), state)
    assert {e["name"]: e["value"] for e in reset} == {"origin": None, "destination": None}


def test_reset_while_the_form_collects_the_booking_forgets_nothing():
    slots = {"origin": "Boston", "destination": "Denver"}
    events = [{"event": "user", "text": "book it from boston"}]
    state = tracker(slots, events, intent="book_flight", form="flight_form")
    assert run(ActionResetBooking(), state)[1] == []


def test_reset_after_a_plain_yes_forgets_the_whole_booking():
    slots = {"origin": "Boston", "destination": "Denver", "passengers": "2", "airline": "KLM"}
    state = tracker(slots, [{"event": "user", "text": "yes"}], intent="affirm")
    _, reset = run(ActionResetBooking(), state)
    assert {e["name"] for e in reset} == set(slots)
    assert all(e["value"] is None for e in reset)


def test_confirmation_names_every_detail_given():
    slots = {"origin": "Rome", "destination": "Oslo", "departure_date": "friday"}
    messages, _ = run(ActionConfirmBooking(), tracker(slots))
    assert messages[0]["response"] == "utter_confirm_booking"
    assert messages[0]["details"] == ""
    more = {**slots, "return_date": "sunday", "passengers": "1", "travel_class": "first"}
    messages, _ = run(ActionConfirmBooking(), tracker(more))
    assert messages[0]["details"] == ", returning sunday, for 1 passenger, in first class"


def test_form_asks_only_for_the_required_slots():
    form = ValidateFlightForm()
    domain_slots = form.domain_slots(DOMAIN)
    assert set(domain_slots) > {"origin", "destination", "departure_date", "passengers"}
    state = tracker({"origin": "Rome", "passengers": "two"}, [{"event": "user", "text": "x"}])
    required = asyncio.run(form.required_slots(domain_slots, CollectingDispatcher(), state, DOMAIN))
    assert required == ["origin", "destination", "departure_date", "passengers"]
    state = tracker(
        {"origin": "Rome", "passengers": "me and my wife", "requested_slot": "destination"},
        [
            {"event": "user", "text": "me and my wife"},
            {"event": "slot", "name": "passengers", "value": "me and my wife"},
        ],
    )
    _, events = run(form, state)
    slots = {e["name"]: e["value"] for e in events}
    assert slots == {"passengers": "2", "requested_slot": "destination"}

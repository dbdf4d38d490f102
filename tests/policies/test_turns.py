"""Rasa states grouped into turns: the memory and the query of the memory network."""

from rnn_nlu.features import Vocabulary
from rnn_nlu.policies.turns import encode, memory_and_query


def state(prev: str, intent: str = None, entities=(), slots=None) -> dict:
    s = {"prev_action": {"action_name": prev}}
    if intent:
        s["user"] = {"intent": intent, "entities": tuple(entities)}
    if slots:
        s["slots"] = slots
    return s


# greet -> utter_greet; book (city) -> utter_ack, utter_ask; ask -> (current, one action done)
STATES = [
    {},
    state("action_listen", "greet"),
    state("utter_greet", "greet"),
    state("action_listen", "book", ["city"], {"city": (1.0,)}),
    state("utter_ack", "book", ["city"], {"city": (1.0,)}),
    state("utter_ask", "book", ["city"], {"city": (1.0,)}),
    state("action_listen", "ask", slots={"city": (1.0,)}),
    state("utter_first", "ask", slots={"city": (1.0,)}),
]


def test_each_past_turn_is_one_slot_most_recent_first_with_its_bot_actions():
    memory, query = memory_and_query(STATES)
    assert memory == [
        [
            "entity_city",
            "intent_book",
            "prev_action_utter_ack",
            "prev_action_utter_ask",
            "slot_city_0",
        ],
        ["intent_greet", "prev_action_utter_greet"],
    ]  # the empty start state remembers nothing
    assert query == ["intent_ask", "prev_action_utter_first", "slot_city_0"]


def test_actions_already_taken_in_the_current_turn_are_in_the_query():
    _, query = memory_and_query(STATES + [state("utter_second", "ask")])
    assert "earlier_action_utter_first" in query and "prev_action_utter_second" in query


def test_encoding_pads_turns_and_symbols_and_maps_unknown_symbols_to_unk():
    memory, query = memory_and_query(STATES)
    vocabulary = Vocabulary.build([*memory, query], lowercase=False)
    x = encode([memory_and_query(c) for c in (STATES, STATES[:2], [])], vocabulary)
    assert x["memory"].shape == (3, 2, 5) and x["query"].shape == (3, 5)
    assert not x["memory"][1:].any()  # one turn with no past, and no conversation at all
    unknown = encode([memory_and_query([state("action_listen", "never_seen")])], vocabulary)
    assert unknown["query"].tolist() == [[1, vocabulary.encode(["prev_action_action_listen"])[0]]]

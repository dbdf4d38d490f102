"""A conversation's Rasa states read as turns: the memory and the query of the memory network.

Rasa's `MaxHistoryTrackerFeaturizer` gives one state per bot action (user intent and entities,
slots, active loop, previous action), and repeats the user's message in every state of its turn.
Here states are grouped into turns: a turn starts where the previous action is `action_listen`
(the user spoke) and holds the user's intent and entities, the bot actions that answered them,
and the slots and active loop at its end. "k turns back" then means k exchanges, whatever the
number of bot actions in each, and the user's message is remembered once.
"""

from typing import Dict, List, Sequence, Tuple

import numpy as np
from rasa.shared.core.constants import (
    ACTION_LISTEN_NAME,
    ACTIVE_LOOP,
    LOOP_NAME,
    PREVIOUS_ACTION,
    SLOTS,
    USER,
)
from rasa.shared.core.domain import State
from rasa.shared.nlu.constants import ACTION_NAME, ENTITIES, INTENT

from rnn_nlu.features import Vocabulary

Bag = List[str]


def user_symbols(state: State) -> Bag:
    """["intent_<name>", "entity_<type>", ...] of the state's user message."""
    user = state.get(USER, {})
    symbols = [f"intent_{user[INTENT]}"] if user.get(INTENT) else []
    return symbols + [f"entity_{entity}" for entity in user.get(ENTITIES, ())]


def action_symbol(state: State, prefix: str = "prev_action_") -> Bag:
    """[prefix + the previous action's name], or [] when the state has none."""
    name = state.get(PREVIOUS_ACTION, {}).get(ACTION_NAME)
    return [prefix + name] if name else []


def context_symbols(state: State) -> Bag:
    """The active loop and the featurized slots: one symbol per non-zero entry
    (`slot_<name>_<index>`), so categorical and boolean slots keep their value."""
    symbols = []
    if state.get(ACTIVE_LOOP, {}).get(LOOP_NAME):
        symbols.append(f"active_loop_{state[ACTIVE_LOOP][LOOP_NAME]}")
    for slot, values in state.get(SLOTS, {}).items():
        if isinstance(values, str):  # e.g. rules' "should_not_be_set"
            symbols.append(f"slot_{slot}_{values}")
        else:
            symbols += [f"slot_{slot}_{i}" for i, value in enumerate(values) if value]
    return symbols


def state_symbols(state: State) -> Bag:
    """The bag of symbols of one Rasa state, e.g. ["intent_greet", "prev_action_action_listen"]."""
    return sorted(user_symbols(state) + action_symbol(state) + context_symbols(state))


def group_turns(states: Sequence[State]) -> List[List[State]]:
    """The states split into turns; each turn starts where the user spoke (or at the start)."""
    turns: List[List[State]] = []
    for state in states:
        if not turns or action_symbol(state) == ["prev_action_" + ACTION_LISTEN_NAME]:
            turns.append([])
        turns[-1].append(state)
    return turns


def turn_symbols(turn: Sequence[State]) -> Bag:
    """A past turn: the user's message, the bot actions that followed, the context at its end."""
    actions = [s for state in turn[1:] for s in action_symbol(state)]
    return sorted(set(user_symbols(turn[0]) + actions + context_symbols(turn[-1])))


def memory_and_query(states: Sequence[State]) -> Tuple[List[Bag], Bag]:
    """(past turns, most recent first; the query). The query is the current state with the bot
    actions already taken in the current turn (`earlier_action_<name>`)."""
    if not states:
        return [], []
    *past, current = group_turns(states)
    earlier = [s for state in current[1:-1] for s in action_symbol(state, "earlier_action_")]
    query = sorted(set(state_symbols(current[-1]) + earlier))
    memory = [bag for bag in map(turn_symbols, reversed(past)) if bag]
    return memory, query


def encode(read: Sequence[Tuple[List[Bag], Bag]], vocabulary: Vocabulary) -> Dict[str, np.ndarray]:
    """{"memory": (batch, turns, symbols), "query": (batch, symbols)} int32 ids, right-padded,
    of conversations already read by `memory_and_query`.

    Slot j of the memory is the turn j + 1 back; unused slots stay all-PAD (empty), and unknown
    symbols map to UNK.
    """
    encoded = [
        ([vocabulary.encode(t) if t else [] for t in memory], vocabulary.encode(q) if q else [])
        for memory, q in read
    ]
    turns = max((len(memory) for memory, _ in encoded), default=1) or 1
    width = max((len(b) for memory, q in encoded for b in [q, *memory]), default=1) or 1
    memory = np.zeros((len(encoded), turns, width), dtype=np.int32)
    query = np.zeros((len(encoded), width), dtype=np.int32)
    for i, (bags, q) in enumerate(encoded):
        query[i, : len(q)] = q
        for j, bag in enumerate(bags):
            memory[i, j, : len(bag)] = bag
    return {"memory": memory, "query": query}

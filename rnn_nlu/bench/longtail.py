"""A long-tailed subset of Rasa NLU data: what a real assistant's intents look like when a few
have many examples and most have few. Used to measure class weighting (README).

Intents are shuffled with the seed; the k-th of n keeps most * (fewest / most) ** (k / (n - 1))
examples (rounded; all it has if fewer), drawn at random with the same seed.
"""

import random
from collections import defaultdict
from pathlib import Path
from typing import Dict, List, Sequence

from rasa.shared.nlu.constants import INTENT
from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader, RasaYAMLWriter
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData


def tail_counts(intents: Sequence[str], most: int, fewest: int, seed: int) -> Dict[str, int]:
    """Examples to keep per intent: geometric from `most` down to `fewest`, in shuffled order."""
    if not 1 <= fewest <= most:
        raise ValueError(f"need 1 <= fewest <= most, got fewest {fewest}, most {most}")
    order = sorted(intents)
    random.Random(seed).shuffle(order)
    last = max(len(order) - 1, 1)
    return {i: round(most * (fewest / most) ** (k / last)) for k, i in enumerate(order)}


def long_tail(examples: Sequence[Message], most: int, fewest: int, seed: int) -> List[Message]:
    """The kept examples, intent by intent in shuffled order (see the module docstring)."""
    by_intent: Dict[str, List[Message]] = defaultdict(list)
    for message in examples:
        by_intent[message.get(INTENT)].append(message)
    rng = random.Random(seed)
    order = sorted(by_intent)
    rng.shuffle(order)
    counts = tail_counts(order, most, fewest, seed)
    kept: List[Message] = []
    for intent in order:
        kept += rng.sample(by_intent[intent], min(counts[intent], len(by_intent[intent])))
    return kept


def write_long_tail(source: Path, out: Path, most: int, fewest: int, seed: int) -> int:
    """Writes the long-tailed subset of the Rasa NLU YAML `source` to `out`; returns its size."""
    kept = long_tail(RasaYAMLReader().read(source).intent_examples, most, fewest, seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    RasaYAMLWriter().dump(out, TrainingData(kept))
    return len(kept)

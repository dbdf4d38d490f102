"""The long-tailed subset that measures class weighting: counts, determinism, what is kept."""

from collections import Counter

import pytest
from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader, RasaYAMLWriter
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from rnn_nlu.bench.__main__ import main
from rnn_nlu.bench.longtail import long_tail, tail_counts

INTENTS = [f"intent_{i}" for i in range(10)]
EXAMPLES = [Message.build(text=f"{i} says {n}", intent=i) for i in INTENTS for n in range(20)]


def test_counts_fall_geometrically_from_most_to_fewest():
    counts = sorted(tail_counts(INTENTS, most=20, fewest=2, seed=0).values(), reverse=True)
    assert counts == [round(20 * 0.1 ** (k / 9)) for k in range(10)]
    assert counts[0] == 20 and counts[-1] == 2


def test_subset_keeps_each_intent_its_count_of_its_own_examples():
    kept = long_tail(EXAMPLES, most=20, fewest=2, seed=0)
    assert Counter(m.get("intent") for m in kept) == tail_counts(INTENTS, 20, 2, 0)
    assert all(m.get("text").startswith(m.get("intent")) for m in kept)
    assert len({m.get("text") for m in kept}) == len(kept)  # drawn without repeats


def test_same_seed_same_subset_another_seed_another():
    texts = [[m.get("text") for m in long_tail(EXAMPLES, 20, 2, seed)] for seed in (0, 0, 1)]
    assert texts[0] == texts[1]
    assert texts[0] != texts[2]


def test_fewest_above_most_is_refused():
    with pytest.raises(ValueError, match="fewest"):
        tail_counts(INTENTS, most=5, fewest=6, seed=0)


def test_command_writes_yaml_rasa_reads(tmp_path):
    source = tmp_path / "train.yml"
    RasaYAMLWriter().dump(source, TrainingData(EXAMPLES))
    out = tmp_path / "tail" / "train.yml"
    main(["longtail", str(source), str(out), "--most", "20", "--fewest", "2"])
    read = RasaYAMLReader().read(out).intent_examples
    assert Counter(m.get("intent") for m in read) == tail_counts(INTENTS, 20, 2, 0)

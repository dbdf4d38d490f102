"""`rasa train --finetune` through Rasa's own training (`rasa.model_training.train` with
`model_to_finetune` and `finetuning_epoch_fraction`): every trainable component of ours continues
from the trained model for the reduced epochs, and the finetuned bot still knows its data."""

import asyncio
import logging
from pathlib import Path
from typing import Dict, List

import numpy as np
import pytest
from rasa.core.agent import Agent
from rasa.model_training import train

from tests.helpers import TINY_INTENTS
from tests.test_lifecycle import NEW_INTENT_EXAMPLES

SMALL = "embedding_dim: 16\n    rnn_units: 16\n    validation_split: 0.0\n    epochs: 20"
CONFIG = f"""recipe: default.v1
language: en
assistant_id: finetune_test
pipeline:
  - name: WhitespaceTokenizer
  - name: rnn_nlu.TextRNNClassifier
    {SMALL}
    ensemble_size: 1
    batch_size: 8
  - name: rnn_nlu.RCNNClassifier
    {SMALL.replace("rnn_units", "context_units")}
    ensemble_size: 2
    batch_size: 8
  - name: rnn_nlu.BiLSTMSlotFiller
    {SMALL}
    char_filters: 8
    char_embedding_dim: 8
    batch_size: 8
policies:
  - name: rnn_nlu.MemoryNetworkPolicy
    embedding_dim: 16
    max_history: 4
    epochs: 20
"""
CITIES = ["boston", "denver", "paris", "rome", "berlin", "london", "miami", "chicago"]
REPLIES = {i: f"utter_{i}" for i in TINY_INTENTS}


def nlu_yaml(intents: Dict[str, List[str]]) -> str:
    flights = [f"fly to [{c}](city)" for c in CITIES] + [f"a flight to [{c}](city)" for c in CITIES]
    blocks = []
    for intent, texts in intents.items():
        texts = texts + (flights if intent == "book_flight" else [])
        blocks.append(
            f"- intent: {intent}\n  examples: |\n" + "".join(f"    - {t}\n" for t in texts)
        )
    return 'version: "3.1"\nnlu:\n' + "".join(blocks)


def write_bot(folder: Path, intents: Dict[str, List[str]]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.yml").write_text(CONFIG)
    (folder / "nlu.yml").write_text(nlu_yaml(intents))
    (folder / "stories.yml").write_text(
        'version: "3.1"\nstories:\n'
        + "".join(
            f"- story: {i}\n  steps:\n  - intent: {i}\n  - action: {r}\n"
            for i, r in REPLIES.items()
        )
    )
    (folder / "domain.yml").write_text(
        'version: "3.1"\nintents:\n'
        + "".join(f"  - {i}\n" for i in TINY_INTENTS)
        + "entities:\n  - city\nresponses:\n"
        + "".join(f"  {r}:\n    - text: {r}\n" for r in REPLIES.values())
    )


def train_bot(folder: Path, out: Path, name: str, **finetuning) -> str:
    return train(
        str(folder / "domain.yml"),
        str(folder / "config.yml"),
        [str(folder / "nlu.yml"), str(folder / "stories.yml")],
        str(out),
        fixed_model_name=name,
        **finetuning,
    ).model


def confidences(agent: Agent, examples: Dict[str, List[str]]) -> np.ndarray:
    """Confidence of the right intent for each example, parsed by the whole bot."""
    found = []
    for intent, texts in examples.items():
        for text in texts:
            parsed = asyncio.run(agent.parse_message(text))
            found.append(
                next(r["confidence"] for r in parsed["intent_ranking"] if r["name"] == intent)
            )
    return np.array(found)


@pytest.mark.slow
def test_rasa_finetune_continues_every_component_for_the_reduced_epochs(tmp_path, caplog):
    first, second = tmp_path / "first", tmp_path / "second"
    write_bot(first, TINY_INTENTS)
    more = {i: TINY_INTENTS[i] + NEW_INTENT_EXAMPLES.get(i, []) for i in TINY_INTENTS}
    write_bot(second, more)

    trained = train_bot(first, tmp_path / "models", "trained")
    before = Agent.load(trained)
    with caplog.at_level(logging.INFO, logger="rnn_nlu"):
        finetuned = train_bot(
            second,
            tmp_path / "models",
            "finetuned",
            model_to_finetune=trained,
            finetuning_epoch_fraction=0.2,
        )
    continued = [r.getMessage() for r in caplog.records if "continuing from" in r.getMessage()]
    for component in ("TextRNNClassifier", "BiLSTMSlotFiller", "MemoryNetworkPolicy"):
        assert f"{component}: continuing from the trained weights for 4 epoch(s)." in continued
    # RCNN, the last classifier (its intents are the bot's), continues both of its networks.
    assert (
        continued.count("RCNNClassifier: continuing from the trained weights for 4 epoch(s).") == 2
    )

    after = Agent.load(finetuned)
    assert confidences(after, TINY_INTENTS).min() > 0.5  # the old data is still known
    new_before = confidences(before, NEW_INTENT_EXAMPLES).mean()
    assert confidences(after, NEW_INTENT_EXAMPLES).mean() > new_before
    parsed = asyncio.run(after.parse_message("fly to rome"))
    assert [(e["entity"], e["value"]) for e in parsed["entities"]] == [("city", "rome")]

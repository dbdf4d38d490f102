"""Joint intent/slot data (SNIPS, ATIS: `seq.in`, `seq.out`, `label`) -> Rasa NLU YAML.

Each split directory holds three line-aligned files: the utterance as space-separated tokens, one
BIO tag per token (`B-city`, `I-city`, `O`) and the intent (`a#b` for several). The YAML is
written by Rasa's own `RasaYAMLWriter` and read back with Rasa's reader to check that every
example keeps its text, intent and entity spans.
"""

import logging
from pathlib import Path
from typing import Any, Dict, List, NamedTuple, Sequence, Tuple

from rasa.shared.nlu.constants import ENTITIES, INTENT, TEXT
from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader, RasaYAMLWriter
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from rasa.shared.utils.io import raise_warning

logger = logging.getLogger(__name__)

FILES = ("seq.in", "seq.out", "label")
MULTI_LABEL_SEPARATOR = "#"  # how the joint format joins several intents
# Rasa's annotation `[text](entity)` has no escape: a literal `[` or `]` in an utterance could be
# read as (part of) an annotation, so they become round brackets.
BRACKETS = str.maketrans("[]", "()")


class Example(NamedTuple):
    """One utterance in the joint format."""

    tokens: List[str]
    tags: List[str]
    intent: str


def read_split(directory: Path) -> List[Example]:
    """Reads `seq.in`, `seq.out` and `label` of one split; raises ValueError on misaligned lines."""
    lines = [(directory / name).read_text(encoding="utf-8").splitlines() for name in FILES]
    if not len(lines[0]) == len(lines[1]) == len(lines[2]):
        counts = ", ".join(f"{name}: {len(x)} lines" for name, x in zip(FILES, lines))
        raise ValueError(f"{directory}: the three files differ in length ({counts}).")
    examples = []
    for number, (text, tags, intent) in enumerate(zip(*lines), start=1):
        tokens, tag_list = text.split(), tags.split()
        if len(tokens) != len(tag_list):
            raise ValueError(
                f"{directory} line {number}: {len(tokens)} tokens but {len(tag_list)} tags."
            )
        examples.append(Example(tokens, tag_list, intent.strip()))
    return examples


def tags_to_entities(tokens: Sequence[str], tags: Sequence[str]) -> List[Dict[str, Any]]:
    """Entities with character offsets into `" ".join(tokens)` from word-level BIO tags.

    An `I-x` that does not continue an `x` entity starts a new one (as conlleval reads it).
    """
    entities: List[Dict[str, Any]] = []
    position = 0
    for index, (token, tag) in enumerate(zip(tokens, tags)):
        start, end = position, position + len(token)
        position = end + 1
        kind, _, label = tag.partition("-")
        if kind not in ("B", "I") or not label:
            continue
        previous = tags[index - 1] if index else "O"
        if kind == "I" and previous[2:] == label and previous[:1] in ("B", "I") and entities:
            entities[-1]["end"] = end
        else:
            entities.append({"start": start, "end": end, "entity": label})
    text = " ".join(tokens)
    for entity in entities:
        entity["value"] = text[entity["start"] : entity["end"]]
    return entities


def entities_to_tags(tokens: Sequence[str], entities: Sequence[Dict[str, Any]]) -> List[str]:
    """Word-level BIO tags from entities with character offsets into `" ".join(tokens)`.

    A token gets the tag of the entity that covers its first character.
    """
    starts, position = [], 0
    for token in tokens:
        starts.append(position)
        position += len(token) + 1
    tags = ["O"] * len(tokens)
    for entity in sorted(entities, key=lambda e: e["start"]):
        inside = [i for i, s in enumerate(starts) if entity["start"] <= s < entity["end"]]
        for order, index in enumerate(inside):
            tags[index] = ("B-" if order == 0 else "I-") + entity["entity"]
    return tags


def to_message(example: Example, multi_intent_symbol: str = "+") -> Message:
    """A Rasa training example: text, intent (`a#b` -> `a+b`) and entities."""
    tokens = [token.translate(BRACKETS) for token in example.tokens]
    intent = example.intent.replace(MULTI_LABEL_SEPARATOR, multi_intent_symbol)
    return Message.build(
        text=" ".join(tokens), intent=intent, entities=tags_to_entities(tokens, example.tags)
    )


def _key(message: Message) -> Tuple:
    spans = sorted((e["start"], e["end"], e["entity"]) for e in message.get(ENTITIES) or [])
    return message.get(TEXT), message.get(INTENT), tuple(spans)


def to_yaml(examples: Sequence[Example], multi_intent_symbol: str = "+") -> str:
    """Rasa NLU YAML for the examples; raises ValueError if Rasa does not read back the same.

    Rasa keeps one copy of a repeated example (same text, intent and entities).
    """
    messages = [to_message(example, multi_intent_symbol) for example in examples]
    text = RasaYAMLWriter().dumps(TrainingData(messages))
    expected = set(map(_key, messages))
    got = set(map(_key, RasaYAMLReader().reads(text).intent_examples))
    if expected != got:
        wrong = sorted(expected ^ got)[0]
        raise ValueError(f"Rasa's YAML reader does not read back this example: {wrong}")
    if len(expected) < len(messages):
        logger.info(f"{len(messages) - len(expected)} repeated examples written once")
    return text


def warn_brackets(source: str, examples: Sequence[Example]) -> None:
    """Warns that utterances with `[` or `]` are written with `(` and `)` (see BRACKETS)."""
    bracketed = sum(any(c in t for t in e.tokens for c in "[]") for e in examples)
    if bracketed:
        raise_warning(
            f"{source}: {bracketed} utterances contain '[' or ']', which Rasa's entity "
            f"annotation cannot escape; they were written as '(' and ')'."
        )


def split_directories(directory: Path) -> Dict[str, Path]:
    """Split name -> directory: each subdirectory holding the three files, or `directory` itself."""
    if all((directory / name).is_file() for name in FILES):
        return {directory.name: directory}
    splits = {
        d.name: d
        for d in sorted(directory.iterdir())
        if d.is_dir() and all((d / name).is_file() for name in FILES)
    }
    if not splits:
        raise ValueError(
            f"{directory} holds no {'/'.join(FILES)} files (nor do its subdirectories)."
        )
    return splits


def convert(directory: Path, out: Path, multi_intent_symbol: str = "+") -> Dict[str, Path]:
    """Writes `OUT/<split>.yml` for each split of `directory`; returns split name -> file."""
    out.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, split in split_directories(Path(directory)).items():
        examples = read_split(split)
        warn_brackets(str(split), examples)
        path = out / f"{name}.yml"
        path.write_text(to_yaml(examples, multi_intent_symbol), encoding="utf-8")
        entities = sum(len(tags_to_entities(e.tokens, e.tags)) for e in examples)
        intents = len({e.intent for e in examples})
        logger.info(f"{path}: {len(examples)} examples, {intents} intents, {entities} entities")
        written[name] = path
    return written

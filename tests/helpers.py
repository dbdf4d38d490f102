"""Helpers shared by the tests: tokenized messages and tiny training data made in code."""

import json
import shutil
from pathlib import Path
from typing import Any, Callable, Dict, List

from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

# Four intents with disjoint key words, eight examples each: small enough to train in seconds.
TINY_INTENTS: Dict[str, List[str]] = {
    "greet": ["hi", "hello there", "hey", "good morning", "hi bot", "hello", "hey there", "howdy"],
    "goodbye": [
        "bye",
        "goodbye",
        "see you later",
        "bye bye",
        "see you",
        "good night",
        "farewell",
        "catch you later",
    ],
    "book_flight": [
        "book a flight to denver",
        "i want to fly to boston",
        "find me a flight",
        "book a flight from paris to rome",
        "i need a plane ticket",
        "fly me to london",
        "reserve a flight tomorrow",
        "get me a flight to berlin",
    ],
    "ask_weather": [
        "what is the weather",
        "is it raining",
        "will it be sunny tomorrow",
        "how cold is it",
        "weather forecast please",
        "is it going to snow",
        "what's the temperature",
        "do i need an umbrella",
    ],
}

_tokenizer = WhitespaceTokenizer(WhitespaceTokenizer.get_default_config())


def tokenize(messages: List[Message]) -> List[Message]:
    _tokenizer.process(messages)
    return messages


def messages(*texts: str) -> List[Message]:
    """Tokenized messages from texts."""
    return tokenize([Message.build(text=t) for t in texts])


def training_data(intents: Dict[str, List[str]] = TINY_INTENTS) -> TrainingData:
    """Tokenized intent examples."""
    return TrainingData(
        tokenize([Message.build(text=t, intent=i) for i, texts in intents.items() for t in texts])
    )


def tampered_copy(root: Path, tmp_path: Path, change: Callable[[Dict[str, Any]], Any]) -> Path:
    """A copy of the model storage `root` whose component "c" has `change` done to its
    metadata.json; returns the copy's folder."""
    from rnn_nlu.persistence import METADATA_FILE

    copy = tmp_path / "copy"
    shutil.copytree(root, copy)
    path = copy / "c" / METADATA_FILE
    metadata = json.loads(path.read_text())
    change(metadata)
    path.write_text(json.dumps(metadata))
    return copy


def conversations_right(stories: Path, agent: Any, out: Path) -> Dict[str, Any]:
    """Rasa's end-to-end story evaluation (`rasa test core --e2e`: the user's words through NLU,
    so intents and entities must match too, and every action) of `stories`; returns the story
    report's conversation accuracy and the action accuracy, and the failed stories' text."""
    import asyncio

    from rasa.core.test import test

    result = asyncio.run(
        test(str(stories), agent, out_directory=str(out), e2e=True, disable_plotting=True)
    )
    report = json.loads((out / "story_report.json").read_text())["conversation_accuracy"]
    failed = out / "failed_test_stories.yml"
    text = failed.read_text() if failed.exists() else ""
    return {**report, "actions": result["accuracy"], "failed": text}


def pipeline_context(pipeline: List[str], component: str) -> ExecutionContext:
    """The execution context `rasa train` gives the training node of `component` (part of its
    name) in a config.yml of `pipeline` (component names)."""
    config = {
        "recipe": "default.v1",
        "language": "en",
        "pipeline": [{"name": name} for name in pipeline],
    }
    graphs = DefaultV1Recipe().graph_config_for_recipe(config, {})
    schema = graphs.train_schema
    names = [n for n, node in schema.nodes.items() if n.startswith("train_") and component in n]
    assert len(names) == 1, names
    return ExecutionContext(schema, "test", node_name=names[0])


def record_embedding_widths(monkeypatch: Any) -> List[int]:
    """A list that, from now on, receives the time steps of every call of a Keras `Embedding`
    layer named "embedding" (the models' word embedding); run eagerly to see concrete shapes."""
    from tensorflow import keras

    widths: List[int] = []
    embedding_call = keras.layers.Embedding.call

    def recording_call(layer: Any, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        if layer.name == "embedding":
            widths.append(int(inputs.shape[1]))
        return embedding_call(layer, inputs, *args, **kwargs)

    monkeypatch.setattr(keras.layers.Embedding, "call", recording_call)
    return widths

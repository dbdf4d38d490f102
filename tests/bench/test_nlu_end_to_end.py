"""`rnn-nlu-bench convert` and `nlu` end to end on tiny synthetic data with two cheap configs."""

import json
import random

import pytest

from rnn_nlu.bench.__main__ import main

CITIES = ["boston", "new york", "paris", "san francisco", "rome", "tokyo"]
DAYS = ["today", "tomorrow", "next monday", "on friday"]
ARTISTS = ["the beatles", "adele", "miles davis", "daft punk"]
TEMPLATES = {
    "book_flight": [
        "fly from {city} to {city2}",
        "book a flight to {city} {day}",
        "i need a plane ticket from {city} to {city2} {day}",
    ],
    "get_weather": [
        "what is the weather in {city} {day}",
        "will it rain in {city}",
        "weather forecast for {city} {day}",
    ],
    "play_music": ["play {artist}", "put on some {artist} please", "i want to hear {artist}"],
}
TAGS = {"city": "from_city", "city2": "to_city", "day": "date", "artist": "artist"}

CONFIGS = {
    "logreg": """
pipeline:
- name: WhitespaceTokenizer
- name: CountVectorsFeaturizer
- name: LogisticRegressionClassifier
""",
    "textrnn_tiny": """
pipeline:
- name: WhitespaceTokenizer
- name: LexicalSyntacticFeaturizer  # CRFEntityExtractor ignores messages without features
- name: rnn_nlu.TextRNNClassifier
  epochs: 3
  embedding_dim: 8
  rnn_units: 8
  validation_split: 0
- name: CRFEntityExtractor
  max_iterations: 20
""",
}


def joint_example(rng: random.Random, intent: str):
    tokens, tags = [], []
    for word in rng.choice(TEMPLATES[intent]).split():
        if word.startswith("{"):
            slot = word.strip("{}")
            value = rng.choice(ARTISTS if slot == "artist" else DAYS if slot == "day" else CITIES)
            for i, token in enumerate(value.split()):
                tokens.append(token)
                tags.append(("B-" if i == 0 else "I-") + TAGS[slot])
        else:
            tokens.append(word)
            tags.append("O")
    return " ".join(tokens), " ".join(tags), intent


def write_joint(directory, count, seed):
    rng = random.Random(seed)
    rows = [joint_example(rng, intent) for intent in TEMPLATES for _ in range(count)]
    directory.mkdir(parents=True)
    for index, name in enumerate(("seq.in", "seq.out", "label")):
        (directory / name).write_text("\n".join(r[index] for r in rows) + "\n")


@pytest.mark.slow
def test_nlu_benchmark_end_to_end(tmp_path):
    write_joint(tmp_path / "joint" / "train", 20, seed=1)
    write_joint(tmp_path / "joint" / "test", 5, seed=2)
    main(["convert", str(tmp_path / "joint"), str(tmp_path / "yaml")])
    configs = []
    for name, text in CONFIGS.items():
        (tmp_path / f"{name}.yml").write_text("recipe: default.v1\nlanguage: en\n" + text)
        configs += ["--config", str(tmp_path / f"{name}.yml")]
    arguments = [
        "nlu",
        "--train",
        str(tmp_path / "yaml" / "train.yml"),
        "--test",
        str(tmp_path / "yaml" / "test.yml"),
        *configs,
        "--cache",
        str(tmp_path / "cache"),
    ]

    main(arguments + ["--out", str(tmp_path / "out")])

    out = tmp_path / "out"
    assert (out / "results.png").read_bytes()[:4] == b"\x89PNG"
    results = json.loads((out / "results.json").read_text())
    assert [r["config"] for r in results["runs"]] == ["logreg", "textrnn_tiny"]
    for run in results["runs"]:
        assert "error" not in run, run.get("error")
        assert run["test_messages"] == results["data"]["test"]["examples"]
        for key in ("intent_accuracy", "intent_macro_f1", "entity_recall", "entity_f1"):
            assert 0.0 <= run[key] <= 1.0, key
        assert run["train_seconds"] > 0 and run["load_seconds"] > 0 and run["archive_mb"] > 0
        assert 0 < run["parse_p50_ms"] <= run["parse_p99_ms"]
        assert run["train_peak_rss_mb"] > 100
    logreg, textrnn = results["runs"]
    assert logreg["intent_accuracy"] >= 0.8  # disjoint key words: easy for a bag of words
    assert logreg["entities_predicted"] == 0 and textrnn["entities_predicted"] > 0
    table = (out / "results.md").read_text()
    assert "| logreg |" in table and "| textrnn_tiny |" in table
    assert results["versions"]["rasa"] in table and "cores" in table

    # The same run again with the cache: nothing is trained, both results are marked as reused.
    main(arguments + ["--out", str(tmp_path / "again")])
    again = (tmp_path / "again" / "results.md").read_text()
    assert again.count("reused (") == 4  # two configs, two tables
    assert not (tmp_path / "again" / "runs").exists()

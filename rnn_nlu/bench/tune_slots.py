"""Tune the slot filler's BiLSTM-CRF tagger on SNIPS-format data (`train/`, `valid/`, `test/`, each
with `seq.in` tokens, `seq.out` BIO tags and `label` intents per line): train on train, then entity
micro-F1 (exact span and type, as conlleval) on valid, and on test with `--test`; one JSON line per
run.

With `"intent": true` the tagger reads each message's gold intent (`label`) as a one-hot, in
training and in evaluation, as the slot filler reads the classifier's intent (`use_intent`). Scores
with gold intents are an upper bound: in a bot the classifier's intent is sometimes wrong.

    python -m rnn_nlu.bench.tune_slots '{"batch_size": 64, "model": {"use_crf": false}}' --test
    python -m rnn_nlu.bench.tune_slots '{"intent": true}' --test
"""

import argparse
import json
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf

from rnn_nlu.features import LabelEncoder, Vocabulary, encode_batch, encode_chars
from rnn_nlu.lifecycle import FIT_OPTIONS
from rnn_nlu.models import crf_decoding
from rnn_nlu.models.inference import compiled_predict
from rnn_nlu.models.tagger import build_tagger
from rnn_nlu.tagging import OUTSIDE, convert_schema, spans_from_tags, split_tag, tag_set
from rnn_nlu.training import PATIENCE_EXAMPLES, fit, set_seed

# Options passed to `fit`; "model" holds build_tagger's, "max_len" and "max_word_length" cut inputs,
# "intent" feeds the gold intent.
TRAINING = (*FIT_OPTIONS, "random_seed")  # as the components pass them, and the seed
DEFAULTS: Dict[str, Any] = {
    "epochs": 30,
    "batch_size": 32,
    "learning_rate": 0.003,
    "clipnorm": 5.0,
    "validation_split": 0.1,
    "patience": 4,
    "patience_examples": PATIENCE_EXAMPLES,
    "random_seed": 42,
    "max_len": 64,
    "max_word_length": 20,
    "intent": False,  # feed each message's gold intent (`label`) to the tagger, one-hot
    "model": {  # build_tagger's options
        "embedding_dim": 100,
        "char_embedding_dim": 25,
        "char_filters": 50,
        "rnn_units": 128,
        "num_layers": 1,
        "use_chars": True,
        "use_crf": True,
        "dropout": 0.5,
        "word_dropout": 0.0,
        "rnn_type": "lstm",
        "intent_units": 32,  # used with "intent": true
    },
}

Tokens = List[List[str]]
Tagger = Callable[[Tokens, Optional[List[str]]], Tokens]


def load(folder: Path) -> Tuple[Tokens, Tokens]:
    """Tokens and tags of `folder/seq.in` and `folder/seq.out`, one message a line."""
    tokens, tags = (_split_lines(folder / name) for name in ("seq.in", "seq.out"))
    if [len(t) for t in tokens] != [len(t) for t in tags]:
        raise ValueError(f"{folder}: seq.in and seq.out differ in lines or tokens per line")
    return tokens, tags


def load_intents(folder: Path, count: int) -> List[str]:
    """The intent of each message, `folder/label`, one a line; `count` lines."""
    with open(folder / "label", encoding="utf-8") as lines:
        intents = [line.strip() for line in lines]
    if len(intents) != count:
        raise ValueError(f"{folder}: label has {len(intents)} lines, seq.in {count}")
    return intents


def _split_lines(path: Path) -> Tokens:
    with open(path, encoding="utf-8") as lines:
        return [line.split() for line in lines]


def entity_f1(gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]]) -> float:
    """Micro-F1 in percent (2 decimals) of the entities of BIO or BILOU tag sequences: an entity
    counts as found only with its exact token span and type. 0 when there are none."""
    correct = n_gold = n_predicted = 0
    for gold_tags, predicted_tags in zip(gold, predicted):
        g, p = set(spans_from_tags(gold_tags)), set(spans_from_tags(predicted_tags))
        correct, n_gold, n_predicted = correct + len(g & p), n_gold + len(g), n_predicted + len(p)
    return round(200 * correct / (n_gold + n_predicted), 2) if n_gold + n_predicted else 0.0


def train(
    cfg: Dict[str, Any], tokens: Tokens, tags: Tokens, intents: Optional[List[str]] = None
) -> Tuple[Tagger, Dict[str, int]]:
    """Trains the tagger as `BiLSTMSlotFiller` does (BILOU tags, word and character vocabularies,
    with `intents` a one-hot of each message's intent, `build_tagger`, `fit`); returns a function
    from token lists (and their intents) to tags, and `train_s` (seconds in `fit`) and
    `epochs_run`."""
    tags = [convert_schema(t, "bilou") for t in tags]
    words = Vocabulary.build(tokens, 1, lowercase=True)
    chars = Vocabulary.build((w for ts in tokens for w in ts), 1, lowercase=False)
    labels = LabelEncoder(tag_set({split_tag(t)[1] for ts in tags for t in ts} - {OUTSIDE}))
    use_chars = cfg["model"]["use_chars"]
    known = LabelEncoder(intents) if intents is not None else None

    def encode(x: Tokens, message_intents: Optional[List[str]] = None) -> Dict[str, np.ndarray]:
        inputs = {"token_ids": encode_batch(x, words, cfg["max_len"])}
        if use_chars:
            inputs["char_ids"] = encode_chars(x, chars, cfg["max_len"], cfg["max_word_length"])
        if known is not None:
            inputs["intent"] = known.one_hot(message_intents or [None] * len(x))
        return inputs

    x = encode(tokens, intents)
    y = np.zeros(x["token_ids"].shape + (1,), np.int32)
    for i, message_tags in enumerate(tags):
        y[i, : len(message_tags), 0] = labels.encode(message_tags[: cfg["max_len"]])
    set_seed(cfg["random_seed"])  # before building: initial weights are random too
    model = build_tagger(
        len(words),
        {"entity": len(labels)},
        len(chars),
        num_intents=len(known) if known is not None else 0,
        **cfg["model"],
    )
    start = time.time()
    history = fit(model, x, y, loss=None, metrics=(), silent=True, **{k: cfg[k] for k in TRAINING})
    info = {"train_s": round(time.time() - start), "epochs_run": len(history.history["loss"])}
    scores_of = compiled_predict(model, _signature(x))
    transitions = model.transitions()

    def tagger(x: Tokens, message_intents: Optional[List[str]] = None) -> Tokens:
        inputs = encode(x, message_intents)
        scores = {h: np.asarray(v) for h, v in scores_of(inputs).items()}
        lengths = np.count_nonzero(inputs["token_ids"], axis=1)
        ids = crf_decoding.decode(scores, lengths, transitions)["entity"]
        return [[labels.labels[j] for j in ids[i, : len(t)]] for i, t in enumerate(x)]

    return tagger, info


def _signature(x: Dict[str, np.ndarray]) -> Dict[str, tf.TensorSpec]:
    """Specs of the encoded inputs: every dimension free but the intent's width."""
    return {
        k: tf.TensorSpec([None, v.shape[1]] if k == "intent" else [None] * v.ndim, v.dtype)
        for k, v in x.items()
    }


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, Any]:
    """Runs one setting; prints its JSON line, appends it to `--out` and returns it."""
    parser = argparse.ArgumentParser(
        prog="python -m rnn_nlu.bench.tune_slots",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("opts", nargs="?", default="{}", help="JSON options over DEFAULTS")
    parser.add_argument("--test", action="store_true", help="also score the test split")
    parser.add_argument(
        "--data", type=Path, default=Path("../shared/datasets/snips"), help="%(default)s"
    )
    parser.add_argument("--out", type=Path, default=Path("tune-results.jsonl"), help="%(default)s")
    args = parser.parse_args(argv)
    opts = json.loads(args.opts)
    unknown = (set(opts) - set(DEFAULTS)) | (set(opts.get("model", {})) - set(DEFAULTS["model"]))
    if unknown:
        parser.error(f"unknown options: {', '.join(sorted(unknown))}")
    cfg = {**DEFAULTS, **opts, "model": {**DEFAULTS["model"], **opts.get("model", {})}}

    def read(split: str) -> Tuple[Tokens, Tokens, Optional[List[str]]]:
        tokens, tags = load(args.data / split)
        intents = load_intents(args.data / split, len(tokens)) if cfg["intent"] else None
        return tokens, tags, intents

    tagger, info = train(cfg, *read("train"))
    result: Dict[str, Any] = {"opts": opts, **info}
    for split in ("valid", "test") if args.test else ("valid",):
        tokens, tags, intents = read(split)
        result[f"{split}_f1"] = entity_f1(tags, tagger(tokens, intents))
    line = json.dumps(result)
    print(line)
    with open(args.out, "a", encoding="utf-8") as out:
        out.write(line + "\n")
    return result


if __name__ == "__main__":
    main()

"""Scores of NLU predictions: intent accuracy and macro-F1, entity micro precision/recall/F1,
and out-of-scope detection by a confidence threshold (CLINC150's oos-threshold protocol).

An entity counts as found only with the exact character span and the same entity type.
A threshold `t` accepts a message whose confidence is `>= t` and rejects (calls out-of-scope)
one below it; a missing confidence counts as 0.
"""

from collections import Counter
from typing import Any, Dict, Iterable, Optional, Sequence, Tuple

import numpy as np

Span = Tuple[int, int, str]  # (start, end, entity type)


def intent_scores(gold: Sequence[str], predicted: Sequence[Optional[str]]) -> Dict[str, float]:
    """Accuracy, and the unweighted mean of per-intent F1 over gold and predicted intents.

    An intent that is never predicted correctly scores F1 0 (as scikit-learn's `zero_division=0`).
    """
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold intents but {len(predicted)} predictions.")
    if not gold:
        return {"intent_accuracy": None, "intent_macro_f1": None}
    correct = [g == p for g, p in zip(gold, predicted)]
    labels = {g for g in gold} | {p for p in predicted if p is not None}
    f1s = []
    for label in labels:
        tp = sum(c and g == label for c, g in zip(correct, gold))
        n_gold, n_predicted = gold.count(label), list(predicted).count(label)
        f1s.append(2 * tp / (n_gold + n_predicted) if tp else 0.0)
    return {"intent_accuracy": float(np.mean(correct)), "intent_macro_f1": float(np.mean(f1s))}


def spans(entities: Iterable[Dict[str, Any]]) -> Counter:
    """The (start, end, entity) spans of Rasa entity dicts, as a multiset."""
    return Counter((e["start"], e["end"], e["entity"]) for e in entities)


def entity_scores(
    gold: Sequence[Iterable[Dict[str, Any]]], predicted: Sequence[Iterable[Dict[str, Any]]]
) -> Dict[str, Any]:
    """Micro precision, recall and F1 over all messages' entity spans.

    Precision is None when nothing was predicted, recall None when there is nothing to find,
    F1 None when both are.
    """
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold entity lists but {len(predicted)} predictions.")
    tp = n_gold = n_predicted = 0
    for gold_entities, predicted_entities in zip(gold, predicted):
        g, p = spans(gold_entities), spans(predicted_entities)
        tp += sum((g & p).values())
        n_gold += sum(g.values())
        n_predicted += sum(p.values())
    return {
        "entity_precision": tp / n_predicted if n_predicted else None,
        "entity_recall": tp / n_gold if n_gold else None,
        "entity_f1": 2 * tp / (n_gold + n_predicted) if n_gold + n_predicted else None,
        "entities_gold": n_gold,
        "entities_predicted": n_predicted,
        "entities_correct": tp,
    }


def latency_scores(milliseconds: Sequence[float]) -> Dict[str, Optional[float]]:
    """Median, 99th percentile and mean of per-message parse times."""
    if not len(milliseconds):
        return {"parse_p50_ms": None, "parse_p99_ms": None, "parse_mean_ms": None}
    values = np.asarray(milliseconds, dtype=float)
    return {
        "parse_p50_ms": float(np.percentile(values, 50)),
        "parse_p99_ms": float(np.percentile(values, 99)),
        "parse_mean_ms": float(values.mean()),
    }


def _counts(
    gold: Sequence[str],
    predicted: Sequence[Optional[str]],
    confidence: Sequence[Optional[float]],
    out_of_scope: str,
) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per message: in scope?, confidence (None -> 0), predicted right?"""
    if not len(gold) == len(predicted) == len(confidence):
        raise ValueError(
            f"{len(gold)} gold intents, {len(predicted)} predictions and "
            f"{len(confidence)} confidences."
        )
    inside = np.array([g != out_of_scope for g in gold], dtype=bool)
    values = np.array([0.0 if c is None else float(c) for c in confidence])
    right = np.array([g == p for g, p in zip(gold, predicted)], dtype=bool)
    return inside, values, right


def out_of_scope_scores(
    gold: Sequence[str],
    predicted: Sequence[Optional[str]],
    confidence: Sequence[Optional[float]],
    threshold: float,
    out_of_scope: str = "oos",
) -> Dict[str, Optional[float]]:
    """In-scope accuracy and out-of-scope recall when confidences below `threshold` are rejected.

    `in_scope_accuracy`: share of in-scope messages (gold not `out_of_scope`) predicted right with
    confidence >= threshold. `oos_recall`: share of out-of-scope messages with confidence below
    it. Each is None when there is no such message.
    """
    inside, values, right = _counts(gold, predicted, confidence, out_of_scope)
    accepted = values >= threshold
    n_in, n_out = int(inside.sum()), int((~inside).sum())
    return {
        "in_scope_accuracy": float((right & accepted)[inside].sum() / n_in) if n_in else None,
        "oos_recall": float((~accepted)[~inside].sum() / n_out) if n_out else None,
    }


def choose_threshold(
    gold: Sequence[str],
    predicted: Sequence[Optional[str]],
    confidence: Sequence[Optional[float]],
    out_of_scope: str = "oos",
) -> float:
    """The confidence threshold of the best accuracy on these messages with out-of-scope as one
    more class (in scope: right intent and confidence >= threshold; out of scope: below it),
    searched over their distinct confidences; of equal accuracies, the lowest threshold. Raises
    ValueError unless both kinds of message occur.
    """
    inside, values, right = _counts(gold, predicted, confidence, out_of_scope)
    n_in, n_out = int(inside.sum()), int((~inside).sum())
    if not n_in or not n_out:
        raise ValueError(
            f"Choosing a threshold needs in-scope and out-of-scope ({out_of_scope!r}) messages; "
            f"got {n_in} and {n_out}."
        )
    best, best_score = 0.0, -1
    for threshold in np.unique(values):  # ascending
        accepted = values >= threshold
        score = int((right & accepted & inside).sum() + (~accepted & ~inside).sum())
        if score > best_score:
            best, best_score = float(threshold), score
    return best


def oos_auroc(
    gold: Sequence[str], confidence: Sequence[Optional[float]], out_of_scope: str = "oos"
) -> Optional[float]:
    """How well the confidence alone tells in-scope from out-of-scope messages, at no threshold:
    the chance that an in-scope message has a higher confidence than an out-of-scope one (ties
    count half). None unless both kinds occur."""
    inside, values, _ = _counts(gold, gold, confidence, out_of_scope)
    positive, negative = values[inside], np.sort(values[~inside])
    if not len(positive) or not len(negative):
        return None
    below = np.searchsorted(negative, positive, side="left")
    ties = np.searchsorted(negative, positive, side="right") - below
    return float((below + ties / 2).sum() / (len(positive) * len(negative)))


def calibration_error(
    gold: Sequence[str],
    predicted: Sequence[Optional[str]],
    confidence: Sequence[Optional[float]],
    bins: int = 10,
) -> Optional[float]:
    """Expected calibration error of the top intent's confidence: messages binned by confidence
    into `bins` equal-width bins, the mean |accuracy - mean confidence| of each bin, weighted by
    its share of the messages. 0 is perfectly calibrated. None without messages."""
    _, values, right = _counts(gold, predicted, confidence, out_of_scope="")
    if not len(values):
        return None
    index = np.minimum((values * bins).astype(int), bins - 1)
    error = 0.0
    for b in np.unique(index):
        chosen = index == b
        error += chosen.mean() * abs(right[chosen].mean() - values[chosen].mean())
    return float(error)

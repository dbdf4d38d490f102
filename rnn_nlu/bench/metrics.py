"""Scores of NLU predictions: intent accuracy and macro-F1, entity micro precision/recall/F1.

An entity counts as found only with the exact character span and the same entity type.
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

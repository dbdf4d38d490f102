"""Metric code on hand-made predictions whose scores are worked out by hand."""

import pytest

from rnn_nlu.bench.metrics import entity_scores, intent_scores, latency_scores


def entity(start, end, kind):
    return {"start": start, "end": end, "entity": kind, "value": "?"}


def test_intent_accuracy_and_macro_f1():
    scores = intent_scores(["a", "a", "b", "c"], ["a", "b", "b", None])
    assert scores["intent_accuracy"] == pytest.approx(0.5)
    # F1 per intent: a 2*1/(2+1) = 2/3, b 2*1/(1+2) = 2/3, c 0 -> mean 4/9
    assert scores["intent_macro_f1"] == pytest.approx(4 / 9)


def test_a_predicted_intent_absent_from_gold_counts_in_macro_f1():
    scores = intent_scores(["a", "a"], ["a", "z"])
    # a: 2*1/(2+1) = 2/3; z: 0 -> mean 1/3
    assert scores["intent_macro_f1"] == pytest.approx(1 / 3)


def test_perfect_intents():
    assert intent_scores(["a", "b"], ["a", "b"]) == {"intent_accuracy": 1.0, "intent_macro_f1": 1.0}


def test_entity_micro_scores_need_exact_span_and_type():
    gold = [[entity(0, 3, "x"), entity(4, 7, "y")], [], [entity(0, 2, "x")]]
    predicted = [
        [entity(0, 3, "x"), entity(4, 8, "y")],  # one right, one span off by a character
        [entity(1, 2, "z")],  # nothing to find
        [entity(0, 2, "y")],  # right span, wrong type
    ]
    scores = entity_scores(gold, predicted)
    assert (scores["entities_correct"], scores["entities_gold"], scores["entities_predicted"]) == (
        1,
        3,
        4,
    )
    assert scores["entity_precision"] == pytest.approx(1 / 4)
    assert scores["entity_recall"] == pytest.approx(1 / 3)
    assert scores["entity_f1"] == pytest.approx(2 / 7)  # 2PR/(P+R)


def test_repeated_predictions_of_one_span_count_once_as_correct():
    scores = entity_scores([[entity(0, 1, "x")]], [[entity(0, 1, "x"), entity(0, 1, "x")]])
    assert scores["entity_precision"] == pytest.approx(0.5)
    assert scores["entity_recall"] == pytest.approx(1.0)


def test_no_predicted_entities():
    scores = entity_scores([[entity(0, 1, "x")]], [[]])
    assert scores["entity_precision"] is None
    assert scores["entity_recall"] == 0.0
    assert scores["entity_f1"] == 0.0


def test_no_entities_at_all():
    scores = entity_scores([[], []], [[], []])
    assert scores["entity_f1"] is None and scores["entity_precision"] is None


def test_lengths_must_match():
    with pytest.raises(ValueError):
        intent_scores(["a"], [])
    with pytest.raises(ValueError):
        entity_scores([[]], [])


def test_latency_percentiles():
    scores = latency_scores([float(x) for x in range(1, 101)])
    assert scores["parse_p50_ms"] == pytest.approx(50.5)
    assert scores["parse_p99_ms"] == pytest.approx(99.01)
    assert scores["parse_mean_ms"] == pytest.approx(50.5)
    assert latency_scores([])["parse_p50_ms"] is None

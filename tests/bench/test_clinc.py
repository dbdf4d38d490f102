"""CLINC150 on hand-made data (no training): conversion, the out-of-scope threshold and its
scores worked out by hand, the classifier's confidence past FallbackClassifier, the tables."""

import json

import pytest
from rasa.nlu.classifiers.fallback_classifier import FallbackClassifier
from rasa.shared.constants import DEFAULT_NLU_FALLBACK_INTENT_NAME
from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader
from rasa.shared.nlu.training_data.message import Message

from rnn_nlu.bench import evaluate, nlu, report, runner
from rnn_nlu.bench.__main__ import main
from rnn_nlu.bench.clinc import read_clinc
from rnn_nlu.bench.evaluate import FALLBACK_INTENT, classifier_intent
from rnn_nlu.bench.metrics import (
    calibration_error,
    choose_threshold,
    oos_auroc,
    out_of_scope_scores,
)

DATA = {
    "train": [["what is my balance", "balance"], ["book a flight to rome", "book_flight"]],
    "val": [["how much money do i have", "balance"]],
    "test": [["fly me to paris", "book_flight"], ["balance please", "balance"]],
    "oos_train": [["who won the game", "oos"]],
    "oos_val": [["sing me a song", "oos"]],
    "oos_test": [["what is the meaning of life", "oos"], ["tell me a joke", "oos"]],
}


def write_json(path, data=DATA):
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def texts_by_intent(path):
    data = RasaYAMLReader().read(path)
    found = {}
    for message in data.intent_examples:
        found.setdefault(message.get("intent"), set()).add(message.get("text"))
    return found


def test_cli_converts_clinc_json_for_the_oos_threshold_protocol(tmp_path):
    main(["convert", str(write_json(tmp_path / "data_small.json")), str(tmp_path / "out")])
    assert texts_by_intent(tmp_path / "out" / "train.yml") == {
        "balance": {"what is my balance"},
        "book_flight": {"book a flight to rome"},
    }  # oos_train is not trained on
    assert texts_by_intent(tmp_path / "out" / "val.yml") == {
        "balance": {"how much money do i have"},
        "oos": {"sing me a song"},
    }
    assert texts_by_intent(tmp_path / "out" / "test.yml") == {
        "book_flight": {"fly me to paris"},
        "balance": {"balance please"},
        "oos": {"what is the meaning of life", "tell me a joke"},
    }


def test_cli_rejects_a_json_without_the_clinc_keys(tmp_path):
    path = write_json(tmp_path / "other.json", {"train": [], "test": []})
    with pytest.raises(SystemExit, match="not CLINC150 data: it lacks the keys val, oos_val"):
        main(["convert", str(path), str(tmp_path / "out")])
    assert not (tmp_path / "out" / "train.yml").exists()


def test_a_row_that_is_not_a_text_intent_pair_is_reported(tmp_path):
    path = write_json(tmp_path / "d.json", {**DATA, "val": [["only text"]]})
    with pytest.raises(ValueError, match=r"val\[0\] is not a \[text, intent\]"):
        read_clinc(path)


def test_cli_nlu_needs_val_when_the_test_set_is_out_of_scope(tmp_path, monkeypatch):
    main(["convert", str(write_json(tmp_path / "d.json")), str(tmp_path / "yaml")])
    config = tmp_path / "c.yml"
    config.write_text("pipeline: []\n")
    monkeypatch.setattr(nlu, "run", lambda *a, **k: pytest.fail("nlu.run must not start"))
    args = ["nlu", "--train", str(tmp_path / "yaml" / "train.yml"), "--config", str(config)]
    args += ["--test", str(tmp_path / "yaml" / "test.yml"), "--out", str(tmp_path / "r")]
    with pytest.raises(SystemExit, match="give --val"):
        main(args)
    with pytest.raises(SystemExit, match="must hold both in-scope messages and out-of-scope"):
        main(args + ["--val", str(tmp_path / "yaml" / "train.yml")])


def test_classifier_intent_skips_nlu_fallback():
    ranking = [{"name": "nlu_fallback", "confidence": 0.4}, {"name": "balance", "confidence": 0.3}]
    result = {"intent": {"name": "nlu_fallback", "confidence": 0.4}, "intent_ranking": ranking}
    assert classifier_intent(result) == ("balance", 0.3)
    assert classifier_intent({"intent": {"name": "balance", "confidence": 0.9}}) == ("balance", 0.9)
    assert classifier_intent({"intent": None, "intent_ranking": []}) == (None, None)
    assert FALLBACK_INTENT == DEFAULT_NLU_FALLBACK_INTENT_NAME


def test_classifier_intent_after_rasas_own_fallback_classifier():
    fallback = FallbackClassifier({**FallbackClassifier.get_default_config(), "threshold": 0.4})
    ranking = [{"name": "balance", "confidence": 0.35}, {"name": "book_flight", "confidence": 0.3}]
    message = Message(
        data={"text": "hm", "intent": dict(ranking[0]), "intent_ranking": list(ranking)}
    )
    fallback.process([message])
    result = {"intent": message.get("intent"), "intent_ranking": message.get("intent_ranking")}
    assert result["intent"]["name"] == "nlu_fallback"
    assert classifier_intent(result) == ("balance", 0.35)


class FallbackAgent:
    """Stands in for a loaded model whose FallbackClassifier answers every message."""

    async def parse_message(self, text):
        ranking = [{"name": "nlu_fallback", "confidence": 0.4}, {"name": "x", "confidence": 0.25}]
        return {"intent": ranking[0], "intent_ranking": ranking, "entities": []}


def test_nlu_worker_records_classifier_intent_for_test_and_val(tmp_path, monkeypatch):
    main(["convert", str(write_json(tmp_path / "d.json")), str(tmp_path / "yaml")])
    monkeypatch.setattr(evaluate, "load_agent", lambda model: (FallbackAgent(), 0.5))
    monkeypatch.setattr(evaluate, "quiet", lambda: None)  # leaves this process's logging alone
    test, val = tmp_path / "yaml" / "test.yml", tmp_path / "yaml" / "val.yml"
    evaluate.main(["nlu", "model.tar.gz", str(test), str(val), str(tmp_path / "parsed.json")])
    parsed = json.loads((tmp_path / "parsed.json").read_text())
    assert [len(parsed["messages"]), len(parsed["val_messages"])] == [4, 2]
    first = parsed["val_messages"][0]
    assert (first["intent"], first["classifier_intent"], first["confidence"]) == (
        "nlu_fallback",
        "x",
        0.25,
    )
    assert {m["gold_intent"] for m in parsed["messages"]} == {"balance", "book_flight", "oos"}
    evaluate.main(["nlu", "model.tar.gz", str(test), str(tmp_path / "parsed.json")])
    assert "val_messages" not in json.loads((tmp_path / "parsed.json").read_text())


# Validation messages: gold, predicted, confidence.
VAL_GOLD = ["a", "a", "b", "oos", "oos"]
VAL_PREDICTED = ["a", "b", "b", "a", "b"]
VAL_CONFIDENCE = [0.9, 0.8, 0.6, 0.7, 0.3]


def test_threshold_maximises_accuracy_with_oos_as_a_class_lowest_on_ties():
    # threshold: in-scope right and accepted + oos rejected, of 5
    # 0.3: 2 + 0;  0.6: 2 + 1;  0.7: 1 + 1;  0.8: 1 + 2;  0.9: 1 + 2 (ties with 0.6: the lowest)
    assert choose_threshold(VAL_GOLD, VAL_PREDICTED, VAL_CONFIDENCE) == 0.6
    scores = out_of_scope_scores(VAL_GOLD, VAL_PREDICTED, VAL_CONFIDENCE, 0.6)
    assert scores == {"in_scope_accuracy": pytest.approx(2 / 3), "oos_recall": 0.5}


def test_threshold_needs_both_kinds_of_message():
    with pytest.raises(ValueError, match="in-scope and out-of-scope"):
        choose_threshold(["a", "b"], ["a", "b"], [0.5, 0.6])


def test_oos_scores_accept_a_confidence_equal_to_the_threshold():
    gold = ["a", "b", "b", "oos", "oos", "oos"]
    predicted = ["a", "a", "b", "a", "b", "a"]
    confidence = [0.5, 0.9, 0.4, 0.39, 0.4, 0.1]
    scores = out_of_scope_scores(gold, predicted, confidence, 0.4)
    # in scope: a right (0.5), b wrong, b right at 0.4 -> 2/3; oos below 0.4: 0.39, 0.1 -> 2/3
    assert scores == {"in_scope_accuracy": pytest.approx(2 / 3), "oos_recall": pytest.approx(2 / 3)}
    assert out_of_scope_scores(["oos"], [None], [None], 0.1) == {
        "in_scope_accuracy": None,
        "oos_recall": 1.0,
    }  # a missing confidence counts as 0


def message(gold, intent, classifier, confidence):
    return {
        "gold_intent": gold,
        "intent": intent,
        "classifier_intent": classifier,
        "confidence": confidence,
    }


def test_nlu_scores_in_scope_intents_by_the_classifier_and_oos_by_the_val_threshold():
    val = [message(g, p, p, c) for g, p, c in zip(VAL_GOLD, VAL_PREDICTED, VAL_CONFIDENCE)]
    test = [
        message("a", "nlu_fallback", "a", 0.35),  # right for the classifier; too unsure at 0.4
        message("b", "b", "b", 0.85),  # right, accepted at 0.6 and 0.4
        message("b", "a", "a", 0.95),  # wrong
        message("oos", "nlu_fallback", "a", 0.3),  # rejected at 0.6 and 0.4
        message("oos", "b", "b", 0.5),  # rejected at 0.6 only
    ]
    scores = nlu.score_intents(test, val)
    assert scores["intent_accuracy"] == pytest.approx(2 / 3)  # over the 3 in-scope messages
    # F1: a 2*1/(1+2) = 2/3, b 2*1/(2+1) = 2/3 -> 2/3
    assert scores["intent_macro_f1"] == pytest.approx(2 / 3)
    assert scores["oos_threshold"] == 0.6
    assert scores["in_scope_accuracy"] == pytest.approx(1 / 3)
    assert scores["oos_recall"] == 1.0
    assert scores["in_scope_accuracy_at_0_4"] == pytest.approx(1 / 3)
    assert scores["oos_recall_at_0_4"] == pytest.approx(1 / 2)
    assert scores["out_of_scope_test_messages"] == 2
    assert scores["val_intent_accuracy"] == pytest.approx(2 / 3)  # val in-scope: a, b right
    # in scope above oos: 0.35 > 0.3 only, 0.85 and 0.95 > both -> 5 of 6 pairs
    assert scores["oos_auroc"] == pytest.approx(5 / 6)
    # in-scope bins 0.3, 0.8, 0.9: |1 - 0.35|, |1 - 0.85|, |0 - 0.95|, a third each
    assert scores["calibration_error"] == pytest.approx((0.65 + 0.15 + 0.95) / 3)


def test_oos_auroc_counts_ties_half_and_needs_both_kinds():
    assert oos_auroc(["a", "oos"], [0.5, 0.5]) == 0.5
    assert oos_auroc(["a", "b", "oos"], [0.9, None, 0.2]) == 0.5  # None counts as 0
    assert oos_auroc(["oos", "a"], [0.1, 0.2], out_of_scope="a") == 0.0
    assert oos_auroc(["a", "b"], [0.5, 0.6]) is None


def test_calibration_error_bins_confidences_and_weighs_bins_by_size():
    # bin 0.7: two right at 0.7 and 0.75 -> |1 - 0.725|; bin 0.2: one wrong at 0.2 -> 0.2
    gold, predicted = ["a", "a", "b"], ["a", "a", "a"]
    error = calibration_error(gold, predicted, [0.7, 0.75, 0.2])
    assert error == pytest.approx(2 / 3 * 0.275 + 1 / 3 * 0.2)
    assert calibration_error(["a"], ["a"], [1.0]) == 0.0  # a confidence of 1 in the last bin
    assert calibration_error([], [], []) is None


def test_nlu_scores_without_oos_use_rasas_answer_as_before():
    test = [message("a", "nlu_fallback", "a", 0.3), message("b", "b", "b", 0.9)]
    scores = nlu.score_intents(test, None)
    assert scores["intent_accuracy"] == 0.5  # nlu_fallback counts as wrong
    # F1: a 0, b 2*1/(1+1) = 1, nlu_fallback 0 -> 1/3
    assert scores == {
        "intent_accuracy": 0.5,
        "intent_macro_f1": pytest.approx(1 / 3),
        # the classifier's confidences: |1 - 0.3| and |1 - 0.9|, half each
        "calibration_error": pytest.approx(0.4),
    }


def test_cache_key_holds_val_and_the_out_of_scope_intent(tmp_path):
    train, test, val = (tmp_path / f"{n}.yml" for n in ("train", "test", "val"))
    for i, path in enumerate((train, test, val)):
        path.write_text(f"nlu: [] # {i}\n")
    plain = runner.cache_key("nlu", "pipeline: []", [train, test])
    assert runner.cache_key("nlu", "pipeline: []", [train, test], None) == plain
    with_val = runner.cache_key("nlu", "pipeline: []", [train, test, val], {"o": "oos"})
    assert with_val not in (plain, runner.cache_key("nlu", "pipeline: []", [train, test, val]))
    assert runner.cache_key("nlu", "pipeline: []", [train, test, val], {"o": "x"}) != with_val


def summary_row(config, **extra):
    base = {"intent_accuracy": 0.9, "intent_macro_f1": 0.8, "train_seconds": 10.0}
    return {"config": config, "seed": 0, "measured": "2024-01-02 03:04", **base, **extra}


def table_header(runs):
    summary = report.summarize(runs, ["x"], "nlu")
    results = {
        "kind": "nlu",
        "command": "rnn-nlu-bench nlu ...",
        "finished": "now",
        "versions": {"python": "3.10", "rasa": "3.6.21"},
        "machine": {"cpu": "CPU", "cores": 2, "memory_gb": 8.0, "system": "Linux"},
        "data": {},
        "settings": {"repeat": 1, "seeds": [0], "cache": None},
        "runs": runs,
    }
    return report.markdown(results, summary, "x").split("| config |")[1].splitlines()[0]


def test_oos_columns_appear_only_for_runs_that_have_them():
    assert "oos" not in table_header([summary_row("x")])  # SNIPS: the table as before
    header = table_header([summary_row("x", oos_threshold=0.5, oos_recall=0.4)])
    assert "oos recall |" in header and "oos threshold" in header
    assert "oos recall @0.4" not in header

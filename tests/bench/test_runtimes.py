"""`rnn-nlu-bench runtimes`: each runtime's outputs checked against Keras, a disagreeing runtime
refused, the table, and the CLI end to end (each runtime in its own process) on small sizes."""

import json

import pytest

from rnn_nlu.bench import runtimes
from rnn_nlu.bench.__main__ import main

VOCAB, TOKENS, CALLS = 40, 4, 3
TAGGER = next(m for m in runtimes.MODELS if m.startswith("tagger"))


# TFLite on the tagger only: converting the three-network TextRNN takes two minutes, and the
# conversion is the same code for both.
CASES = [(m, r) for m in runtimes.MODELS for r in runtimes.RUNTIMES if r != "tflite"]
CASES.append((TAGGER, "tflite"))


@pytest.mark.parametrize("model, runtime", CASES)
def test_every_runtime_gives_the_keras_outputs_and_is_timed(model, runtime):
    record = runtimes.measure(model, TOKENS, VOCAB, CALLS, runtime)
    assert (record["model"], record["tokens"], record["runtime"]) == (model, TOKENS, runtime)
    assert 0 <= record["max_abs_diff"] <= runtimes.ATOL
    assert 0 < record["p50_us"] <= record["p99_us"]


def test_a_runtime_that_disagrees_with_keras_is_refused(monkeypatch):
    build = runtimes.MODELS[TAGGER]

    def off_by_a_little(vocab, tokens):
        trackable, keras_call, inputs, numpy_call = build(vocab, tokens)
        return trackable, keras_call, inputs, lambda *a: numpy_call(*a) + 1e-3

    monkeypatch.setitem(runtimes.MODELS, TAGGER, off_by_a_little)
    with pytest.raises(AssertionError, match="differ from Keras"):
        runtimes.measure(TAGGER, TOKENS, VOCAB, CALLS, "numpy")


def test_the_cli_writes_one_row_per_model_length_and_runtime(tmp_path, capsys):
    arguments = ["--tokens", "2", "--vocab", str(VOCAB), "--calls", "2", "--runtime", "xla"]
    main(["runtimes", *arguments, "--out", str(tmp_path)])
    records = json.loads((tmp_path / "runtimes.json").read_text())
    expected = [(m, r) for m in runtimes.MODELS for r in ("numpy", "xla")]  # NumPy always
    assert [(r["model"], r["runtime"]) for r in records] == expected
    assert all(r["tokens"] == 2 and r["max_abs_diff"] <= runtimes.ATOL for r in records)
    numpy_rows = [r for r in records if r["runtime"] == "numpy"]
    assert [r["vs_numpy"] for r in numpy_rows] == [1.0] * len(runtimes.MODELS)
    table = (tmp_path / "runtimes.md").read_text()
    assert table.startswith("`rnn-nlu-bench runtimes --tokens 2")
    assert table.count("\n| ") == 1 + len(expected)  # the header and one row each
    assert "| xla |" in capsys.readouterr().out


def test_the_cli_refuses_a_length_of_zero(tmp_path):
    with pytest.raises(SystemExit, match="positive"):
        main(["runtimes", "--tokens", "0", "--out", str(tmp_path)])


def test_the_table_gives_the_ratio_to_numpy():
    record = {"model": "m", "tokens": 3, "runtime": "xla", "p50_us": 50.0, "p99_us": 80.0}
    line = runtimes.table([record | {"vs_numpy": 0.5, "max_abs_diff": 1e-7}]).splitlines()[2]
    assert line == "| m | 3 | xla | 50 | 80 | 0.50 × | 1.0e-07 |"

"""`runtimes`: one message through our default networks in each runtime the serving issue named,
side by side in one process: NumPy (what our components serve with), TensorFlow Lite (the Keras
model converted at a fixed input shape), XLA (`tf.function(jit_compile=True)`) and TensorFlow
(`tf.function`). Every runtime's outputs are checked against the Keras model's to 1e-5. The
weights are random: the time depends on the sizes, not on the values; NumPy runs them as our
components serve them (`serving_weights`: directions fused, tables of the first layer's word
projections and of the character convolution). See docs/benchmarks.md, "Runtimes".

Each runtime runs in a fresh process (`_in_child`), TensorFlow and TFLite on one thread, as NumPy
does at these sizes: in one process, TensorFlow's threads slowed the NumPy calls after them by up
to 2.7 times (2026-12-06).
"""

import json
import logging
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, Mapping, Sequence, Tuple

import numpy as np

logger = logging.getLogger(__name__)

ATOL = 1e-5
WARMUP = 20
ENSEMBLE = 3  # the classifiers' default ensemble_size
LABELS, TAGS, CHARS, CHARS_PER_WORD = 7, 79, 60, 8  # SNIPS: 7 intents, 79 BIO tags
RUNTIMES = ("numpy", "tflite", "xla", "tf.function")  # NumPy first: the reference
CHILD = "rnn_nlu.bench.runtimes"
RESULT_PREFIX = "rnn-nlu-runtimes-result "

Inputs = Dict[str, np.ndarray]
# Of SNIPS test tokens, about 90 % are among the 1,024 most frequent training words, whose first
# layer projections the served weights tabulate (numpy_models.TOKEN_TABLE_ROWS): ids drawn alike.
FREQUENT_SHARE, FREQUENT_WORDS = 0.9, 1024


def _token_ids(vocab: int, tokens: int) -> np.ndarray:
    """(1, tokens) word ids, FREQUENT_SHARE of them among the FREQUENT_WORDS most frequent."""
    rng = np.random.default_rng(0)
    frequent = rng.integers(2, min(vocab, FREQUENT_WORDS), tokens)
    rare = rng.integers(min(vocab - 1, FREQUENT_WORDS), vocab, tokens)
    return np.where(rng.random(tokens) < FREQUENT_SHARE, frequent, rare)[None].astype(np.int32)


def _one_thread() -> None:
    """TensorFlow on one thread, and NumPy's BLAS as our serving sets it (`limit_blas_threads`)."""
    import tensorflow as tf

    from rnn_nlu.lifecycle import limit_blas_threads

    limit_blas_threads()

    try:
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:  # TensorFlow already ran an op in this process
        logger.warning("TensorFlow was already initialized: its thread pools stay as they are")


def _randomized(model: Any, seed: int) -> Dict[str, np.ndarray]:
    """Sets every weight of `model` to normal(0, 0.3) values; returns them by canonical name."""
    from rnn_nlu.models.numpy_layers import canonical_name

    rng = np.random.default_rng(seed)
    for w in model.weights:
        w.assign(rng.normal(0.0, 0.3, w.shape).astype(np.float32))
    return {canonical_name(w.name): w.numpy() for w in model.weights}


def _text_rnn(vocab: int, tokens: int) -> Tuple[Any, Callable, Inputs, Callable]:
    """The default TextRNN ensemble: (trackable, keras_call, inputs, numpy_call), each call
    giving the (1, labels) mean probabilities."""
    import tensorflow as tf

    from rnn_nlu.models.numpy_layers import stack_members
    from rnn_nlu.models.numpy_models import serving_weights, text_rnn_forward
    from rnn_nlu.models.text_rnn import build_text_rnn

    members = [build_text_rnn(vocab, LABELS) for _ in range(ENSEMBLE)]
    raw = stack_members([_randomized(m, seed) for seed, m in enumerate(members)])
    stacked = serving_weights(raw, {}, stacked=True)  # as the component serves them
    holder = tf.Module()
    holder.members = members
    ids = _token_ids(vocab, tokens)

    def keras_call(token_ids: Any) -> Any:
        return tf.add_n([m(token_ids, training=False) for m in members]) / len(members)

    def numpy_call(token_ids: np.ndarray) -> np.ndarray:
        return text_rnn_forward(stacked, {}, token_ids, stacked=True).mean(axis=0)

    return holder, keras_call, {"token_ids": ids}, numpy_call


def _tagger(vocab: int, tokens: int) -> Tuple[Any, Callable, Inputs, Callable]:
    """The default slot filler's network (characters, the intent input, CRF scores)."""
    from rnn_nlu.models.numpy_models import serving_weights, tagger_forward
    from rnn_nlu.models.tagger import build_tagger

    options = {"num_tags": {"entity": TAGS}, "num_chars": CHARS, "num_intents": LABELS}
    model = build_tagger(vocab, **options)
    weights = serving_weights(_randomized(model, 0), options)  # as the component serves them
    rng = np.random.default_rng(0)
    inputs = {
        "token_ids": _token_ids(vocab, tokens),
        "char_ids": rng.integers(1, CHARS, (1, tokens, CHARS_PER_WORD)).astype(np.int32),
        "intent": np.eye(LABELS, dtype=np.float32)[:1],
    }

    def keras_call(token_ids: Any, char_ids: Any, intent: Any) -> Any:
        inputs = {"token_ids": token_ids, "char_ids": char_ids, "intent": intent}
        return model(inputs, training=False)["entity"]

    def numpy_call(token_ids: np.ndarray, char_ids: np.ndarray, intent: np.ndarray) -> np.ndarray:
        inputs = {"token_ids": token_ids, "char_ids": char_ids, "intent": intent}
        return tagger_forward(weights, options, inputs)["entity"]

    return model, keras_call, inputs, numpy_call


MODELS = {
    f"TextRNN x{ENSEMBLE} (emb 128, BiLSTM 128)": _text_rnn,
    "tagger (emb 100, chars 50, BiLSTM 128)": _tagger,
}


def _tflite(trackable: Any, keras_call: Callable, inputs: Inputs) -> Callable:
    """The Keras call converted to TFLite at these inputs' shapes, run by `tf.lite.Interpreter`
    on one thread."""
    import tensorflow as tf

    specs = [tf.TensorSpec(v.shape, tf.as_dtype(v.dtype), name=k) for k, v in inputs.items()]
    function = tf.function(keras_call).get_concrete_function(*specs)
    converter = tf.lite.TFLiteConverter.from_concrete_functions([function], trackable)
    converter.target_spec.supported_ops = [
        tf.lite.OpsSet.TFLITE_BUILTINS,
        tf.lite.OpsSet.SELECT_TF_OPS,  # what the builtins lack (the masked loops)
    ]
    interpreter = tf.lite.Interpreter(model_content=converter.convert(), num_threads=1)
    interpreter.allocate_tensors()
    slots = {d["name"]: d["index"] for d in interpreter.get_input_details()}
    indices = [next(i for name, i in slots.items() if key in name) for key in inputs]
    output = interpreter.get_output_details()[0]["index"]

    def call(*arrays: np.ndarray) -> np.ndarray:
        for index, array in zip(indices, arrays):
            interpreter.set_tensor(index, array)
        interpreter.invoke()
        return interpreter.get_tensor(output)

    return call


def _tensorflow(keras_call: Callable, jit: bool) -> Callable:
    import tensorflow as tf

    function = tf.function(keras_call, jit_compile=jit)
    return lambda *arrays: function(*arrays).numpy()


def _timed(call: Callable, arrays: Sequence[np.ndarray], calls: int) -> Tuple[float, float]:
    """Median and p99 microseconds of `call(*arrays)` over `calls` calls after a warm-up."""
    for _ in range(WARMUP):
        call(*arrays)
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        call(*arrays)
        times.append((time.perf_counter() - start) * 1e6)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(0.99 * len(times)))]


def measure(model: str, tokens: int, vocab: int, calls: int, runtime: str) -> Dict[str, Any]:
    """One runtime's record: model, tokens, runtime, p50_us, p99_us, max_abs_diff (against
    Keras). NumPy is timed before the Keras model first runs, as in a server that loaded our
    components (no TensorFlow op runs there)."""
    _one_thread()
    trackable, keras_call, inputs, numpy_call = MODELS[model](vocab, tokens)
    arrays = list(inputs.values())
    timing = _timed(numpy_call, arrays, calls) if runtime == "numpy" else None
    expected = np.asarray(keras_call(*arrays))
    if runtime == "numpy":
        call = numpy_call
    elif runtime == "tflite":
        call = _tflite(trackable, keras_call, inputs)
    elif runtime in ("xla", "tf.function"):
        call = _tensorflow(keras_call, jit=runtime == "xla")
    else:
        raise ValueError(f"runtime must be one of {RUNTIMES}, not {runtime!r}")
    difference = float(np.abs(np.asarray(call(*arrays)) - expected).max())
    if difference > ATOL:
        raise AssertionError(f"{model}, {runtime}: outputs differ from Keras by {difference}")
    p50, p99 = timing or _timed(call, arrays, calls)
    return {
        "model": model,
        "tokens": tokens,
        "runtime": runtime,
        "p50_us": p50,
        "p99_us": p99,
        "max_abs_diff": difference,
    }


def _in_child(model: str, tokens: int, vocab: int, calls: int, runtime: str) -> Dict[str, Any]:
    """`measure` in a fresh interpreter: no runtime's threads or caches meet another's."""
    arguments = [model, str(tokens), str(vocab), str(calls), runtime]
    done = subprocess.run(
        [sys.executable, "-m", CHILD, *arguments], capture_output=True, text=True, check=False
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith(RESULT_PREFIX)]
    if done.returncode or not lines:
        raise RuntimeError(f"{model}, {runtime}: the child failed:\n{done.stderr[-2000:]}")
    return json.loads(lines[-1][len(RESULT_PREFIX) :])


COLUMNS = [
    ("model", "network"),
    ("tokens", "tokens"),
    ("runtime", "runtime"),
    ("p50_us", "p50 (µs)"),
    ("p99_us", "p99 (µs)"),
    ("vs_numpy", "p50 vs NumPy"),
    ("max_abs_diff", "max |diff| vs Keras"),
]


def table(records: Sequence[Mapping[str, Any]]) -> str:
    lines = [
        "| " + " | ".join(header for _, header in COLUMNS) + " |",
        "|" + "|".join("---" if i < 3 else "---:" for i in range(len(COLUMNS))) + "|",
    ]
    for r in records:
        cells = [
            r["model"],
            str(r["tokens"]),
            r["runtime"],
            f"{r['p50_us']:.0f}",
            f"{r['p99_us']:.0f}",
            f"{r['vs_numpy']:.2f} ×",
            f"{r['max_abs_diff']:.1e}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def run(
    tokens: Sequence[int],
    vocab: int,
    calls: int,
    out: Path,
    command: str = "",
    chosen: Sequence[str] = RUNTIMES,
) -> None:
    """Every model at every length in each `chosen` runtime (NumPy first), each in its own
    process; writes OUT/runtimes.{md,json} and prints the table."""
    records = []
    for model in MODELS:
        for length in tokens:
            logger.info(f"{model}, {length} tokens")
            found = [_in_child(model, length, vocab, calls, r) for r in chosen]
            for record in found:
                record["vs_numpy"] = record["p50_us"] / found[0]["p50_us"]
            records.extend(found)
    out.mkdir(parents=True, exist_ok=True)
    (out / "runtimes.json").write_text(json.dumps(records, indent=1), encoding="utf-8")
    text = f"`{command}`\n\n{table(records)}" if command else table(records)
    (out / "runtimes.md").write_text(text, encoding="utf-8")
    print(table(records))
    logger.info(f"wrote {out / 'runtimes.md'}")


# The child: python -m rnn_nlu.bench.runtimes MODEL TOKENS VOCAB CALLS RUNTIME
if __name__ == "__main__":
    model, length, size, count, name = sys.argv[1:6]
    record = measure(model, int(length), int(size), int(count), name)
    print(RESULT_PREFIX + json.dumps(record), flush=True)

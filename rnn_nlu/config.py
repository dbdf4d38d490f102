"""Checking a component's config.yml options: unknown names, wrong types and out-of-range values."""

from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

from rasa.shared.exceptions import InvalidConfigException

# Options that Rasa itself may add to any component's config (`rasa train --finetune`).
RASA_ADDED = ("finetuning_epoch_fraction",)

# Allowed range per option name: (lowest allowed, first value not allowed); None means unbounded.
BOUNDS: Dict[str, Tuple[Optional[float], Optional[float]]] = {
    "epochs": (1, None),
    "batch_size": (1, None),
    "embedding_dim": (1, None),
    "char_embedding_dim": (1, None),
    "char_filters": (1, None),
    "rnn_units": (1, None),
    "context_units": (1, None),
    "projection_units": (1, None),
    "feature_units": (1, None),
    "num_layers": (1, None),
    "ensemble_size": (1, None),
    "hops": (1, None),
    "max_history": (1, None),
    "max_sequence_length": (1, None),
    "max_word_length": (1, None),
    "min_token_frequency": (1, None),
    "char_ngrams": (0, 9),
    "vocab_size": (1, None),
    "patience": (0, None),
    "patience_examples": (0, None),
    "ranking_length": (0, None),
    "learning_rate": (1e-12, None),
    "clipnorm": (1e-12, None),
    "dropout": (0.0, 1.0),
    "word_dropout": (0.0, 1.0),
    "label_smoothing": (0.0, 1.0),
    "validation_split": (0.0, 1.0),
}


def validate_config(
    config: Mapping[str, Any],
    defaults: Mapping[str, Any],
    component: str,
    choices: Optional[Mapping[str, Sequence[Any]]] = None,
    optional: Sequence[str] = ("clipnorm",),
) -> None:
    """Raises `InvalidConfigException` naming the first bad option of `component`.

    Types follow the defaults (bool, int, float, str, list of positive ints); options in `optional`
    may also be null; `choices` lists the allowed values of an option.
    """
    choices = choices or {}
    unknown = sorted(set(config) - set(defaults) - set(RASA_ADDED))
    if unknown:
        raise InvalidConfigException(
            f"{component}: unknown option(s) {', '.join(map(repr, unknown))}. "
            f"Known options: {', '.join(sorted(defaults))}."
        )
    for key, default in defaults.items():
        value = config.get(key, default)
        if value is None and (key in optional or default is None):
            continue
        problem = _type_problem(value, default)
        if problem is None and key in choices and value not in choices[key]:
            problem = f"must be one of {', '.join(map(repr, choices[key]))}"
        if problem is None and key in BOUNDS:
            problem = _range_problem(value, *BOUNDS[key])
        if problem:
            raise InvalidConfigException(f"{component}: option '{key}' {problem}, got {value!r}.")


def _type_problem(value: Any, default: Any) -> Optional[str]:
    if isinstance(default, bool):
        return None if isinstance(value, bool) else "must be true or false"
    if isinstance(default, int):
        return (
            None if isinstance(value, int) and not isinstance(value, bool) else "must be an integer"
        )
    if isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return None if ok else "must be a number"
    if isinstance(default, str):
        return None if isinstance(value, str) else "must be a string"
    if isinstance(default, (list, tuple)):
        ok = isinstance(value, (list, tuple)) and all(
            isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value
        )
        return None if ok else "must be a list of positive integers"
    return None


def _range_problem(value: float, low: Optional[float], high: Optional[float]) -> Optional[str]:
    if low is not None and value < low:
        return "must be positive" if low > 0 and low < 1 else f"must be at least {low}"
    if high is not None and value >= high:
        return f"must be below {high}"
    return None

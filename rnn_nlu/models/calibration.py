"""Temperature scaling (Guo et al., ICML 2017): one number per network, fitted on held-out data,
that softens (> 1) or sharpens (< 1) its probabilities without changing their order.

Applied to probabilities as p ** (1 / T), renormalised: the same as dividing the logits by T.
"""

import math

import numpy as np

from rnn_nlu.models.numpy_layers import Weights

# The temperatures searched; far outside these, a network is not calibrated but broken.
LOWEST, HIGHEST = 0.05, 20.0
_TINY = 1e-12  # floor of a probability before its logarithm


def scale(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """`probabilities` (..., labels) at `temperature`: softmax(log(p) / T) over the last axis."""
    if temperature == 1.0:
        return probabilities
    logits = np.log(np.maximum(probabilities, _TINY)) / temperature
    logits -= logits.max(axis=-1, keepdims=True)
    scaled = np.exp(logits)
    return (scaled / scaled.sum(axis=-1, keepdims=True)).astype(probabilities.dtype)


def folded(weights: Weights, layer: str, temperature: float) -> Weights:
    """One network's weights (by canonical name) with `temperature` folded into its softmax
    `layer`: softmax(log(softmax(z)) / T) = softmax(z / T), so kernel and bias divided by T give
    the scaled probabilities at no cost per message."""
    if temperature == 1.0:
        return weights
    return {
        **weights,
        **{
            f"{layer}/{part}": weights[f"{layer}/{part}"] / np.float32(temperature)
            for part in ("kernel", "bias")
        },
    }


def _loss(probabilities: np.ndarray, labels: np.ndarray, temperature: float) -> float:
    scaled = scale(probabilities.astype(np.float64), temperature)
    return float(-np.log(np.maximum(scaled[np.arange(len(labels)), labels], _TINY)).mean())


def fit_temperature(probabilities: np.ndarray, labels: np.ndarray, steps: int = 60) -> float:
    """The temperature that minimises the negative log-likelihood of `labels` (batch,) under
    `probabilities` (batch, labels); golden-section search over log T in [LOWEST, HIGHEST].
    1.0 without examples, or when all are ranked right (the likelihood would then only grow as
    T -> 0, making every confidence 1)."""
    if not len(labels) or (probabilities.argmax(axis=-1) == labels).all():
        return 1.0
    low, high = math.log(LOWEST), math.log(HIGHEST)
    ratio = (math.sqrt(5) - 1) / 2
    a, b = high - ratio * (high - low), low + ratio * (high - low)
    loss_a = _loss(probabilities, labels, math.exp(a))
    loss_b = _loss(probabilities, labels, math.exp(b))
    for _ in range(steps):
        if loss_a <= loss_b:
            high, b, loss_b = b, a, loss_a
            a = high - ratio * (high - low)
            loss_a = _loss(probabilities, labels, math.exp(a))
        else:
            low, a, loss_a = a, b, loss_b
            b = low + ratio * (high - low)
            loss_b = _loss(probabilities, labels, math.exp(b))
    return float(math.exp((low + high) / 2))


def check_temperatures(value: object, count: int) -> list:
    """`value` as `count` temperatures in [LOWEST, HIGHEST]; ValueError naming what is wrong."""
    if not isinstance(value, list):
        raise ValueError(f"'temperatures' must be a list of numbers, not {value!r:.80}")
    if len(value) != count:
        raise ValueError(f"'temperatures': {len(value)} stored for {count} networks")
    for t in value:
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not LOWEST <= t <= HIGHEST:
            raise ValueError(
                f"each temperature must be a number in [{LOWEST}, {HIGHEST}], not {t!r}"
            )
    return [float(t) for t in value]

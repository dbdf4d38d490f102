"""Temperature scaling on synthetic probabilities whose true temperature is known."""

import numpy as np
import pytest

from rnn_nlu.models.calibration import check_temperatures, fit_temperature, scale


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


@pytest.mark.parametrize("true_temperature", [0.5, 1.0, 2.5])
def test_fit_recovers_the_temperature_the_labels_were_drawn_at(true_temperature):
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 3, size=(20_000, 8))
    truth = softmax(logits / true_temperature)
    labels = np.array([rng.choice(8, p=p) for p in truth])
    fitted = fit_temperature(softmax(logits), labels)
    assert fitted == pytest.approx(true_temperature, rel=0.06)


def test_scale_divides_the_logits_and_keeps_the_order():
    p = softmax(np.array([[2.0, 1.0, -1.0], [0.0, 0.5, 0.1]]))
    np.testing.assert_allclose(scale(p, 2.0), softmax(np.log(p) / 2.0), atol=1e-12)
    assert (scale(p, 3.0).argsort(axis=1) == p.argsort(axis=1)).all()
    assert scale(p, 1.0) is p
    np.testing.assert_allclose(scale(p, 0.5).sum(axis=1), 1.0)


def test_no_examples_is_temperature_one():
    assert fit_temperature(np.zeros((0, 3)), np.zeros(0, int)) == 1.0


@pytest.mark.parametrize(
    "value", [[1.0], [1.0, "2"], [1.0, -1.0], [1.0, 1e9], [True, 1.0], "1.0", None]
)
def test_stored_temperatures_must_be_two_sane_numbers(value):
    with pytest.raises(ValueError, match="temperature"):
        check_temperatures(value, 2)
    assert check_temperatures([1, 0.7], 2) == [1.0, 0.7]

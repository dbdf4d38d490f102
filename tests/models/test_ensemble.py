"""average_ensemble: the mean of its members' outputs, stored and restored through its weights."""

import numpy as np
from tensorflow import keras

from rnn_nlu.models.calibration import scale
from rnn_nlu.models.ensemble import average_ensemble, distillation_loss, smoothed_crossentropy
from rnn_nlu.models.rcnn import build_rcnn
from rnn_nlu.training import set_seed

IDS = np.array([[2, 3, 4, 0], [5, 6, 0, 0], [7, 0, 0, 0]], dtype=np.int32)


def members(count: int, seed: int = 0) -> list:
    set_seed(seed)
    return [
        build_rcnn(10, 3, embedding_dim=4, context_units=4, projection_units=4)
        for _ in range(count)
    ]


def test_output_is_the_mean_of_the_members():
    nets = members(3)
    ensemble = average_ensemble(nets)
    expected = np.mean([net(IDS, training=False).numpy() for net in nets], axis=0)
    np.testing.assert_allclose(ensemble(IDS, training=False).numpy(), expected, rtol=1e-6)
    assert np.abs(nets[0](IDS).numpy() - nets[1](IDS).numpy()).max() > 1e-4, "members must differ"


def test_one_member_is_that_member():
    (net,) = members(1)
    assert average_ensemble([net]) is net


def test_weights_restore_the_ensemble_in_fresh_members():
    ensemble = average_ensemble(members(2, seed=0))
    restored = average_ensemble(members(2, seed=1))
    assert np.abs(restored(IDS).numpy() - ensemble(IDS).numpy()).max() > 1e-4
    restored.set_weights(ensemble.get_weights())
    np.testing.assert_allclose(restored(IDS).numpy(), ensemble(IDS).numpy(), rtol=1e-6)
    assert isinstance(restored, keras.Model)


def test_distillation_loss_is_lowest_for_the_teachers_own_probabilities():
    teacher = np.array([[0.7, 0.2, 0.1], [0.05, 0.05, 0.9]], dtype=np.float32)
    for temperature in (1.0, 2.0):
        loss = distillation_loss(temperature)
        target = scale(teacher, temperature)
        own = loss(target, teacher).numpy()
        for other in ([[0.6, 0.3, 0.1], [0.1, 0.1, 0.8]], [[0.8, 0.1, 0.1], [0.02, 0.03, 0.95]]):
            assert (loss(target, np.array(other, dtype=np.float32)).numpy() > own + 1e-4).all()
    hard = keras.losses.categorical_crossentropy(teacher, teacher).numpy()
    np.testing.assert_allclose(distillation_loss(1.0)(teacher, teacher).numpy(), hard, rtol=1e-6)


def test_smoothed_crossentropy_is_keras_label_smoothing_of_one_hot_labels():
    probabilities = np.array([[0.7, 0.2, 0.1], [0.05, 0.05, 0.9]], dtype=np.float32)
    labels = np.array([0, 2])
    one_hot = np.eye(3, dtype=np.float32)[labels]
    for smoothing in (0.0, 0.1, 0.3):
        expected = keras.losses.categorical_crossentropy(
            one_hot, probabilities, label_smoothing=smoothing
        ).numpy()
        got = smoothed_crossentropy(smoothing)(labels[:, None], probabilities).numpy()
        np.testing.assert_allclose(got, expected, rtol=1e-6)
    # lowest where the right label has 1 - s + s / 3
    loss = smoothed_crossentropy(0.3)

    def at(top: float) -> float:
        return float(loss(np.array([0]), np.array([[top, (1 - top) / 2, (1 - top) / 2]])).numpy())

    assert at(0.8) < min(at(0.7), at(0.9), at(0.99))

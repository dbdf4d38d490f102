"""A deep ensemble (Lakshminarayanan et al., NeurIPS 2017): the mean of several classifiers,
each at its own temperature (`rnn_nlu.models.calibration`); and the loss that distils one into a
single network (Hinton et al., "Distilling the Knowledge in a Neural Network", 2015)."""

from typing import Callable, Optional, Sequence

import tensorflow as tf
from tensorflow import keras


class AverageEnsemble(keras.Model):
    """The mean of its members' outputs (probabilities), each scaled by its temperature
    (softmax(log(p) / T); 1: as it is); members keep their own weights.

    `get_weights()` lists the members' weights in member order, so building the same members again
    and setting those weights restores it. The members are called as they are, not re-wired into a
    new functional graph, which keeps building one cheap.
    """

    def __init__(
        self,
        members: Sequence[keras.Model],
        temperatures: Optional[Sequence[float]] = None,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.members = list(members)
        self.temperatures = [float(t) for t in temperatures or [1.0] * len(self.members)]
        assert len(self.temperatures) == len(self.members), "one temperature per member"

    def call(self, inputs: tf.Tensor, training: Optional[bool] = None) -> tf.Tensor:
        outputs = [
            _scaled(member(inputs, training=training), temperature)
            for member, temperature in zip(self.members, self.temperatures)
        ]
        return tf.add_n(outputs) / len(outputs)


def _scaled(probabilities: tf.Tensor, temperature: float) -> tf.Tensor:
    if temperature == 1.0:
        return probabilities
    return tf.nn.softmax(tf.math.log(tf.maximum(probabilities, 1e-12)) / temperature)


def average_ensemble(
    members: Sequence[keras.Model],
    temperatures: Optional[Sequence[float]] = None,
    name: str = "ensemble",
) -> keras.Model:
    """One model averaging `members`' outputs at their `temperatures` (default 1); a single
    member at temperature 1 is returned as it is."""
    assert members, "an ensemble needs at least one member"
    if len(members) == 1 and all(t == 1.0 for t in temperatures or [1.0]):
        return members[0]
    return AverageEnsemble(members, temperatures, name=name)


def members(model: keras.Model) -> list:
    """The networks of an ensemble made by `average_ensemble`, in order ([model] for one)."""
    return list(model.members) if isinstance(model, AverageEnsemble) else [model]


def distillation_loss(temperature: float) -> Callable[[tf.Tensor, tf.Tensor], tf.Tensor]:
    """Keras loss of a student that outputs probabilities, against a teacher's probabilities
    already softened to `temperature`: T^2 * cross-entropy(teacher, student at T), per example.
    (T^2 keeps the gradients' scale as T changes, as Hinton et al.)"""

    def loss(teacher: tf.Tensor, student: tf.Tensor) -> tf.Tensor:
        return temperature**2 * keras.losses.categorical_crossentropy(
            teacher, _scaled(student, temperature)
        )

    return loss


def smoothed_crossentropy(smoothing: float) -> Callable[[tf.Tensor, tf.Tensor], tf.Tensor]:
    """Keras loss of a model that outputs probabilities, against integer labels whose one-hot
    targets keep 1 - `smoothing` and share `smoothing` evenly over all labels, per example."""

    def loss(labels: tf.Tensor, probabilities: tf.Tensor) -> tf.Tensor:
        labels = tf.cast(tf.reshape(labels, [-1]), tf.int32)
        targets = tf.one_hot(labels, tf.shape(probabilities)[-1], dtype=probabilities.dtype)
        return keras.losses.categorical_crossentropy(
            targets, probabilities, label_smoothing=smoothing
        )

    return loss

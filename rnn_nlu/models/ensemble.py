"""A deep ensemble (Lakshminarayanan et al., NeurIPS 2017): the mean of several classifiers."""

from typing import Optional, Sequence

import tensorflow as tf
from tensorflow import keras


class AverageEnsemble(keras.Model):
    """The mean of its members' outputs (probabilities); members keep their own weights.

    `get_weights()` lists the members' weights in member order, so building the same members again
    and setting those weights restores it. The members are called as they are, not re-wired into a
    new functional graph, which keeps building one cheap.
    """

    def __init__(self, members: Sequence[keras.Model], **kwargs) -> None:
        super().__init__(**kwargs)
        self.members = list(members)

    def call(self, inputs: tf.Tensor, training: Optional[bool] = None) -> tf.Tensor:
        outputs = [member(inputs, training=training) for member in self.members]
        return tf.add_n(outputs) / len(outputs)


def average_ensemble(members: Sequence[keras.Model], name: str = "ensemble") -> keras.Model:
    """One model averaging `members`' outputs; a single member is returned as it is."""
    assert members, "an ensemble needs at least one member"
    if len(members) == 1:
        return members[0]
    return AverageEnsemble(members, name=name)


def members(model: keras.Model) -> list:
    """The networks of an ensemble made by `average_ensemble`, in order ([model] for one)."""
    return list(model.members) if isinstance(model, AverageEnsemble) else [model]

"""A deep ensemble (Lakshminarayanan et al., NeurIPS 2017): the mean of several classifiers."""

from typing import Sequence

from tensorflow import keras


def average_ensemble(members: Sequence[keras.Model], name: str = "ensemble") -> keras.Model:
    """One model whose output is the mean of the members' probabilities; one member is itself.

    Members share the input signature (one input); their weights stay theirs, in member order in
    `get_weights()`, so building the same members again and setting those weights restores it.
    """
    assert members, "an ensemble needs at least one member"
    if len(members) == 1:
        return members[0]
    first = members[0]
    inputs = keras.Input(
        shape=first.input_shape[1:], dtype=first.input.dtype, name=first.input.name
    )
    # Each member wrapped under a unique name: the builders give all copies the same one.
    outputs = [
        keras.Model(m.inputs, m.outputs, name=f"{m.name}_{i}")(inputs)
        for i, m in enumerate(members)
    ]
    return keras.Model(inputs, keras.layers.Average(name="mean")(outputs), name=name)

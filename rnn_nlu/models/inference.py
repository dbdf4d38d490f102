"""A compiled prediction function: one traced graph for any batch size and sequence length."""

from typing import Any, Callable, Optional

import numpy as np
import tensorflow as tf
from tensorflow import keras


def compiled_predict(model: keras.Model, input_signature: Any) -> Callable[..., tf.Tensor]:
    """`model` in inference mode as a `tf.function`, traced and run once here for `input_signature`.

    Unlike `model.predict`, calling it has no per-call set-up cost, and the dynamic (None)
    dimensions of the signature mean no retracing for new batch sizes or lengths.
    """

    @tf.function(input_signature=[input_signature], reduce_retracing=True)
    def predict(inputs: Any) -> tf.Tensor:
        return model(inputs, training=False)

    # Trace and run once now (at load), so that the first message does not wait for it.
    predict(smallest_input(input_signature))
    return predict


def smallest_input(input_signature: Any) -> Any:
    """A smallest input of `input_signature` (a structure of `tf.TensorSpec`s) as NumPy arrays:
    each unknown dimension 1, all ones (a known, non-padding id)."""

    def ones(spec: tf.TensorSpec) -> np.ndarray:
        return np.ones([1 if d is None else d for d in spec.shape], spec.dtype.as_numpy_dtype)

    return tf.nest.map_structure(ones, input_signature)


class Lazy:
    """A function that calls `build()` at its first call and from then on what that built
    (`built`, None until then): a compiled prediction that the trained component may never make
    (`rasa train` loads a new one from the model storage to predict), so that training does not
    wait for its tracing."""

    def __init__(self, build: Callable[[], Callable[..., Any]]) -> None:
        self._build = build
        self.built: Optional[Callable[..., Any]] = None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.built is None:
            self.built = self._build()
        return self.built(*args, **kwargs)

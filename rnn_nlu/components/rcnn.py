"""RCNNClassifier: the recurrent convolutional intent classifier (Lai et al. 2015) for Rasa."""

from typing import Any, Dict

from rasa.engine.recipes.default_recipe import DefaultV1Recipe

from rnn_nlu.components.intent_classifier import RecurrentIntentClassifier
from rnn_nlu.models.layers import RNN_TYPES
from rnn_nlu.models.numpy_models import rcnn_forward
from rnn_nlu.models.rcnn import build_rcnn


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class RCNNClassifier(RecurrentIntentClassifier):
    """Intent classifier: [left context; word; right context] -> tanh projection -> max-pool."""

    MODEL_DEFAULTS: Dict[str, Any] = {
        # Size of the word embedding, trained from scratch on the training data.
        "embedding_dim": 64,
        # Cell of the two context RNNs: "simple" (tanh, as in the paper), "gru" or "lstm".
        "rnn_type": "simple",
        # Size of each context vector (left and right).
        "context_units": 64,
        # Size of the tanh projection of [left context; word; right context] that is max-pooled.
        "projection_units": 128,
        # Sizes of ReLU layers between pooling and the softmax ([]: none).
        "dense_units": [],
        # Dropout rate after the embedding, after pooling and after each dense layer.
        "dropout": 0.4,
        # Share of training tokens replaced by the unknown-word id: teaches it unseen words.
        "word_dropout": 0.2,
    }
    MODEL_CHOICES = {"rnn_type": sorted(RNN_TYPES)}
    build_model = staticmethod(build_rcnn)
    forward = staticmethod(rcnn_forward)

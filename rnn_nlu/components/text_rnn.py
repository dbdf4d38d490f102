"""TextRNNClassifier: the TextRNN intent classifier as a Rasa graph component."""

from typing import Any, Dict

from rasa.engine.recipes.default_recipe import DefaultV1Recipe

from rnn_nlu.components.intent_classifier import RecurrentIntentClassifier
from rnn_nlu.models.layers import RNN_TYPES
from rnn_nlu.models.numpy_models import text_rnn_forward
from rnn_nlu.models.text_rnn import POOLINGS, build_text_rnn


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class TextRNNClassifier(RecurrentIntentClassifier):
    """Intent classifier: embedding -> stacked (bi)directional LSTM/GRU/SimpleRNN -> pooling."""

    MODEL_DEFAULTS: Dict[str, Any] = {
        # Size of the word embedding, trained from scratch on the training data.
        "embedding_dim": 128,
        # Recurrent cell: "lstm", "gru" or "simple" (Elman RNN).
        "rnn_type": "lstm",
        # Units per direction of each recurrent layer.
        "rnn_units": 128,
        # Number of stacked recurrent layers.
        "num_layers": 1,
        # Read the message both ways and concatenate the two states.
        "bidirectional": True,
        # How token states become one vector: "last", "max", "mean" or "attention".
        "pooling": "max",
        # Sizes of ReLU layers between pooling and the softmax ([]: none).
        "dense_units": [],
        # Dropout rate after the embedding, after pooling and after each dense layer.
        "dropout": 0.2,
        # Share of training tokens replaced by the unknown-word id: teaches it unseen words.
        "word_dropout": 0.1,
        # Also max-pool the tokens' inputs (word embedding and features) over time and join them
        # to the pooled recurrent states before the softmax.
        "pool_inputs": False,
    }
    # Label smoothing, with each network's temperature fitted on its held-out split to bring the
    # confidences back to the accuracy: more accurate on many intents with few examples (README,
    # "Label smoothing"; RCNN, whose gain was within the noise, trains faster without).
    # The tokens' character n-grams: with many intents and few examples, what lifted TextRNN most
    # (README, "Character n-grams"); a CountVectorsFeaturizer char_wb before it is then not needed.
    TRAINING_OVERRIDES: Dict[str, Any] = {
        "label_smoothing": 0.1,
        "calibrate": True,
        "char_ngrams": 4,
    }
    MODEL_CHOICES = {"rnn_type": sorted(RNN_TYPES), "pooling": list(POOLINGS)}
    build_model = staticmethod(build_text_rnn)
    forward = staticmethod(text_rnn_forward)

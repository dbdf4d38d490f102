"""rnn-nlu: recurrent-network NLU and dialogue components for Rasa 3.6.

Use them in config.yml by module path, e.g. `- name: rnn_nlu.TextRNNClassifier`. The components are
imported (and registered with Rasa) on first use, so that importing a light module of the package
(`rnn_nlu.source`, the benchmark's command line) does not start TensorFlow.
"""

import importlib
from typing import Any

_COMPONENTS = {
    "BiLSTMSlotFiller": "rnn_nlu.components.slot_filler",
    "MemoryNetworkPolicy": "rnn_nlu.policies.memory_network",
    "RCNNClassifier": "rnn_nlu.components.rcnn",
    "SentencePieceTokenizer": "rnn_nlu.components.sentencepiece_tokenizer",
    "TextRNNClassifier": "rnn_nlu.components.text_rnn",
}

__all__ = sorted(_COMPONENTS)
__version__ = "0.2.0"


def __getattr__(name: str) -> Any:
    if name in _COMPONENTS:
        return getattr(importlib.import_module(_COMPONENTS[name]), name)
    raise AttributeError(f"module 'rnn_nlu' has no attribute {name!r}")


def __dir__() -> list:
    return sorted([*globals(), *_COMPONENTS])

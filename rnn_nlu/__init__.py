"""rnn-nlu: recurrent-network NLU and dialogue components for Rasa 3.6.

Use them in config.yml by module path, e.g. `- name: rnn_nlu.TextRNNClassifier`.
"""

from rnn_nlu.components.rcnn import RCNNClassifier
from rnn_nlu.components.sentencepiece_tokenizer import SentencePieceTokenizer
from rnn_nlu.components.slot_filler import BiLSTMSlotFiller
from rnn_nlu.components.text_rnn import TextRNNClassifier
from rnn_nlu.policies.memory_network import MemoryNetworkPolicy

__all__ = [
    "BiLSTMSlotFiller",
    "MemoryNetworkPolicy",
    "RCNNClassifier",
    "SentencePieceTokenizer",
    "TextRNNClassifier",
]
__version__ = "0.1.0"

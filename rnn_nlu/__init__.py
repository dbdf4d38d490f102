"""rnn-nlu: recurrent-network NLU and dialogue components for Rasa 3.6.

Use them in config.yml by module path, e.g. `- name: rnn_nlu.TextRNNClassifier`.
"""

from rnn_nlu.components.text_rnn import TextRNNClassifier

__all__ = ["TextRNNClassifier"]
__version__ = "0.1.0"

"""Rasa dialogue policies: thin glue around the Keras models in `rnn_nlu.models`."""

"""Rasa 3.6 graph components: thin glue around the Keras models in `rnn_nlu.models`."""

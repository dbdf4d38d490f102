"""Pure Keras model builders. Nothing in this package imports Rasa."""

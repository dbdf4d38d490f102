"""Custom actions of the default flight bot, served by `rasa run actions` (rasa_sdk)."""

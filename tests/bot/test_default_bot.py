"""End to end: `rasa train` the default flight-booking bot, then talk to it in `rasa shell`."""

import os
import re

import pexpect
import pytest
import yaml

from tests.conftest import RASA, REPO
from tests.serving.servers import free_port


def form_questions() -> list:
    """Every wording of the flight form's questions (utter_ask_*) in the bot's domain."""
    responses = yaml.safe_load((REPO / "config" / "domain.yml").read_text())["responses"]
    return [
        r["text"]
        for name, texts in responses.items()
        if name.startswith("utter_ask_")
        for r in texts
    ]


@pytest.mark.slow
def test_rasa_shell_greets_and_books_a_flight(default_bot_model):
    env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2"}
    shell = pexpect.spawn(
        RASA,
        [
            "shell",
            "-m",
            str(default_bot_model),
            "--port",
            str(free_port()),
            "--endpoints",
            "config/endpoints.yml",
        ],
        cwd=str(REPO),
        env=env,
        encoding="utf-8",
        timeout=240,
        dimensions=(50, 400),
    )
    try:
        shell.expect("Bot loaded")
        shell.expect("Your input ->")
        shell.sendline("hi")
        shell.expect(re.compile(r"(Hi!|Hello!)[^\n]*"))
        shell.expect("Your input ->")
        shell.sendline("I want to fly from Boston to Denver tomorrow")
        # Everything the form needs was given: the bot confirms instead of asking again.
        # (The terminal echoes what was typed, so match the bot's own confirmation question.)
        shell.expect(
            re.compile(
                r"from Boston to Denver\W{1,2}(on|leaving) tomorrow\. "
                r"(Shall I book it|Is that right)\?"
            )
        )
        shell.expect("Your input ->")
        asked_again = [q for q in form_questions() if q in shell.before]
        assert not asked_again, shell.before
        shell.sendline("/stop")
        shell.expect(pexpect.EOF, timeout=60)
    finally:
        shell.close(force=True)

"""End to end: `rasa train` the default flight-booking bot, then talk to it in `rasa shell`."""

import os
import re

import pexpect
import pytest
import yaml

from tests.conftest import RASA, REPO
from tests.serving.servers import free_port

# The bot's confirmation question, in either wording of the domain.
CONFIRMATION = re.compile(
    r"from Boston to Denver\W{1,2}(on|leaving) tomorrow\. (Shall I book it|Is that right)\?"
)


RESPONSES = yaml.safe_load((REPO / "config" / "domain.yml").read_text())["responses"]
# The start of every bot message the domain has (up to its first {slot}), to know it when it comes.
BOT_MESSAGE = re.compile(
    "|".join(
        re.escape(start)
        for texts in RESPONSES.values()
        for start in (r["text"].split("{")[0] for r in texts)
        if start
    )
)


def asked(reply: str) -> set:
    """The flight form's questions (utter_ask_* response names) that appear in the bot's reply."""
    return {
        name
        for name, texts in RESPONSES.items()
        if name.startswith("utter_ask_") and any(r["text"] in reply for r in texts)
    }


def say(shell: pexpect.spawn, text: str) -> str:
    """Types one message; returns the bot's answer, from its first message to the next prompt."""
    shell.sendline(text)
    shell.expect(BOT_MESSAGE)
    answer = shell.after
    shell.expect("Your input ->")
    return answer + shell.before


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
        assert re.match(r"Hi!|Hello!", say(shell, "hi"))

        # Origin and destination in the first message: the bot asks only for the date.
        reply = say(shell, "I want to fly from Boston to Denver")
        assert asked(reply) == {"utter_ask_departure_date"}, reply
        reply = say(shell, "tomorrow")
        assert CONFIRMATION.search(reply), reply
        assert not asked(reply), reply

        # Everything in one message: the bot confirms without asking anything.
        shell.sendline("/restart")  # a new conversation; the bot answers nothing
        shell.expect("Your input ->")
        reply = say(shell, "I want to fly from Boston to Denver tomorrow")
        assert CONFIRMATION.search(reply), reply
        assert not asked(reply), reply
        shell.sendline("/stop")
        shell.expect(pexpect.EOF, timeout=60)
    finally:
        shell.close(force=True)


@pytest.mark.slow
@pytest.mark.parametrize(
    "stories",
    ["tests/bot/test_stories.yml", "tests/policies/data/test_stories_flight_memory.yml"],
    ids=["held-out", "long-range"],
)
def test_rasa_test_core_gets_every_held_out_conversation_right(
    default_bot_model, stories, tmp_path
):
    """Rasa's own story evaluation (`rasa test core`) of the trained default bot: the held-out
    conversations, and the long-range ones where what was said turns earlier decides the action."""
    import asyncio
    import json

    from rasa.core.agent import Agent
    from rasa.core.test import test

    agent = Agent.load(str(default_bot_model))
    result = asyncio.run(
        test(str(REPO / stories), agent, out_directory=str(tmp_path), disable_plotting=True)
    )
    report = json.loads((tmp_path / "story_report.json").read_text())["conversation_accuracy"]
    assert report["correct"] == report["total"] > 0, (
        tmp_path / "failed_test_stories.yml"
    ).read_text()
    assert result["accuracy"] == 1.0

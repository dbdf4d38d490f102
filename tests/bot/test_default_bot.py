"""End to end: `rasa train` the default flight-booking bot, then talk to it in `rasa shell`."""

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
RASA = str(Path(sys.executable).with_name("rasa"))
BOT = ["--config", "config/config.yml", "--domain", "config/domain.yml", "--data", "data"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def form_questions() -> list:
    """Every wording of the flight form's questions (utter_ask_*) in the bot's domain."""
    responses = yaml.safe_load((REPO / "config" / "domain.yml").read_text())["responses"]
    return [r["text"] for name, texts in responses.items() if name.startswith("utter_ask_")
            for r in texts]


@pytest.fixture(scope="module")
def bot_model(tmp_path_factory) -> Path:
    """The default bot trained by the real `rasa train`, into a temporary folder."""
    out = tmp_path_factory.mktemp("models")
    env = {**os.environ, "RASA_CACHE_DIRECTORY": str(out / "cache"), "RASA_TELEMETRY_ENABLED": "false"}
    subprocess.run(
        [RASA, "train", *BOT, "--out", str(out), "--fixed-model-name", "bot"],
        cwd=REPO, env=env, check=True, timeout=1500,
    )
    return out / "bot.tar.gz"


@pytest.mark.slow
def test_rasa_shell_greets_and_books_a_flight(bot_model):
    env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2"}
    shell = pexpect.spawn(
        RASA,
        ["shell", "-m", str(bot_model), "--port", str(free_port()), "--endpoints", "config/endpoints.yml"],
        cwd=str(REPO), env=env, encoding="utf-8", timeout=240, dimensions=(50, 400),
    )
    try:
        shell.expect("Bot loaded")
        shell.expect("Your input ->")
        shell.sendline("hi")
        shell.expect(re.compile(r"(Hi!|Hello!)[^\n]*"))
        shell.expect("Your input ->")
        shell.sendline("I want to fly from Boston to Denver tomorrow")
        # Everything the form needs was given: the bot confirms instead of asking again.
        shell.expect(re.compile(r"Boston.*Denver.*tomorrow", re.IGNORECASE))
        shell.expect("Your input ->")
        asked_again = [q for q in form_questions() if q in shell.before]
        assert not asked_again, shell.before
        shell.sendline("/stop")
        shell.expect(pexpect.EOF, timeout=60)
    finally:
        shell.close(force=True)

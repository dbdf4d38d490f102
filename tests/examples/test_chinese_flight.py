"""End to end: `rasa train` the Chinese flight-booking example bot, then parse and talk to it."""

import asyncio
import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import RASA, REPO
from tests.helpers import conversations_right

BOT = REPO / "examples" / "chinese_flight"


@pytest.fixture(scope="module")
def agent(tmp_path_factory):
    """The example bot trained by the real `rasa train` (as its README says), loaded as an Agent."""
    from rasa.core.agent import Agent

    out = tmp_path_factory.mktemp("chinese_flight")
    env = {**os.environ, "RASA_CACHE_DIRECTORY": str(out / "cache")}
    subprocess.run(
        [
            RASA,
            "train",
            "--config",
            "config.yml",
            "--domain",
            "domain.yml",
            "--data",
            "data",
            "--out",
            str(out),
            "--fixed-model-name",
            "bot",
        ],
        cwd=BOT,
        env=env,
        check=True,
        timeout=1500,
    )
    return Agent.load(str(Path(out) / "bot.tar.gz"))


@pytest.mark.slow
def test_greeting_gets_the_greet_intent(agent):
    parsed = asyncio.run(agent.parse_message("你好"))
    assert parsed["intent"]["name"] == "greet"


@pytest.mark.slow
def test_booking_gets_the_intent_and_all_three_entities(agent):
    text = "我想订明天从北京到上海的机票"
    parsed = asyncio.run(agent.parse_message(text))
    assert parsed["intent"]["name"] == "book_flight"
    entities = {e["entity"]: e["value"] for e in parsed["entities"]}
    assert entities == {"origin": "北京", "destination": "上海", "departure_date": "明天"}
    for entity in parsed["entities"]:
        assert text[entity["start"] : entity["end"]] == entity["value"]


@pytest.mark.slow
def test_booking_with_everything_given_is_confirmed_at_once(agent):
    replies = asyncio.run(agent.handle_text("我想订明天从北京到上海的机票", sender_id="zh-test"))
    text = " ".join(r.get("text", "") for r in replies)
    assert "北京" in text and "上海" in text and "明天" in text, replies
    assert "哪" not in text, replies  # no form question (哪个城市 / 哪天) asked again


@pytest.mark.slow
def test_rasa_test_gets_every_held_out_conversation_right(agent, tmp_path):
    """Rasa's end-to-end story evaluation of the held-out conversations (tests/test_stories.yml):
    the user's words through NLU (intents and entities) and every action must match."""
    report = conversations_right(BOT / "tests" / "test_stories.yml", agent, tmp_path)
    assert report["correct"] == report["total"] == 10, report["failed"]
    assert report["actions"] == 1.0

"""End to end: `rasa train` the default flight-booking bot, then talk to it in `rasa shell` and
through the REST channel, with its action server running."""

import os
import re

import pexpect
import pytest
import yaml

from tests.conftest import RASA, REPO
from tests.helpers import conversations_right
from tests.serving.servers import action_server, bot_server, endpoints_file, free_port, tracker
from tests.serving.servers import say as say_rest

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


# A user who improvises after the first booking (the conversation of the issue that asked for
# it): each message, what the reply must say (a regex, case-insensitive), and the booking slots
# after it (None: must be empty).
IMPROVISED = [
    ("hi", r"Hi!|Hello!", {}),
    ("I want to fly from Boston to Denver", r"When would you like|On what date", {}),
    ("tomorrow", r"from Boston to Denver\W{1,2}(on|leaving) tomorrow", {}),
    ("yes", r"Boston to Denver on tomorrow", {"origin": None, "destination": None}),
    (
        "book me a flight to chicago next friday",
        r"Where will you be flying from|Which city are you departing from",
        {"origin": None, "destination": "chicago", "departure_date": "next friday"},
    ),
    ("from seattle", r"from seattle to chicago\W{1,2}(on|leaving) next friday\W", {}),
    (
        "actually make it miami instead",
        r"from seattle to miami\W{1,2}(on|leaving) next friday\W",
        {"origin": "seattle", "destination": "miami"},
    ),
    (
        "I need two tickets from new york to los angeles on december 24 in business class",
        r"from new york to los angeles\W{1,2}(on|leaving) december 24, for 2 passengers, "
        r"in business class\.",
        {
            "origin": "new york",
            "destination": "los angeles",
            "departure_date": "december 24",
            "passengers": "2",
            "travel_class": "business",
            "return_date": None,
        },
    ),
    ("yes", r"new york to los angeles on december 24", {"origin": None, "passengers": None}),
    # a change after the booking was made, then a "yes" that answers no confirmation question
    ("make it three people", r"already made", {"passengers": None}),
    ("yes", r"^(?!.*None)", {"origin": None}),
]


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


@pytest.fixture(scope="module")
def endpoints(tmp_path_factory):
    """The bot's action server on a free port, and an endpoints.yml pointing at it."""
    folder = tmp_path_factory.mktemp("actions")
    with action_server(folder / "actions.log") as webhook:
        yield endpoints_file(folder / "endpoints.yml", webhook)


@pytest.mark.slow
def test_rasa_shell_greets_books_and_follows_an_improvising_user(default_bot_model, endpoints):
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
            str(endpoints),
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

        shell.sendline("/restart")
        shell.expect("Your input ->")
        for text, expected, _ in IMPROVISED:
            reply = say(shell, text)
            assert re.search(expected, reply, re.IGNORECASE), (text, reply)
        shell.sendline("/stop")
        shell.expect(pexpect.EOF, timeout=60)
    finally:
        shell.close(force=True)


@pytest.mark.slow
@pytest.mark.parametrize(
    "stories",
    [
        "tests/bot/test_stories.yml",
        "tests/bot/test_stories_improvised.yml",
        "tests/policies/data/test_stories_flight_memory.yml",
    ],
    ids=["held-out", "improvised", "long-range"],
)
def test_rasa_test_core_gets_every_held_out_conversation_right(
    default_bot_model, stories, tmp_path
):
    """Rasa's own story evaluation (`rasa test core`) of the trained default bot: the held-out
    conversations, and the long-range ones where what was said turns earlier decides the action."""
    from rasa.core.agent import Agent

    agent = Agent.load(str(default_bot_model))
    report = conversations_right(REPO / stories, agent, tmp_path)
    assert report["correct"] == report["total"] > 0, report["failed"]
    assert report["actions"] == 1.0


@pytest.mark.slow
def test_rest_channel_follows_an_improvising_user(default_bot_model, tmp_path):
    """The same conversation through `rasa run`'s REST channel: replies and booking slots."""
    with bot_server(default_bot_model, tmp_path) as server:
        for text, expected, slots in IMPROVISED:
            reply = say_rest(server["url"], "improviser", text)
            assert reply.status_code == 200, reply.text
            said = " ".join(m.get("text", "") for m in reply.json())
            assert re.search(expected, said, re.IGNORECASE), (text, said)
            now = tracker(server["url"], "improviser")["slots"]
            for name, value in slots.items():
                got = now[name].lower() if isinstance(now[name], str) else now[name]
                assert got == value, (text, name, now)


@pytest.mark.slow
def test_nlu_reads_a_multi_word_city_as_one_entity(default_bot_model):
    import asyncio

    from rasa.core.agent import Agent

    agent = Agent.load(str(default_bot_model))
    for text, name, value in [
        ("flights to new york city", "new york city", "New York"),  # a synonym in data/nlu.yml
        ("i need to fly to salt lake city", "salt lake city", "Salt Lake City"),
        ("from st. louis please", "st. louis", "St. Louis"),
    ]:
        parsed = asyncio.run(agent.parse_message(text))
        found = [(text[e["start"] : e["end"]], e["value"]) for e in parsed["entities"]]
        assert found == [(name, value)], parsed["entities"]

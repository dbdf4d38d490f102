"""Bad input through the default bot's real HTTP API: a normal answer (200, the bot's reply, the
message in the tracker), never a crash, as README "Security" says."""

import pytest
import requests

from tests.serving.servers import bot_server, say, tracker, user_texts

pytestmark = pytest.mark.slow

BAD_TEXTS = {
    "empty": "",
    "whitespace": " \t\n  ",
    "100k-chars": "x" * 100_000,
    "100k-words": "fly " * 25_000,
    "emoji-astral": "✈️🛫 𝔣𝔩𝔶 𓀀 🏳️‍🌈",
    "control-chars": "hi\x00\x01\x07\x1b[31m\u202e\ufeff there",
    "mixed-scripts": "book a 航班 from Москва to القاهرة tomorrow",
}


@pytest.fixture(scope="module")
def server(default_bot_model, tmp_path_factory):
    with bot_server(default_bot_model, tmp_path_factory.mktemp("http")) as s:
        yield s


@pytest.mark.parametrize("text", BAD_TEXTS.values(), ids=BAD_TEXTS.keys())
def test_bad_text_gets_a_normal_answer_and_is_recorded(server, text):
    url = server["url"]
    parsed = requests.post(f"{url}/model/parse", json={"text": text}, timeout=120)
    assert parsed.status_code == 200, parsed.text
    assert "intent" in parsed.json()
    sender = f"bad-{abs(hash(text))}"
    reply = say(url, sender, text)
    assert reply.status_code == 200, reply.text
    assert reply.json() and all("text" in m or "buttons" in m for m in reply.json())  # its answer
    assert user_texts(tracker(url, sender))[-1] == text.strip()  # Rasa strips messages
    assert requests.get(f"{url}/status", timeout=10).ok  # still serving


def test_malformed_requests_do_not_stop_the_server(server):
    url = server["url"]
    # Rasa's own handler answers these with 500 and an error message; it must keep serving.
    requests.post(f"{url}/model/parse", data=b"{not json", timeout=30)
    requests.post(f"{url}/model/parse", json={"txt": "hi"}, timeout=30)
    assert requests.post(f"{url}/model/parse", json={"text": "hi"}, timeout=30).ok


def test_500_turn_conversation_keeps_every_event(server):
    url = server["url"]
    turns = [
        "hi",
        "I want to book a flight",
        "from Boston",
        "to Denver",
        "tomorrow",
        "no",
        "how much is a flight to Paris?",
        "thanks",
        "bye",
        "are you a bot?",
    ]
    sent = [turns[i % len(turns)] + f" {i}" * (i % 3 == 0) for i in range(500)]
    for text in sent:
        reply = say(url, "marathon", text)
        assert reply.ok, reply.text
    assert user_texts(tracker(url, "marathon")) == sent

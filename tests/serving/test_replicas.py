"""Scale-out: two `rasa run` replicas on one Redis tracker store share every conversation."""

import signal

import pytest

from tests.serving.servers import (
    action_server,
    actions,
    endpoints_file,
    rasa_server,
    redis_server,
    say,
    stop,
    tracker,
    user_texts,
)

pytestmark = pytest.mark.slow

# A booking told over several turns: each answer depends on what was said before.
CONVERSATION = ["hi", "I want to book a flight", "from Boston", "to Denver", "tomorrow", "yes"]


@pytest.fixture(scope="module")
def replicas(default_bot_model, tmp_path_factory):
    """Two replicas of the default bot on one throw-away Redis."""
    tmp = tmp_path_factory.mktemp("replicas")
    with redis_server(tmp / "redis.log") as port, action_server(tmp / "actions.log") as webhook:
        endpoints = endpoints_file(
            tmp / "endpoints.yml",
            webhook,
            f"tracker_store:\n  type: redis\n  url: 127.0.0.1\n  port: {port}\n  db: 0\n"
            f"lock_store:\n  type: redis\n  url: 127.0.0.1\n  port: {port}\n  db: 1\n",
        )
        with (
            rasa_server(default_bot_model, tmp / "a.log", endpoints) as a,
            rasa_server(default_bot_model, tmp / "b.log", endpoints) as b,
        ):
            yield a, b


@pytest.fixture(scope="module")
def on_one_replica(replicas):
    """The conversation told to replica A alone: the reference."""
    a, _ = replicas
    for text in CONVERSATION:
        assert say(a["url"], "solo", text).ok
    return tracker(a["url"], "solo")


def test_conversation_alternating_between_replicas_goes_as_on_one(replicas, on_one_replica):
    a, b = replicas
    replies = [say((a, b)[i % 2]["url"], "roaming", text) for i, text in enumerate(CONVERSATION)]
    assert all(r.ok for r in replies)
    roaming = tracker(b["url"], "roaming")
    assert user_texts(roaming) == CONVERSATION
    assert actions(roaming) == actions(on_one_replica)
    assert "action_confirm_booking" in actions(roaming)
    confirmation = " ".join(m.get("text", "") for m in replies[4].json())
    assert "Boston" in confirmation and "Denver" in confirmation
    booked = " ".join(m.get("text", "") for m in replies[5].json())
    assert "Boston" in booked and "Denver" in booked and "tomorrow" in booked
    assert roaming["slots"]["origin"] is None  # the booking is done: its details are forgotten


def test_killing_a_replica_mid_conversation_loses_nothing(replicas, on_one_replica):
    a, b = replicas
    for i, text in enumerate(CONVERSATION[:3]):
        assert say((a, b)[i % 2]["url"], "survivor", text).ok
    stop(a["process"], signal.SIGKILL)
    for text in CONVERSATION[3:]:
        assert say(b["url"], "survivor", text).ok
    survivor = tracker(b["url"], "survivor")
    assert user_texts(survivor) == CONVERSATION
    assert actions(survivor) == actions(on_one_replica)

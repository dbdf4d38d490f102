"""MemoryNetworkPolicy on the long-range toy: the user's first choice decides the answer to `ask`
after k small-talk turns (tests/policies/data). Training stories have k = 0, 1, 2, 4, 6; the tests
also ask at k = 3, 5, 7, 8, distances no story has.

Fast tests train the policy directly on Rasa's trackers; the slow ones train through
`rasa.model_training.train_core` and talk to `Agent`s.
"""

import asyncio
import logging
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np
import pytest
import rasa.shared.utils.io
from rasa.core.agent import Agent
from rasa.core.training import load_data
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.model_training import train_core
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.exceptions import InvalidConfigException

from rnn_nlu import MemoryNetworkPolicy
from rnn_nlu.bench import dialogues
from rnn_nlu.policies.memory_network import replayed
from rnn_nlu.policies.turns import state_symbols

DATA = Path(__file__).parent / "data"
TRAINED_K = (0, 1, 2, 4, 6)
UNSEEN_K = (3, 5, 7, 8)
# Small and quick; no held-out split, so every epoch runs on the ten stories.
FAST = {"max_history": 20, "embedding_dim": 32, "epochs": 60, "validation_split": 0.0}


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(DATA / "domain.yml")


def intents(choice: str, k: int) -> List[str]:
    return [f"choose_{choice}"] + ["chat"] * k + ["ask"]


def tracker(
    domain: Domain, names: List[str], entities: Optional[List[Dict]] = None
) -> DialogueStateTracker:
    """A live tracker that has just heard the last of `names`, with the toy's replies before it."""
    reply = {"choose_a": "utter_noted", "choose_b": "utter_noted", "chat": "utter_chat"}
    events: List[Any] = [ActionExecuted("action_listen")]
    for i, name in enumerate(names):
        events.append(UserUttered(f"/{name}", {"name": name}, entities or []))
        if i < len(names) - 1:
            events += [
                ActionExecuted(reply.get(name, "utter_chat")),
                ActionExecuted("action_listen"),
            ]
    return DialogueStateTracker.from_events("test", events, slots=domain.slots)


def train(policy_config: Dict[str, Any], domain: Domain, storage, resource, context, stories=None):
    policy = MemoryNetworkPolicy.create({**FAST, **policy_config}, storage, resource, context)
    trackers = load_data(str(stories or DATA / "stories.yml"), domain, augmentation_factor=0)
    policy.train(trackers, domain)
    return policy


def best_action(policy, tracker_, domain: Domain) -> str:
    prediction = policy.predict_action_probabilities(tracker_, domain)
    return domain.action_names_or_texts[prediction.max_confidence_index]


@pytest.fixture(scope="module")
def trained(tmp_path_factory, domain, resource, execution_context):
    storage = LocalModelStorage.create(tmp_path_factory.mktemp("memory_network"))
    policy = train({}, domain, storage, resource, execution_context)
    policy.storage = storage
    return policy


@pytest.mark.parametrize("k", sorted(TRAINED_K + UNSEEN_K))
def test_answer_depends_on_the_first_turn_k_turns_back(trained, domain, k):
    for choice in "ab":
        assert (
            best_action(trained, tracker(domain, intents(choice, k)), domain) == f"utter_{choice}"
        )


def test_prediction_is_a_distribution_over_the_domain_actions(trained, domain):
    prediction = trained.predict_action_probabilities(tracker(domain, intents("b", 5)), domain)
    assert len(prediction.probabilities) == domain.num_actions
    assert sum(prediction.probabilities) == pytest.approx(1.0, abs=1e-5)
    assert prediction.policy_name == "MemoryNetworkPolicy"
    assert prediction.policy_priority == trained.priority == 1


def test_attention_per_hop_is_reported_and_logged(trained, domain, caplog):
    with caplog.at_level(logging.DEBUG, logger="rnn_nlu.policies.memory_network"):
        prediction = trained.predict_action_probabilities(tracker(domain, intents("b", 5)), domain)
    remembered = prediction.diagnostic_data["remembered_turns"]
    attention = prediction.diagnostic_data["attention_weights"]
    assert len(remembered) == 1 + 5  # turns: the choice (with its reply), five chats (with theirs)
    assert attention.shape == (trained.config["hops"], len(remembered))
    np.testing.assert_allclose(attention.sum(axis=1), 1.0, rtol=1e-5)
    assert "intent_choose_b" in remembered[-1] and "prev_action_utter_noted" in remembered[-1]
    most = int(np.argmax(attention.mean(axis=0)))
    assert "intent_choose_b" in remembered[most]  # the turn that decides the answer
    assert any(
        f"turn {most + 1} back" in r.message and "intent_choose_b" in r.message
        for r in caplog.records
    )


def test_persist_and_load_give_the_same_probabilities(trained, domain, resource, execution_context):
    loaded = MemoryNetworkPolicy.load(trained.config, trained.storage, resource, execution_context)
    for choice, k in [("a", 3), ("b", 7), ("a", 0)]:
        t = tracker(domain, intents(choice, k))
        before = trained.predict_action_probabilities(t, domain)
        after = loaded.predict_action_probabilities(t, domain)
        np.testing.assert_allclose(after.probabilities, before.probabilities, rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(
            after.diagnostic_data["attention_weights"],
            before.diagnostic_data["attention_weights"],
            rtol=1e-6,
            atol=1e-7,
        )


def test_archive_is_json_and_npz_only(trained, resource):
    with trained.storage.read_from(resource) as directory:
        assert sorted(p.name for p in Path(directory).iterdir()) == ["metadata.json", "weights.npz"]
        with np.load(Path(directory) / "weights.npz", allow_pickle=False) as weights:
            assert len(weights.files) == len(trained.model.weights)


def test_empty_tracker_and_unseen_symbols_get_a_normal_prediction(trained, domain):
    bigger = Domain.from_dict(
        {
            **domain.as_dict(),
            "intents": [*domain.intents, "unseen_intent"],
            "entities": ["city"],
            "slots": {"flag": {"type": "bool", "mappings": [{"type": "custom"}]}},
        }
    )
    unseen = tracker(bigger, ["choose_b", "unseen_intent", "chat", "ask"], [{"entity": "city"}])
    unseen.update(SlotSet("flag", True))
    for t, d in [(DialogueStateTracker("empty", domain.slots), domain), (unseen, bigger)]:
        prediction = trained.predict_action_probabilities(t, d)
        assert len(prediction.probabilities) == d.num_actions
        assert sum(prediction.probabilities) == pytest.approx(1.0, abs=1e-5)
    assert "slot_flag_0" in state_symbols(
        unseen.past_states(bigger)[-1]
    )  # reached the model as UNK
    assert best_action(trained, unseen, bigger) == "utter_b"


def test_untrained_and_data_less_policies_predict_nothing(
    domain, model_storage, resource, execution_context
):
    policy = MemoryNetworkPolicy.create({}, model_storage, resource, execution_context)
    assert (
        policy.predict_action_probabilities(tracker(domain, ["ask"]), domain).probabilities
        == [0.0] * domain.num_actions
    )
    with pytest.warns(UserWarning, match="no story turns"):
        policy.train([], domain)
    loaded = MemoryNetworkPolicy.load({}, model_storage, resource, execution_context)
    assert (
        max(loaded.predict_action_probabilities(tracker(domain, ["ask"]), domain).probabilities)
        == 0.0
    )


def test_single_action_domain(tmp_path, model_storage, resource, execution_context):
    domain = Domain.from_yaml(
        'version: "3.1"\nintents: [hello]\nresponses:\n  utter_hi:\n  - text: hi\n'
    )
    (tmp_path / "stories.yml").write_text(
        'version: "3.1"\nstories:\n- story: one\n  steps:\n'
        "  - intent: hello\n  - action: utter_hi\n"
    )
    policy = train(
        {"epochs": 10}, domain, model_storage, resource, execution_context, tmp_path / "stories.yml"
    )
    t = DialogueStateTracker.from_events(
        "s",
        [ActionExecuted("action_listen"), UserUttered("/hello", {"name": "hello"})],
        slots=domain.slots,
    )
    assert best_action(policy, t, domain) == "utter_hi"


def test_training_states_line_up_with_their_actions(
    domain, model_storage, resource, execution_context
):
    """Story concatenation adds ActionReverted events; the replayed trackers keep each state next to
    the action that followed it (Rasa's cached states would drift)."""
    trackers = load_data(str(DATA / "stories.yml"), domain, augmentation_factor=5)
    featurizer = MemoryNetworkPolicy({}, model_storage, resource, execution_context).featurizer
    conversations, labels = featurizer.training_states_and_labels(
        [replayed(t, domain) for t in trackers], domain
    )
    assert any(getattr(t, "is_augmented", False) for t in trackers)
    reply = {"choose_a": "utter_noted", "choose_b": "utter_noted", "chat": "utter_chat"}
    for states, (label,) in zip(conversations, labels):
        last = states[-1]
        previous = last.get("prev_action", {}).get("action_name")
        if previous and previous != "action_listen":
            assert label == "action_listen", (states, label)
        elif previous == "action_listen" and last["user"]["intent"] in reply:
            assert label == reply[last["user"]["intent"]], (states, label)


@pytest.mark.parametrize(
    "option, value", [("hops", 0), ("tying", "none"), ("max_history", "all"), ("depth", 2)]
)
def test_bad_options_are_refused_by_name(option, value, model_storage, resource, execution_context):
    with pytest.raises(InvalidConfigException, match=option):
        MemoryNetworkPolicy.create({option: value}, model_storage, resource, execution_context)


# --------------------------------------------------------------- through Rasa: train_core + Agent

RULES = """version: "3.1"
rules:
- rule: small talk
  steps:
  - intent: chat
  - action: utter_chat
"""


def train_toy(out: Path, name: str, policies: List[Dict[str, Any]], rules: bool = False) -> str:
    data = out / f"{name}_data"
    data.mkdir()
    (data / "stories.yml").write_text((DATA / "stories.yml").read_text())
    if rules:
        (data / "rules.yml").write_text(RULES)
    config = out / f"{name}.yml"
    rasa.shared.utils.io.write_yaml(
        {"recipe": "default.v1", "assistant_id": "toy", "policies": policies}, config
    )
    return train_core(
        str(DATA / "domain.yml"),
        str(config),
        str(data),
        str(out),
        fixed_model_name=name,
        additional_arguments={"augmentation_factor": 0},
    )


@pytest.fixture(scope="module")
def toy_models(tmp_path_factory) -> Dict[str, str]:
    """Two models trained by Rasa: the policy alone with max_history 20, and the policy in an
    ensemble with MemoizationPolicy and RulePolicy (one rule: chat -> utter_chat)."""
    out = tmp_path_factory.mktemp("toy_models")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RASA_CACHE_DIRECTORY", str(out / "cache"))
        memory = {"name": "rnn_nlu.MemoryNetworkPolicy", **FAST}
        return {
            "memory": train_toy(out, "memory", [memory]),
            "ensemble": train_toy(
                out,
                "ensemble",
                [{"name": "MemoizationPolicy"}, {"name": "RulePolicy"}, memory],
                True,
            ),
        }


@pytest.fixture(scope="module")
def agents(toy_models) -> Dict[str, Agent]:
    return {name: Agent.load(path) for name, path in toy_models.items()}


def talk(agent: Agent, conversations: Dict[str, List[str]]) -> Dict[str, List[str]]:
    """The bot's replies, one string per user message, for each sender's messages."""

    async def run() -> Dict[str, List[str]]:
        replies = {}
        for sender, names in conversations.items():
            replies[sender] = []
            for name in names:
                messages = await agent.handle_text(f"/{name}", sender_id=sender)
                replies[sender].append(" ".join(m.get("text", "") for m in messages))
        return replies

    return asyncio.run(run())


ALL = {f"{c}{k}": intents(c, k) for c in "ab" for k in sorted(TRAINED_K + UNSEEN_K)}


@pytest.mark.slow
def test_agent_answers_from_the_first_turn_at_every_distance(agents):
    replies = talk(agents["memory"], ALL)
    for sender, names in ALL.items():
        choice, k = sender[0], len(names) - 2
        assert replies[sender] == ["noted"] + ["chat"] * k + [choice.upper()], sender


@pytest.mark.slow
def test_in_an_ensemble_rules_win_and_the_memory_answers_unseen_distances(agents):
    agent = agents["ensemble"]
    unseen = {f"{c}{k}": intents(c, k) for c in "ab" for k in UNSEEN_K}
    replies = talk(agent, unseen)

    async def policies(sender: str) -> Dict[str, set]:
        events = (await agent.tracker_store.retrieve(sender)).events
        used: Dict[str, set] = {}
        for e in events:
            if isinstance(e, ActionExecuted) and e.policy:
                used.setdefault(e.action_name, set()).add(e.policy)
        return used

    for sender in unseen:
        assert replies[sender][-1] == sender[0].upper()
        used = asyncio.run(policies(sender))
        assert used["utter_chat"] == {"RulePolicy"}
        assert used[f"utter_{sender[0]}"] == {"MemoryNetworkPolicy"}


def test_same_seed_gives_the_same_policy_and_another_seed_differs(
    tmp_path, domain, resource, execution_context
):
    def probabilities(seed: int, folder: str) -> np.ndarray:
        (tmp_path / folder).mkdir()
        storage = LocalModelStorage.create(tmp_path / folder)
        policy = train(
            {"random_seed": seed, "epochs": 5}, domain, storage, resource, execution_context
        )
        return np.array(
            [
                policy.predict_action_probabilities(
                    tracker(domain, intents(c, k)), domain
                ).probabilities
                for c, k in [("a", 2), ("b", 5)]
            ]
        )

    first = probabilities(7, "a")
    np.testing.assert_allclose(probabilities(7, "b"), first, rtol=0, atol=1e-6)
    assert np.abs(probabilities(8, "c") - first).max() > 1e-4


# ---------------------------------- generated tasks nobody tuned to (rnn_nlu.bench.dialogues)


def conversations_right(policy, trackers, domain: Domain) -> Dict[str, List[int]]:
    """{group: [right, all]}: a conversation is right when every action of it is predicted, each
    from the conversation so far (what `rasa test core` counts)."""
    counts: Dict[str, List[int]] = {}
    for story in trackers:
        live = DialogueStateTracker(story.sender_id, domain.slots)
        right = True
        for i, event in enumerate(story.events):
            if isinstance(event, ActionExecuted) and i > 0 and right:
                right = best_action(policy, live, domain) == event.action_name
            live.update(event)
        count = counts.setdefault(story.sender_id.split(":")[0], [0, 0])
        count[0] += right
        count[1] += 1
    return counts


def task(tmp_path: Path, train_dialogues, test_dialogues):
    folder = dialogues.write_task(tmp_path / "task", train_dialogues, test_dialogues)
    domain = Domain.load(folder / "domain.yml")
    return (
        domain,
        load_data(str(folder / "stories.yml"), domain, augmentation_factor=0),
        load_data(str(folder / "test_stories.yml"), domain, augmentation_factor=0),
    )


@pytest.mark.parametrize("kind", ["change", "reinform"])
def test_the_later_of_two_mentions_counts_at_distances_never_trained(
    kind, tmp_path, resource, execution_context
):
    """A city, distractor turns, maybe another city (a change intent, or a plain inform that looks
    just like the first), more distractors, then the question: the answer is for the later city.
    Training has 0-3, 5 and 7 distractor turns after it; the test also 4, 6, 8, 9 and 10."""
    domain, train, test = task(
        tmp_path,
        dialogues.city_task(kind, dialogues.TRAIN_DISTANCES, 200, seed=0),
        dialogues.city_task(kind, dialogues.UNSEEN_DISTANCES, 50, 1, "unseen")
        + dialogues.city_task(kind, dialogues.TRAIN_DISTANCES, 30, 2, "seen"),
    )
    storage = LocalModelStorage.create(tmp_path)
    policy = MemoryNetworkPolicy.create({"random_seed": 1}, storage, resource, execution_context)
    policy.train(train, domain)
    assert conversations_right(policy, test, domain) == {"unseen": [50, 50], "seen": [30, 30]}


@pytest.mark.parametrize("max_history", [5, 30, None])
def test_more_memory_does_not_hurt_a_task_the_current_state_decides(
    max_history, tmp_path, resource, execution_context
):
    """bAbI dialog task 5 style: what the user gave is in slots, so the latest state decides each
    action; a long memory (or the whole conversation) must not make it worse."""
    domain, train, test = task(
        tmp_path, dialogues.restaurant_task(400, seed=0), dialogues.restaurant_task(40, seed=1)
    )
    storage = LocalModelStorage.create(tmp_path)
    config = {"max_history": max_history, "random_seed": 1}
    policy = MemoryNetworkPolicy.create(config, storage, resource, execution_context)
    policy.train(train, domain)
    ((right, total),) = conversations_right(policy, test, domain).values()
    assert right == total > 20


@pytest.mark.slow
def test_explain_shows_the_turn_that_decided_each_answer(toy_models, tmp_path):
    from rnn_nlu.bench import explain

    explained = explain.run(Path(toy_models["memory"]), DATA / "test_stories.yml", tmp_path)
    assert explained and (tmp_path / "explain.md").is_file()
    assert len(list(tmp_path.glob("*.png"))) == len(explained)
    for name, steps in explained.items():
        assert all(step.expected == step.predicted for step in steps), name
        (answer,) = [s for s in steps if s.expected in ("utter_a", "utter_b")]
        decisive = answer.turns[int(np.argmax(answer.attention))]
        assert f"intent_choose_{answer.expected[-1]}" in decisive, name
    assert "turn attended most" in (tmp_path / "explain.md").read_text()

"""Generated dialogue tasks for dialogue policies, in Rasa's story format (no Rasa import here).

- `city`: the user names a city, talks about other things for a while, maybe names another city
  (`change_city_<y>`, or a plain `inform_city_<y>` in the `reinform` kind), then asks for the
  weather: the answer is for the latest city. Test distances (distractor turns between the latest
  mention and the question) can be ones that training never has.
- `restaurant`: in the style of bAbI dialog task 5: greet, ask for a table giving some of
  cuisine, location, party size and price range, the bot asks for what is missing, makes the API
  call, suggests, the user denies a few suggestions and takes one, thanks. Slots hold what was
  given, so the current state alone decides every action: more memory must not hurt.

A test story's name starts with its group ("seen: ...", "unseen: ...") so that results can be
broken down by group.
"""

import random
from pathlib import Path
from typing import Dict, List, NamedTuple, Sequence

CITIES = ("paris", "rome", "tokyo", "lima", "oslo")
DISTRACTORS = {
    "chitchat": "utter_chitchat",
    "thank": "utter_welcome",
    "smalltalk": "utter_smalltalk",
}
TRAIN_DISTANCES = (0, 1, 2, 3, 5, 7)
UNSEEN_DISTANCES = (4, 6, 8, 9, 10)
FIELDS = {
    "cuisine": ("italian", "french", "indian", "spanish", "thai"),
    "location": ("london", "madrid", "bombay", "seoul", "hanoi"),
    "people": ("two", "four", "six", "eight"),
    "price": ("cheap", "moderate", "expensive"),
}


class Turn(NamedTuple):
    intent: str
    entities: Dict[str, str]
    actions: List[str]  # the bot's answer, before it listens again


class Dialogue(NamedTuple):
    name: str
    turns: List[Turn]


def city_dialogue(rng: random.Random, distance: int, kind: str = "change") -> List[Turn]:
    """One `city` conversation whose latest mention is `distance` distractor turns back."""

    def distractors(count: int) -> List[Turn]:
        return [Turn(i, {}, [DISTRACTORS[i]]) for i in rng.choices(list(DISTRACTORS), k=count)]

    first, other = rng.sample(CITIES, 2)
    turns = [Turn(f"inform_city_{first}", {}, ["utter_ack_city"])]
    latest = first
    if rng.random() < 0.5:  # a second mention, which then counts
        turns += distractors(rng.randint(0, 2))
        intent = "change_city" if kind == "change" else "inform_city"
        turns.append(Turn(f"{intent}_{other}", {}, ["utter_ack_city"]))
        latest = other
    turns += distractors(distance)
    return turns + [Turn("ask_weather", {}, [f"utter_weather_{latest}"])]


def city_task(
    kind: str, distances: Sequence[int], count: int, seed: int, group: str = ""
) -> List[Dialogue]:
    """`count` conversations, the distances taken in turn from `distances`."""
    rng = random.Random(seed)
    dialogues = []
    for n in range(count):
        distance = distances[n % len(distances)]
        name = f"{group or 'train'}: distance {distance}, {kind} {n}"
        dialogues.append(Dialogue(name, city_dialogue(rng, distance, kind)))
    return dialogues


def restaurant_dialogue(rng: random.Random) -> List[Turn]:
    """One `restaurant` conversation."""
    values = {field: rng.choice(options) for field, options in FIELDS.items()}
    given = set(rng.sample(list(FIELDS), rng.randint(0, len(FIELDS))))
    turns = [Turn("greet", {}, ["utter_greet"])]
    request = Turn("request_table", {f: values[f] for f in FIELDS if f in given}, [])
    turns.append(request)
    while True:
        missing = [f for f in FIELDS if f not in given]
        if not missing:
            turns[-1].actions.extend(["utter_api_call", "utter_suggest"])
            break
        turns[-1].actions.append(f"utter_ask_{missing[0]}")
        answer = {missing[0]} | ({rng.choice(missing)} if rng.random() < 0.3 else set())
        given |= answer
        turns.append(Turn("inform", {f: values[f] for f in FIELDS if f in answer}, []))
    for _ in range(rng.randint(0, 3)):
        turns.append(Turn("deny", {}, ["utter_suggest"]))
    turns.append(Turn("affirm", {}, ["utter_reserved"]))
    return turns + [Turn("thank", {}, ["utter_welcome"])]


def restaurant_task(count: int, seed: int, group: str = "all") -> List[Dialogue]:
    rng = random.Random(seed)
    return [Dialogue(f"{group}: restaurant {n}", restaurant_dialogue(rng)) for n in range(count)]


def stories_yaml(dialogues: Sequence[Dialogue]) -> str:
    """Rasa 3.1 stories; entities that name a domain slot are followed by `slot_was_set`."""
    lines = ['version: "3.1"', "stories:"]
    for dialogue in dialogues:
        lines += [f"- story: '{dialogue.name}'", "  steps:"]
        for turn in dialogue.turns:
            lines.append(f"  - intent: {turn.intent}")
            if turn.entities:
                lines.append("    entities:")
                lines += [f"    - {k}: {v}" for k, v in turn.entities.items()]
                lines.append("  - slot_was_set:")
                lines += [f"    - {k}: {v}" for k, v in turn.entities.items()]
            lines += [f"  - action: {action}" for action in turn.actions]
    return "\n".join(lines) + "\n"


def domain_yaml(dialogues: Sequence[Dialogue]) -> str:
    """A domain with every intent, entity, slot and response the dialogues use."""
    intents = sorted({t.intent for d in dialogues for t in d.turns})
    entities = sorted({e for d in dialogues for t in d.turns for e in t.entities})
    actions = sorted({a for d in dialogues for t in d.turns for a in t.actions})
    lines = ['version: "3.1"', "intents:"] + [f"  - {i}" for i in intents]
    if entities:
        lines += ["entities:"] + [f"  - {e}" for e in entities] + ["slots:"]
        for entity in entities:
            lines += [
                f"  {entity}:",
                "    type: text",
                "    influence_conversation: true",
                "    mappings:",
                "    - type: from_entity",
                f"      entity: {entity}",
            ]
    lines += ["responses:"]
    for action in actions:
        lines += [f"  {action}:", f"    - text: {action}"]
    lines += ["session_config:", "  session_expiration_time: 0"]
    return "\n".join(lines) + "\n"


def write_task(folder: Path, train: Sequence[Dialogue], test: Sequence[Dialogue]) -> Path:
    """domain.yml, stories.yml and test_stories.yml of one task in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "domain.yml").write_text(domain_yaml([*train, *test]))
    (folder / "stories.yml").write_text(stories_yaml(train))
    (folder / "test_stories.yml").write_text(stories_yaml(test))
    return folder


def write_all(out: Path, train_count: int = 400, test_count: int = 130, seed: int = 0) -> None:
    """The three tasks of the benchmark (docs/memory_network_policy.md) under `out`."""
    for kind in ("change", "reinform"):
        train = city_task(kind, TRAIN_DISTANCES, train_count, seed)
        test = city_task(kind, UNSEEN_DISTANCES, test_count, seed + 1, "unseen")
        test += city_task(kind, TRAIN_DISTANCES, test_count // 2, seed + 2, "seen")
        write_task(out / f"city_{kind}", train, test)
    write_task(
        out / "restaurant",
        restaurant_task(2 * train_count, seed),
        restaurant_task(test_count // 2, seed + 1),
    )

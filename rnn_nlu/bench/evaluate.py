"""Worker run in a fresh process per model: load it once, then evaluate it the way a user meets it.

`nlu MODEL TEST.yml [VAL.yml] OUT.json`: `Agent.load`, then `agent.parse_message(text)` for every
test (and validation) message (the code path of `rasa run`'s /model/parse), timed per message after
a warm-up.
`core MODEL STORIES.yml OUT_DIR OUT.json`: `Agent.load`, then Rasa's own `rasa.core.test.test`.
Rasa's logging is set to WARNING first: DEBUG logging adds milliseconds to every parse.
"""

import asyncio
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

WARMUP_MESSAGES = 20  # parsed before timing starts: the first calls build TensorFlow graphs
# The intent Rasa's FallbackClassifier answers below its threshold (rasa.shared.constants'
# DEFAULT_NLU_FALLBACK_INTENT_NAME); it also heads `intent_ranking` then.
FALLBACK_INTENT = "nlu_fallback"


def quiet() -> None:
    os.environ["LOG_LEVEL"] = "WARNING"
    logging.basicConfig(level=logging.WARNING)
    from rasa.utils.common import configure_logging_and_warnings
    from rasa.utils.log_utils import configure_structlog

    configure_logging_and_warnings(logging.WARNING)
    configure_structlog(logging.WARNING)


def load_agent(model: str) -> Tuple[Any, float]:
    """The agent, and the seconds `Agent.load` took once Rasa and its components were imported."""
    import rasa.engine.recipes.default_components  # noqa: F401 (imports TensorFlow)
    from rasa.core.agent import Agent

    start = time.perf_counter()
    agent = Agent.load(model)
    return agent, time.perf_counter() - start


def _entities(entities: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    keys = ("start", "end", "entity", "value", "extractor")
    return [{k: e.get(k) for k in keys} for e in entities if "start" in e and "end" in e]


def classifier_intent(result: Dict[str, Any]) -> Tuple[Optional[str], Optional[float]]:
    """The intent classifier's top intent and confidence in a parse result: the first entry of
    `intent_ranking` that is not FALLBACK_INTENT, else `intent` (a classifier without a ranking).
    """
    for entry in result.get("intent_ranking") or []:
        if entry.get("name") != FALLBACK_INTENT:
            return entry.get("name"), entry.get("confidence")
    intent = result.get("intent") or {}
    return intent.get("name"), intent.get("confidence")


async def _parse_all(agent: Any, texts: List[str]) -> List[Dict[str, Any]]:
    for text in texts[:WARMUP_MESSAGES]:
        await agent.parse_message(text)
    parsed = []
    for text in texts:
        start = time.perf_counter()
        result = await agent.parse_message(text)
        milliseconds = (time.perf_counter() - start) * 1000
        name, confidence = classifier_intent(result)
        parsed.append(
            {
                "intent": (result.get("intent") or {}).get("name"),
                "classifier_intent": name,
                "confidence": None if confidence is None else float(confidence),
                "entities": _entities(result.get("entities") or []),
                "ms": milliseconds,
            }
        )
    return parsed


def examples(path: str) -> List[Any]:
    from rasa.shared.nlu.training_data.loading import load_data

    return [m for m in load_data(path).intent_examples if m.get("text")]


def _messages(examples: List[Any], parsed: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    return [
        {
            "text": m.get("text"),
            "gold_intent": m.get("intent"),
            "gold_entities": _entities(m.get("entities") or []),
            **p,
        }
        for m, p in zip(examples, parsed)
    ]


async def _parse_files(agent: Any, files: List[List[Any]]) -> List[List[Dict[str, Any]]]:
    # One event loop for all files, as one server has.
    return [await _parse_all(agent, [m.get("text") for m in examples]) for examples in files]


def evaluate_nlu(model: str, test_file: str, val_file: Optional[str] = None) -> Dict[str, Any]:
    """Load time, and per test (and validation) message: gold and predicted intent and entities,
    the classifier's top intent and confidence, and the parse time."""
    files = [examples(test_file)] + ([examples(val_file)] if val_file else [])
    agent, load_seconds = load_agent(model)
    parsed = asyncio.run(_parse_files(agent, files))
    result = {
        "load_seconds": load_seconds,
        "warmup_messages": WARMUP_MESSAGES,
        "messages": _messages(files[0], parsed[0]),
    }
    if val_file:
        result["val_messages"] = _messages(files[1], parsed[1])
    return result


def evaluate_core(model: str, stories: str, out_dir: str) -> Dict[str, Any]:
    """Load time, action accuracy and conversation accuracy from Rasa's story evaluation."""
    from rasa.core.test import test

    agent, load_seconds = load_agent(model)
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    result = asyncio.run(test(stories, agent, out_directory=out_dir, disable_plotting=True))
    report = json.loads((Path(out_dir) / "story_report.json").read_text())
    conversations = report.get("conversation_accuracy", {})
    groups = story_groups(stories, Path(out_dir) / "failed_test_stories.yml")
    return {
        **{
            f"{group}_conversation_accuracy": right / total
            for group, (right, total) in groups.items()
        },
        "groups": groups,
        "load_seconds": load_seconds,
        "action_accuracy": result["accuracy"],
        "action_f1": result["f1"],
        "conversation_accuracy": conversations.get("accuracy"),
        "conversations": conversations.get("total"),
        "conversations_correct": conversations.get("correct"),
    }


def story_groups(stories: str, failed: Path) -> Dict[str, List[int]]:
    """{group: [conversations right, conversations]} for test stories named "<group>: ...".

    Rasa writes the failed stories under their test story's name (the tracker's sender id).
    """
    import yaml

    def names(path: Path) -> List[str]:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else None
        return [str(s.get("story", "")) for s in (data or {}).get("stories") or []]

    wrong = names(failed)
    groups: Dict[str, List[int]] = {}
    for name in names(Path(stories)):
        if ":" in name:
            group = name.split(":")[0]
            count = groups.setdefault(group, [0, 0])
            count[1] += 1
            count[0] += not any(w == name or w.startswith(name + " ") for w in wrong)
    return groups


def main(argv: List[str]) -> None:
    quiet()
    if argv[0] == "nlu":
        result = evaluate_nlu(argv[1], argv[2], argv[3] if len(argv) > 4 else None)
    elif argv[0] == "core":
        result = evaluate_core(argv[1], argv[2], argv[3])
    else:
        raise SystemExit(f"unknown task {argv[0]!r}: expected 'nlu' or 'core'")
    Path(argv[-1]).write_text(json.dumps(result), encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1:])

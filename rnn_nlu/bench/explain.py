"""`explain`: which past turn MemoryNetworkPolicy read for each action of some stories.

Loads the policy from a trained model archive (as Rasa does, from its model storage), replays
each story, and at every bot action records the policy's prediction and its attention over the
remembered turns (mean over hops). Writes `<story>.png` (a heatmap: actions down, turns back
across) and `explain.md` (a table per story).
"""

import re
import tempfile
import textwrap
from pathlib import Path
from typing import Any, Dict, List, NamedTuple

import numpy as np


class Step(NamedTuple):
    expected: str
    predicted: str
    confidence: float
    attention: np.ndarray  # (turns,) mean over hops, turn 1 back first
    turns: List[List[str]]  # the remembered turns' symbols, turn 1 back first


def load_policy(model: Path, work: Path) -> Any:
    """(policy, domain) of the model's MemoryNetworkPolicy, loaded from its archive."""
    from rasa.engine.graph import ExecutionContext
    from rasa.engine.storage.local_model_storage import LocalModelStorage

    from rnn_nlu.policies.memory_network import MemoryNetworkPolicy

    storage, metadata = LocalModelStorage.from_model_archive(work, model)
    schema = metadata.predict_schema
    for node in schema.nodes.values():
        if isinstance(node.uses, type) and issubclass(node.uses, MemoryNetworkPolicy):
            context = ExecutionContext(schema, metadata.model_id)
            policy = MemoryNetworkPolicy.load(node.config, storage, node.resource, context)
            return policy, metadata.domain
    raise SystemExit(f"{model} has no MemoryNetworkPolicy")


def explain_story(policy: Any, story: Any, domain: Any) -> List[Step]:
    """Replays `story` (a training tracker) and explains the policy's choice at every action."""
    from rasa.shared.core.events import ActionExecuted
    from rasa.shared.core.trackers import DialogueStateTracker

    live = DialogueStateTracker(story.sender_id, domain.slots)
    steps = []
    for i, event in enumerate(story.events):
        if isinstance(event, ActionExecuted) and i > 0:
            prediction = policy.predict_action_probabilities(live, domain)
            best = prediction.max_confidence_index
            data = prediction.diagnostic_data or {}
            attention = np.asarray(data.get("attention_weights", np.zeros((1, 0))))
            steps.append(
                Step(
                    event.action_name,
                    domain.action_names_or_texts[best],
                    float(prediction.probabilities[best]),
                    attention.mean(axis=0) if attention.size else np.zeros(0),
                    data.get("remembered_turns", []),
                )
            )
        live.update(event)
    return steps


def table(name: str, steps: List[Step]) -> str:
    """A markdown table: each action, what was predicted, and the turn attended most."""
    lines = [
        f"## {name}",
        "",
        "| expected action | predicted (confidence) | turn attended most (weight): its symbols |",
        "|---|---|---|",
    ]
    for step in steps:
        if step.attention.size:
            back = int(np.argmax(step.attention))
            read = f"{back + 1} back ({step.attention[back]:.2f}): {', '.join(step.turns[back])}"
        else:
            read = "nothing remembered"
        mark = "" if step.expected == step.predicted else " **wrong**"
        lines.append(
            f"| {step.expected} | {step.predicted} ({step.confidence:.2f}){mark} | {read} |"
        )
    return "\n".join(lines) + "\n"


def heatmap(name: str, steps: List[Step], path: Path) -> None:
    """Attention per action (rows) over the turns back (columns) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    width = max((len(s.attention) for s in steps), default=0) or 1
    grid = np.zeros((len(steps), width))
    for row, step in enumerate(steps):
        grid[row, : len(step.attention)] = step.attention
    figure, axes = plt.subplots(figsize=(1.2 + 0.5 * width, 1.0 + 0.35 * len(steps)))
    image = axes.imshow(grid, cmap="Blues", vmin=0.0, vmax=1.0, aspect="auto")
    axes.set_xticks(range(width), [str(i + 1) for i in range(width)])
    axes.set_yticks(range(len(steps)), [s.predicted for s in steps], fontsize=8)
    axes.set_xlabel("turns back")
    axes.set_title("\n".join(textwrap.wrap(name, 45)), fontsize=9)
    figure.colorbar(image, ax=axes, label="attention (mean over hops)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def run(model: Path, stories: Path, out: Path) -> Dict[str, List[Step]]:
    """Explains every story of `stories` for the model's policy; writes the PNGs and explain.md."""
    from rasa.core.training import load_data

    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        policy, domain = load_policy(model, Path(work))
        trackers = load_data(str(stories), domain, augmentation_factor=0)
        explained = {t.sender_id: explain_story(policy, t, domain) for t in trackers}
    report = [f"# Attention of MemoryNetworkPolicy\n\nmodel `{model}`, stories `{stories}`\n"]
    for name, steps in explained.items():
        file = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_")[:80] or "story"
        heatmap(name, steps, out / f"{file}.png")
        report.append(table(name, steps) + f"\n![{name}]({file}.png)\n")
    (out / "explain.md").write_text("\n".join(report), encoding="utf-8")
    return explained

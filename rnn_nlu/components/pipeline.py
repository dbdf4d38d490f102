"""What a component can learn about its place in the pipeline from Rasa's graph schema."""

import re
from typing import Optional

from rasa.engine.graph import ExecutionContext
from rasa.nlu.classifiers.classifier import IntentClassifier


def pipeline_index(node_name: Optional[str]) -> Optional[int]:
    """The pipeline position that ends the names of Rasa's NLU graph nodes
    ("train_rnn_nlu.BiLSTMSlotFiller3" -> 3); None when there is none."""
    found = re.search(r"(\d+)$", node_name or "")
    return int(found.group(1)) if found else None


def intent_classifier_before(context: Optional[ExecutionContext]) -> Optional[bool]:
    """Whether a trained intent classifier comes before the node that trains with `context` in
    its pipeline (the training graph holds no node for the FallbackClassifier, which trains
    nothing); None when the context does not say (no node name: built outside `rasa train`)."""
    own = pipeline_index(context.node_name) if context else None
    if own is None:
        return None
    return any(
        isinstance(node.uses, type)
        and issubclass(node.uses, IntentClassifier)
        and (index := pipeline_index(name)) is not None
        and index < own
        for name, node in context.graph_schema.nodes.items()
    )

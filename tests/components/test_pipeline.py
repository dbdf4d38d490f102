"""Where a component sits in the pipeline, read from the graph schema Rasa builds from config."""

from typing import Optional

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema

from rnn_nlu.components.pipeline import intent_classifier_before, pipeline_index
from tests.helpers import pipeline_context as context_of


@pytest.mark.parametrize(
    "pipeline, expected",
    [
        (["WhitespaceTokenizer", "rnn_nlu.TextRNNClassifier", "rnn_nlu.BiLSTMSlotFiller"], True),
        (["WhitespaceTokenizer", "rnn_nlu.BiLSTMSlotFiller", "rnn_nlu.TextRNNClassifier"], False),
        (
            [
                "WhitespaceTokenizer",
                "CountVectorsFeaturizer",
                "LogisticRegressionClassifier",
                "rnn_nlu.BiLSTMSlotFiller",
            ],
            True,
        ),
        (["WhitespaceTokenizer", "rnn_nlu.BiLSTMSlotFiller"], False),
    ],
)
def test_intent_classifier_before_follows_the_pipeline_order(pipeline, expected):
    assert intent_classifier_before(context_of(pipeline, "BiLSTMSlotFiller")) is expected


def test_fallback_classifier_alone_is_no_intent_classifier():
    pipeline = ["WhitespaceTokenizer", "FallbackClassifier", "rnn_nlu.BiLSTMSlotFiller"]
    assert intent_classifier_before(context_of(pipeline, "BiLSTMSlotFiller")) is False


@pytest.mark.parametrize("context", [None, ExecutionContext(GraphSchema({}), "test")])
def test_no_node_name_says_nothing(context: Optional[ExecutionContext]):
    assert intent_classifier_before(context) is None


def test_pipeline_index_is_the_trailing_number():
    assert pipeline_index("train_rnn_nlu.BiLSTMSlotFiller12") == 12
    assert pipeline_index("nlu_training_data_provider") is None

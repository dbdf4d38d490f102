"""BiLSTMSlotFiller on real Rasa: train on tiny slot data made here, persist, load, extract."""

import asyncio
import itertools
import json
import random
from typing import Any, Dict, List

import numpy as np
import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.extractors.entity_synonyms import EntitySynonymMapper
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.constants import FEATURE_TYPE_SEQUENCE, INTENT, TEXT
from rasa.shared.nlu.training_data.entities_parser import parse_training_example
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from rnn_nlu import BiLSTMSlotFiller
from rnn_nlu.lifecycle import SERVING_VARIABLE, FinetuningError
from rnn_nlu.persistence import ModelArchiveError
from tests.helpers import messages, pipeline_context, tampered_copy, tokenize

# Small, fast settings that still learn the tiny data; validation off so every epoch runs.
FAST = {
    "epochs": 25,
    "embedding_dim": 16,
    "char_embedding_dim": 8,
    "char_filters": 16,
    "rnn_units": 16,
    "batch_size": 8,
    "validation_split": 0.0,
    "dropout": 0.1,
}
CITIES = [
    "boston",
    "denver",
    "new york",
    "san francisco",
    "paris",
    "london",
    "rome",
    "berlin",
    "chicago",
    "miami",
    "seattle",
]
DATES = ["tomorrow", "next friday", "monday", "on june 3rd"]
TEMPLATES = [
    "fly from [{a}](origin) to [{b}](destination)",
    "book a flight to [{b}](destination) [{d}](departure_date)",
    "i want to go from [{a}](origin) to [{b}](destination) [{d}](departure_date)",
    "any flights [{d}](departure_date) from [{a}](origin)",
    "show me flights to [{b}](destination) please",
]
NO_ENTITIES = ["hello", "thanks a lot", "what can you do", "book a flight", "goodbye"]
BAD_TEXTS = [
    "",
    "   ",
    "x" * 10_000,
    "to boston " * 1_000,
    "🛫✈️🙂 𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
    "qwzx blorf snarg",
    "你好，我想订机票",
]


def annotated_texts(templates: List[str] = TEMPLATES, count: int = 60, seed: int = 0) -> List[str]:
    """Training examples in Rasa's markup: the templates filled with random cities and dates."""
    rng = random.Random(seed)
    return [
        rng.choice(templates).format(a=a, b=b, d=rng.choice(DATES))
        for a, b in rng.sample(list(itertools.permutations(CITIES, 2)), count)
    ]


def slot_data(templates: List[str] = TEMPLATES, count: int = 60, seed: int = 0) -> TrainingData:
    """Tokenized examples with entities, plus a few messages without entities."""
    texts = annotated_texts(templates, count, seed) + NO_ENTITIES
    return TrainingData(tokenize([parse_training_example(t, "inform") for t in texts]))


def train(config: Dict[str, Any], data: TrainingData, storage, resource, execution_context):
    component = BiLSTMSlotFiller.create({**FAST, **config}, storage, resource, execution_context)
    component.train(data)
    return component


def extract(component, *texts: str) -> List[List[Dict[str, Any]]]:
    parsed = messages(*texts)
    component.process(parsed)
    return [m.get("entities") for m in parsed]


def spans(entities: List[Dict[str, Any]]) -> List[tuple]:
    return [(e["entity"], e["value"], e["start"], e["end"]) for e in entities]


@pytest.fixture(
    scope="module",
    params=[{}, {"use_crf": False, "tagging_schema": "bio"}],
    ids=["crf-bilou", "softmax-bio"],
)
def trained(request, tmp_path_factory, resource, execution_context):
    """The slot filler trained once per variant on the tiny data; its storage is `.storage`."""
    storage = LocalModelStorage.create(tmp_path_factory.mktemp("slot_filler"))
    component = train(request.param, slot_data(), storage, resource, execution_context)
    component.storage = storage
    return component


def test_extracts_entities_of_unseen_sentences_with_exact_offsets(trained):
    text = (
        "i want to go from  denver to new york, tomorrow"  # double space and comma: unlike training
    )
    (entities,) = extract(trained, text)
    assert spans(entities) == [
        ("origin", "denver", 19, 25),
        ("destination", "new york", 29, 37),
        ("departure_date", "tomorrow", 39, 47),
    ]
    for entity in entities:
        assert text[entity["start"] : entity["end"]] == entity["value"]
        assert entity["extractor"] == "BiLSTMSlotFiller"
        assert 0.0 < entity["confidence_entity"] <= 1.0
        assert isinstance(entity["confidence_entity"], float)


def test_message_without_entities_gets_none(trained):
    assert extract(trained, "hello", "thanks a lot") == [[], []]


def test_persist_load_round_trip_gives_same_entities(trained, resource, execution_context):
    texts = ["fly from rome to paris", "book a flight to london next friday", "unknown words", ""]
    before = extract(trained, *texts)
    loaded = BiLSTMSlotFiller.load(trained.config, trained.storage, resource, execution_context)
    after = extract(loaded, *texts)
    assert [spans(e) for e in after] == [spans(e) for e in before]
    assert any(before)
    for a, b in zip(after, before):
        np.testing.assert_allclose(
            [e["confidence_entity"] for e in a], [e["confidence_entity"] for e in b], rtol=1e-5
        )


def test_batch_extraction_equals_one_by_one(trained):
    texts = ["fly from boston to denver", "any flights monday from paris to rome please", "hi"]
    together = extract(trained, *texts)
    alone = [extract(trained, t)[0] for t in texts]
    assert [spans(e) for e in together] == [spans(e) for e in alone]
    for a, b in zip(together, alone):
        np.testing.assert_allclose(
            [e["confidence_entity"] for e in a], [e["confidence_entity"] for e in b], atol=1e-5
        )


@pytest.mark.parametrize(
    "text",
    BAD_TEXTS,
    ids=["empty", "spaces", "10k-chars", "10k-words", "emoji", "unknown", "chinese"],
)
def test_bad_input_gets_a_normal_answer(trained, text):
    (message,) = messages(text)
    trained.process([message])
    entities = message.get("entities")
    assert isinstance(entities, list)
    if not text.strip():
        assert entities == []
    for entity in entities:
        assert text[entity["start"] : entity["end"]] == entity["value"] != ""
        assert entity["entity"] in {"origin", "destination", "departure_date"}


def test_tokens_after_max_sequence_length_are_not_tagged(trained):
    (entities,) = extract(trained, "to boston " * 1_000)
    assert max(e["end"] for e in entities) <= len("to boston " * 128)


def test_entities_of_earlier_extractors_are_kept(trained):
    (message,) = messages("fly from rome to paris")
    earlier = {"entity": "number", "start": 0, "end": 3, "value": "fly", "extractor": "Regex"}
    message.set("entities", [earlier])
    trained.process([message])
    assert message.get("entities")[0] == earlier
    assert [e["value"] for e in message.get("entities")[1:]] == ["rome", "paris"]


def test_synonyms_map_the_extracted_value(trained, model_storage, execution_context):
    """Component by component, as a pipeline runs them: slot filler, then EntitySynonymMapper."""
    data = TrainingData(entity_synonyms={"new york": "NYC"})
    mapper = EntitySynonymMapper.create({}, model_storage, Resource("synonyms"), execution_context)
    mapper.train(data)
    (message,) = messages("fly from new york to rome")
    mapper.process(trained.process([message]))
    origin = message.get("entities")[0]
    assert (origin["entity"], origin["value"], origin["start"], origin["end"]) == (
        "origin",
        "NYC",
        9,
        17,
    )
    assert origin["processors"] == ["EntitySynonymMapper"]


def test_roles_and_groups_are_learned(model_storage, resource, execution_context):
    templates = [
        'from [{a}]{{"entity": "city", "role": "departure", "group": "1"}} to '
        '[{b}]{{"entity": "city", "role": "destination", "group": "1"}}',
        'fly to [{b}]{{"entity": "city", "role": "destination", "group": "1"}} from '
        '[{a}]{{"entity": "city", "role": "departure", "group": "1"}}',
        'from [{a}]{{"entity": "city", "role": "departure", "group": "1"}} to '
        '[{b}]{{"entity": "city", "role": "destination", "group": "1"}} and back to '
        '[{a}]{{"entity": "city", "role": "destination", "group": "2"}}',
    ]
    component = train(
        {"epochs": 30}, slot_data(templates), model_storage, resource, execution_context
    )
    loaded = BiLSTMSlotFiller.load(component.config, model_storage, resource, execution_context)
    for c in (component, loaded):
        (entities,) = extract(c, "fly to rome from berlin")
        assert [(e["value"], e["entity"], e.get("role"), e.get("group")) for e in entities] == [
            ("rome", "city", "destination", "1"),
            ("berlin", "city", "departure", "1"),
        ]
        assert all(
            0 < e["confidence_role"] <= 1 and 0 < e["confidence_group"] <= 1 for e in entities
        )


def test_misaligned_annotation_warns_with_the_example(model_storage, resource, execution_context):
    data = slot_data(count=10)
    bad = Message.build(text="fly to denver", intent="inform")
    bad.set("entities", [{"entity": "destination", "start": 7, "end": 11, "value": "denv"}])
    data = data.merge(TrainingData(tokenize([bad])))
    with pytest.warns(UserWarning, match="Misaligned entity annotation in message 'fly to denver'"):
        component = train({"epochs": 1}, data, model_storage, resource, execution_context)
    assert isinstance(extract(component, "fly to denver")[0], list)


def test_no_entities_trains_nothing_and_extracts_nothing(
    model_storage, resource, execution_context
):
    data = TrainingData(tokenize([Message.build(text=t, intent="chitchat") for t in NO_ENTITIES]))
    with pytest.warns(UserWarning, match="no entity annotations"):
        component = train({}, data, model_storage, resource, execution_context)
    assert component.model is None
    loaded = BiLSTMSlotFiller.load(component.config, model_storage, resource, execution_context)
    for c in (component, loaded):
        assert extract(c, "fly from boston to denver") == [[]]


def test_untrained_component_extracts_nothing(model_storage, resource, execution_context):
    component = BiLSTMSlotFiller.create({}, model_storage, resource, execution_context)
    assert extract(component, "fly from boston to denver") == [[]]


@pytest.mark.parametrize(
    "option, value, message",
    [
        ("tagging_schema", "bioes", "'tagging_schema' must be one of"),
        ("char_filters", 0, "'char_filters' must be at least 1"),
        ("word_dropout", 1.0, "'word_dropout' must be below 1"),
        ("use_crf", "yes", "'use_crf' must be true or false"),
        ("rnn_type", "transformer", "'rnn_type' must be one of"),
        ("max_word_length", 0, "'max_word_length' must be at least 1"),
    ],
)
def test_bad_option_is_a_clear_config_error(
    option, value, message, model_storage, resource, execution_context
):
    with pytest.raises(InvalidConfigException, match=message):
        BiLSTMSlotFiller.create({option: value}, model_storage, resource, execution_context)


@pytest.mark.slow
def test_rasa_trains_and_tests_a_pipeline_with_synonyms(tmp_path):
    """`rasa train nlu`, a parse through Rasa's Agent, and `rasa test nlu`'s entity report on
    held-out messages."""
    from rasa.core.agent import Agent
    from rasa.model_testing import test_nlu
    from rasa.model_training import train_nlu

    options = "\n".join(f"    {key}: {json.dumps(value)}" for key, value in FAST.items())
    (tmp_path / "config.yml").write_text(
        "recipe: default.v1\nlanguage: en\nassistant_id: slot_test\npipeline:\n"
        "  - name: WhitespaceTokenizer\n  - name: rnn_nlu.BiLSTMSlotFiller\n"
        f"{options}\n  - name: EntitySynonymMapper\n"
    )
    examples = "".join(f"    - {t}\n" for t in annotated_texts() + NO_ENTITIES)
    (tmp_path / "nlu.yml").write_text(
        'version: "3.1"\nnlu:\n- intent: inform\n  examples: |\n'
        + examples
        + "- synonym: NYC\n  examples: |\n    - new york\n"
    )
    model = train_nlu(
        str(tmp_path / "config.yml"),
        str(tmp_path / "nlu.yml"),
        str(tmp_path / "models"),
        fixed_model_name="slots",
    )
    assert model

    parsed = asyncio.run(Agent.load(model).parse_message("fly from new york to rome"))
    assert [
        (e["entity"], e["value"], e["start"], e["end"], e["extractor"]) for e in parsed["entities"]
    ] == [
        ("origin", "NYC", 9, 17, "BiLSTMSlotFiller"),
        ("destination", "rome", 21, 25, "BiLSTMSlotFiller"),
    ]

    # Held out: the same kinds of sentence with city pairs and dates the training data lacks.
    seen = set(annotated_texts())
    held_out = [t for t in annotated_texts(count=40, seed=99) if t not in seen][:20]
    (tmp_path / "test.yml").write_text(
        'version: "3.1"\nnlu:\n- intent: inform\n  examples: |\n'
        + "".join(f"    - {t}\n" for t in held_out)
    )
    results = tmp_path / "results"
    asyncio.run(test_nlu(model, str(tmp_path / "test.yml"), str(results), {}))
    report = json.loads((results / "BiLSTMSlotFiller_report.json").read_text())
    assert report["micro avg"]["f1-score"] > 0.9


def test_same_seed_gives_the_same_entities_and_another_seed_differs(
    tmp_path, resource, execution_context
):
    texts = ["fly from rome to paris", "book a flight to london next friday", "hello"]

    def extracted(seed: int, folder: str) -> List[List[Dict[str, Any]]]:
        (tmp_path / folder).mkdir()
        storage = LocalModelStorage.create(tmp_path / folder)
        component = train({"random_seed": seed}, slot_data(), storage, resource, execution_context)
        return extract(component, *texts)

    def confidences(result: List[List[Dict[str, Any]]]) -> List[float]:
        return [e["confidence_entity"] for entities in result for e in entities]

    first, again, other = extracted(7, "a"), extracted(7, "b"), extracted(8, "c")
    assert any(first)
    assert [spans(e) for e in again] == [spans(e) for e in first]
    np.testing.assert_allclose(confidences(again), confidences(first), rtol=0, atol=1e-6)
    assert [spans(e) for e in other] != [spans(e) for e in first] or not np.allclose(
        confidences(other), confidences(first), rtol=0, atol=1e-6
    )


def test_new_lengths_and_batch_sizes_do_not_retrace(trained):
    for texts in (["hi"], ["fly from boston to denver tomorrow", "bye"], ["to paris " * 30] * 5):
        extract(trained, *texts)
    assert trained._predict.built.experimental_get_tracing_count() == 1


# --- the intent (use_intent) ----------------------------------------------------------------

# The same sentences name an `album` when the user wants to play music and an `object_name` when
# they search a creative work: only the intent tells the entity type.
RECORDS = [
    "thriller",
    "abbey road",
    "nevermind",
    "rumours",
    "blue",
    "back in black",
    "purple rain",
    "the wall",
    "kind of blue",
    "hotel california",
]
RECORD_TEMPLATES = ["play [{v}]({e})", "find [{v}]({e})"]
ENTITY_OF_INTENT = {"play_music": "album", "search_creative_work": "object_name"}
GREETINGS = ["hello", "hi there", "good morning"]
INTENTS = ["greet", "play_music", "search_creative_work"]
FINETUNING = ExecutionContext(GraphSchema({}), "finetuned", is_finetuning=True)


def record_data(entity_of_intent: Dict[str, str] = ENTITY_OF_INTENT) -> TrainingData:
    """20 examples per intent of `entity_of_intent` (each sentence in both), a few greetings."""
    examples = [
        parse_training_example(t.format(v=v, e=entity), intent)
        for intent, entity in entity_of_intent.items()
        for t in RECORD_TEMPLATES
        for v in RECORDS
    ]
    examples += [parse_training_example(text, "greet") for text in GREETINGS]
    return TrainingData(tokenize(examples))


def extract_for(component, intent: Any, *texts: str) -> List[List[Dict[str, Any]]]:
    """The entities of `texts` parsed with `intent` set as the classifier sets it (None: unset)."""
    parsed = messages(*texts)
    for message in parsed:
        if intent is not None:
            message.set(INTENT, intent)
    component.process(parsed)
    return [m.get("entities") for m in parsed]


def types_for(component, intent: Any, texts: List[str]) -> List[List[str]]:
    return [[e["entity"] for e in entities] for entities in extract_for(component, intent, *texts)]


RECORD_TEXTS = ["play thriller", "find back in black", "play kind of blue", "find rumours"]


def train_records(use_intent: bool, root, execution_context) -> Any:
    """The slot filler trained on `record_data()`, stored as resource "c"; `.root`, `.storage`."""
    storage = LocalModelStorage.create(root)
    config = {**FAST, "use_intent": use_intent}
    component = BiLSTMSlotFiller.create(config, storage, Resource("c"), execution_context)
    component.train(record_data())
    component.root, component.storage = root, storage
    return component


@pytest.fixture(scope="module")
def records(tmp_path_factory, execution_context):
    """Trained with `use_intent` (the default)."""
    return train_records(True, tmp_path_factory.mktemp("records"), execution_context)


@pytest.fixture(scope="module")
def records_without_intent(tmp_path_factory, execution_context):
    """Trained with `use_intent: false`."""
    return train_records(False, tmp_path_factory.mktemp("no_intent"), execution_context)


def load_records(component, execution_context, storage=None) -> Any:
    storage = storage or component.storage
    return BiLSTMSlotFiller.load(component.config, storage, Resource("c"), execution_context)


@pytest.mark.parametrize(
    "pipeline, reads_intent",
    [
        (["WhitespaceTokenizer", "rnn_nlu.TextRNNClassifier", "rnn_nlu.BiLSTMSlotFiller"], True),
        (["WhitespaceTokenizer", "rnn_nlu.BiLSTMSlotFiller", "rnn_nlu.TextRNNClassifier"], False),
    ],
)
def test_the_intent_is_read_only_after_an_intent_classifier(pipeline, reads_intent, tmp_path):
    """In `rasa train` the pipeline order decides: before the classifier no intent is set at
    parse time, so training on the gold one would teach what parsing never gives."""
    context = pipeline_context(pipeline, "BiLSTMSlotFiller")
    storage = LocalModelStorage.create(tmp_path)
    component = BiLSTMSlotFiller.create({**FAST, "epochs": 1}, storage, Resource("c"), context)
    component.train(record_data())
    assert (component.intents is not None) is reads_intent
    assert ("intent" in component.model.input_names) is reads_intent


def test_one_intent_gives_no_intent_input(trained):
    assert trained.intents is None
    assert "intent" not in trained.model.input_names


@pytest.mark.parametrize("serving", ["numpy", "keras"])
def test_the_intent_decides_the_entity_type(records, serving, monkeypatch, execution_context):
    """Trained, and loaded (served with NumPy or Keras): the same sentence gets each intent's
    type; the stored intents come back."""
    monkeypatch.setenv(SERVING_VARIABLE, serving)
    loaded = load_records(records, execution_context)
    assert loaded.intents.labels == INTENTS
    for c in (records, loaded):
        for intent, entity in ENTITY_OF_INTENT.items():
            parsed = {"name": intent, "confidence": 0.9}
            assert types_for(c, parsed, RECORD_TEXTS) == [[entity]] * len(RECORD_TEXTS)
    before = extract_for(records, {"name": "play_music", "confidence": 1.0}, *RECORD_TEXTS)
    after = extract_for(loaded, {"name": "play_music", "confidence": 1.0}, *RECORD_TEXTS)
    assert [spans(e) for e in after] == [spans(e) for e in before]
    for a, b in zip(after, before):
        np.testing.assert_allclose(
            [e["confidence_entity"] for e in a], [e["confidence_entity"] for e in b], rtol=1e-5
        )


def test_without_use_intent_both_intents_get_one_type(records_without_intent):
    """The data is made so that only the intent tells the type: without it, one type for both."""
    assert records_without_intent.intents is None
    assert "intent" not in records_without_intent.model.input_names
    play, search = (
        types_for(records_without_intent, {"name": i, "confidence": 1.0}, RECORD_TEXTS)
        for i in ENTITY_OF_INTENT
    )
    assert play == search and all(len(types) == 1 for types in play)


def test_the_intent_input_is_a_one_hot_of_the_known_name(records):
    parsed = messages("play thriller", "play thriller", "play thriller", "play thriller", "hi")
    parsed[0].set(INTENT, {"name": "search_creative_work", "confidence": 0.8})
    parsed[1].set(INTENT, "play_music")  # a plain string, as in training data
    parsed[2].set(INTENT, {"name": "nlu_fallback", "confidence": 0.3})  # unknown: zeros
    parsed[3].set(INTENT, {"name": None, "confidence": 0.0})  # the classifier on empty text
    expected = [[0, 0, 1], [0, 1, 0], [0, 0, 0], [0, 0, 0], [0, 0, 0]]  # the last: no intent
    np.testing.assert_array_equal(records._inputs(parsed)["intent"], expected)


def test_a_message_without_intent_gets_entities_and_one_warning(records, execution_context):
    fresh = load_records(records, execution_context)  # it warns once per component
    with pytest.warns(UserWarning) as caught:
        first = extract_for(fresh, None, *RECORD_TEXTS, "")
        second = extract_for(fresh, None, "play thriller")
    warned = [w for w in caught if "after the intent classifier" in str(w.message)]
    assert len(warned) == 1 and "config.yml" in str(warned[0].message)
    unknown = extract_for(fresh, {"name": "nlu_fallback", "confidence": 0.3}, *RECORD_TEXTS)
    assert [spans(e) for e in first[:-1]] == [spans(e) for e in unknown]  # the zero intent
    assert first[-1] == [] and len(second) == 1
    for text, entities in zip(RECORD_TEXTS, first):
        for e in entities:
            assert e["entity"] in {"album", "object_name"}
            assert text[e["start"] : e["end"]] == e["value"]


TAMPERED = {  # a change to metadata.json, and the size it names
    "fewer_intents": (lambda m: m.update(intents=INTENTS[:2]), "intents", 2),
    "more_intents": (lambda m: m.update(intents=INTENTS + ["x1", "x2"]), "intents", 5),
    "intent_units": (lambda m: m["model"].update(intent_units=999), "intent_units", 999),
}


@pytest.mark.parametrize("case", list(TAMPERED))
def test_a_tampered_intent_size_is_refused_before_building(
    records, case, tmp_path, execution_context, monkeypatch
):
    change, name, size = TAMPERED[case]
    assert size not in {d for w in records.model.get_weights() for d in w.shape}
    copy = tampered_copy(records.root, tmp_path, change)

    def must_not_build(*args, **kwargs):
        raise AssertionError("a network was built from a tampered archive")

    monkeypatch.setattr("rnn_nlu.components.slot_filler.build_tagger", must_not_build)
    with pytest.raises(
        ModelArchiveError, match=f"no stored array has a dimension .*{name} = {size}"
    ):
        BiLSTMSlotFiller.load(
            records.config, LocalModelStorage(copy), Resource("c"), execution_context
        )


def with_lengths(parsed: List[Message]) -> List[Message]:
    """Adds a dense sequence feature (each token's length), as a dense featurizer would."""
    for message in parsed:
        tokens = message.get(TOKENS_NAMES[TEXT])
        lengths = np.array([[len(t.text)] for t in tokens], dtype=np.float32)
        message.add_features(Features(lengths, FEATURE_TYPE_SEQUENCE, TEXT, "lengths"))
    return parsed


def test_an_archive_with_rasa_features_and_intents_loads(tmp_path, execution_context):
    """Rasa's features and the intent both widen the first BiLSTM's input; the load-time check
    of sizes counts both."""
    storage = LocalModelStorage.create(tmp_path)
    data = record_data()
    with_lengths(data.training_examples)
    config = {**FAST, "epochs": 1, "feature_units": 4}
    component = BiLSTMSlotFiller.create(config, storage, Resource("c"), execution_context)
    component.train(data)
    assert component.rasa_features.dense and component.intents
    loaded = BiLSTMSlotFiller.load(component.config, storage, Resource("c"), execution_context)
    found = []
    for c in (component, loaded):
        parsed = with_lengths(messages(*RECORD_TEXTS))
        for message in parsed:
            message.set(INTENT, {"name": "play_music", "confidence": 1.0})
        found.append([spans(m.get("entities")) for m in c.process(parsed)])
    assert found[1] == found[0]


def test_an_archive_from_before_intents_loads_and_tags_as_before(
    records_without_intent, tmp_path, execution_context
):
    """Written before `use_intent` existed: no "intents" in metadata.json, no "intent_units"
    among the model options."""

    def change(metadata: Dict[str, Any]) -> None:
        del metadata["intents"], metadata["model"]["intent_units"]

    copy = tampered_copy(records_without_intent.root, tmp_path, change)
    loaded = load_records(records_without_intent, execution_context, LocalModelStorage(copy))
    assert loaded.intents is None
    intent = {"name": "play_music", "confidence": 1.0}
    expected = extract_for(records_without_intent, intent, *RECORD_TEXTS)
    assert [spans(e) for e in extract_for(loaded, intent, *RECORD_TEXTS)] == [
        spans(e) for e in expected
    ]


def test_finetuning_keeps_the_intents_and_refuses_a_new_one(records, tmp_path):
    storage = LocalModelStorage(tampered_copy(records.root, tmp_path, lambda metadata: None))
    config = {**records.config, "epochs": 1}
    loaded = BiLSTMSlotFiller.load(config, storage, Resource("c"), FINETUNING)
    loaded.train(record_data())
    assert loaded.intents.labels == INTENTS and len(loaded.histories[0]["loss"]) == 1
    assert loaded.model.get_layer("intent_projection").kernel.shape == (
        3,
        records.config["intent_units"],
    )
    again = BiLSTMSlotFiller.load(config, storage, Resource("c"), FINETUNING)
    with pytest.raises(FinetuningError, match="1 new intent.*'play_video'"):
        again.train(record_data({**ENTITY_OF_INTENT, "play_video": "album"}))

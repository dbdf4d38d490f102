"""SentencePieceTokenizer: exact offsets, entity-aligned pieces, persistence, bad input, and Rasa
components (CountVectorsFeaturizer, DIET, CRFEntityExtractor, TextRNN) working on its tokens."""

import logging
from pathlib import Path
from typing import List

import pytest
import sentencepiece as spm
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.classifiers.diet_classifier import DIETClassifier
from rasa.nlu.extractors.crf_entity_extractor import CRFEntityExtractor
from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import CountVectorsFeaturizer
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader
from rasa.shared.nlu.training_data.loading import load_data
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from rnn_nlu import SentencePieceTokenizer, TextRNNClassifier
from rnn_nlu.persistence import ModelArchiveError
from rnn_nlu.subwords import SubwordSplitter, aligned_entities, train_model, training_segments

CHINESE_BOT_NLU = Path(__file__).parents[2] / "examples" / "chinese_flight" / "data" / "nlu.yml"

TINY_NLU = """
version: "3.1"
nlu:
- intent: greet
  examples: |
    - 你好
    - 您好啊
    - hello there
    - 嗨，早上好
    - hi
- intent: book_flight
  examples: |
    - 我想订[明天](departure_date)从[北京](origin)到[上海](destination)的机票
    - 帮我订[后天](departure_date)去[广州](destination)的航班
    - 订一张从[成都](origin)飞[北京](destination)的机票
    - 我要从[上海](origin)飞[成都](destination)
    - book a flight from [Boston](origin) to [Denver](destination) [tomorrow](departure_date)
    - fly me to [London](destination)
- intent: goodbye
  examples: |
    - 再见
    - 拜拜，明天见
    - bye
    - 好的，再见
    - see you later
"""

TEXTS = [
    "我想订明天从北京到上海的机票",  # Chinese
    "book a flight from Boston to Denver",  # English
    "我要去Paris，坐Air China的航班",  # mixed scripts
    "你好😀👍🏽 hi 👨‍👩‍👧!!",  # emoji, skin tone, zero-width joiner
    "ＡＢＣ 北京１２３ ｆｕｌｌ－ｗｉｄｔｈ",  # full-width letters, digits, punctuation
    "hello  world   北京  上海",  # double and triple spaces
    "  leading and trailing  ",
    "tab\tand\nnew line\u3000ideographic space",
    "ﬁne ligature, café vs cafe\u0301, 12月24日",  # NFKC-changed characters, combining mark
    "x" * 10_000,
]


def tiny_data() -> TrainingData:
    return RasaYAMLReader().reads(TINY_NLU)


def create(config, storage, resource=None, context=None):
    return SentencePieceTokenizer.create(
        config, storage, resource or Resource("tokenizer"), context
    )


@pytest.fixture(scope="module")
def storage(tmp_path_factory):
    return LocalModelStorage.create(tmp_path_factory.mktemp("sentencepiece"))


@pytest.fixture(scope="module")
def trained(storage, execution_context):
    """Trained on the Chinese bot's data and tiny_data(): unigram needs repeats."""
    tokenizer = create({}, storage, Resource("trained"), execution_context)
    tokenizer.train(load_data(str(CHINESE_BOT_NLU)).merge(tiny_data()))
    return tokenizer


def tokens_of(tokenizer, text: str) -> List[str]:
    return [t.text for t in tokenizer.tokenize(Message.build(text=text), "text")]


@pytest.mark.parametrize("text", TEXTS, ids=range(len(TEXTS)))
def test_tokens_carry_exact_offsets_into_the_original_text(trained, text):
    tokens = trained.tokenize(Message.build(text=text), "text")
    assert tokens
    previous_end = 0
    for token in tokens:
        assert token.text == text[token.start : token.end]
        assert token.text and not any(c.isspace() for c in token.text)
        assert "▁" not in token.text
        assert token.start >= previous_end
        previous_end = token.end
    # Tokens cover every non-whitespace character.
    assert "".join(t.text for t in tokens) == "".join(text.split())


def test_tokens_of_chinese_english_mixed_and_emoji(trained):
    assert tokens_of(trained, "我想订明天从北京到上海的机票") == [
        "我想订",
        "明天",
        "从",
        "北京",
        "到",
        "上海",
        "的机票",
    ]
    english = "fly from Bostonville to Denver"  # unseen city: subwords, but never across a space
    spans = [(t.start, t.end) for t in trained.tokenize(Message.build(text=english), "text")]
    entities = [
        (english.index(city), english.index(city) + len(city)) for city in ("Bostonville", "Denver")
    ]
    assert aligned_entities(spans, entities) == (2, 2)
    assert tokens_of(trained, "你好😀👍🏽!! 👨‍👩‍👧") == ["你好", "😀👍🏽!!", "👨‍👩‍👧"]
    # Full-width text is segmented as its NFKC form would be, with offsets into the original.
    assert tokens_of(trained, "ＨＥＬＬＯ，北京") == ["ＨＥＬＬＯ", "，", "北京"]
    assert tokens_of(trained, "12月24日") == ["12", "月", "24", "日"]


def test_control_format_and_invalid_characters_are_skipped_or_kept_whole(trained):
    # BOM, NUL, a control character, a zero-width space, a lone surrogate.
    text = "\ufeff\x00北京\x01 \u200b a\ud800b"
    tokens = trained.tokenize(Message.build(text=text), "text")
    assert [t.text for t in tokens] == ["北京", "a\ud800b"]
    assert all(t.text == text[t.start : t.end] for t in tokens)


def test_pieces_never_straddle_entities_of_the_chinese_bot(tmp_path):
    data = load_data(str(CHINESE_BOT_NLU))
    tokenizer = create({}, LocalModelStorage.create(tmp_path))
    tokenizer.train(data)
    aligned = total = 0
    for example in data.training_examples:
        spans = [(t.start, t.end) for t in tokenizer.tokenize(example, "text")]
        entities = [(e["start"], e["end"]) for e in example.get("entities") or []]
        found, count = aligned_entities(spans, entities)
        aligned, total = aligned + found, total + count
    assert total > 150
    assert aligned == total


def test_cutting_training_text_at_entities_is_what_aligns_them():
    # "北京到" is frequent, so a model learnt from whole sentences makes it one piece.
    sentences = [f"从北京到{city}" for city in ["上海", "广州", "成都", "西安"] * 20]
    text = "从北京到上海"
    whole = SubwordSplitter(train_model(sentences, "bpe", 60))
    assert aligned_entities(whole.spans(text), [(1, 3)]) == (0, 1)
    cut = [s for sentence in sentences for s in training_segments(sentence, [(1, 3), (4, 6)])]
    split = SubwordSplitter(train_model(cut, "bpe", 60))
    assert aligned_entities(split.spans(text), [(1, 3), (4, 6)]) == (2, 2)


def test_persist_and_load_give_the_same_tokens(trained, storage, execution_context):
    loaded = SentencePieceTokenizer.load({}, storage, Resource("trained"), execution_context)
    for text in TEXTS:
        before = trained.tokenize(Message.build(text=text), "text")
        after = loaded.tokenize(Message.build(text=text), "text")
        assert after == before
    assert loaded.splitter.model == trained.splitter.model


def test_finetuning_keeps_the_loaded_model(trained, storage, execution_context):
    loaded = SentencePieceTokenizer.load({}, storage, Resource("trained"), execution_context)
    loaded._resource = Resource("finetuned")
    loaded.train(TrainingData([Message.build(text="完全不同的数据", intent="other")]))
    assert loaded.splitter.model == trained.splitter.model


def test_training_is_deterministic(tmp_path):
    first = create({}, LocalModelStorage.create(tmp_path), Resource("first"))
    second = create({}, LocalModelStorage.create(tmp_path), Resource("second"))
    first.train(tiny_data())
    second.train(tiny_data())
    assert first.splitter.model == second.splitter.model


@pytest.mark.parametrize("text", ["", "   ", "\t\n \u3000"])
def test_empty_and_whitespace_only_text_give_no_tokens(trained, text):
    message = Message.build(text=text)
    assert trained.tokenize(message, "text") == []
    trained.process([message])
    assert message.get("text_tokens") == []


def test_small_data_lowers_vocab_size_with_a_note(tmp_path, caplog):
    tokenizer = create({"vocab_size": 8000}, LocalModelStorage.create(tmp_path))
    with caplog.at_level(logging.INFO, logger="rnn_nlu.subwords"):
        tokenizer.train(tiny_data())
    assert 10 < len(tokenizer.splitter) < 8000
    assert f"using {len(tokenizer.splitter)} pieces instead" in caplog.text


def test_vocab_size_below_the_character_count_is_raised(tmp_path):
    tokenizer = create({"vocab_size": 5, "model_type": "bpe"}, LocalModelStorage.create(tmp_path))
    tokenizer.train(tiny_data())
    assert len(tokenizer.splitter) > 5
    assert tokens_of(tokenizer, "北京") == ["北", "京"]


@pytest.mark.parametrize("model_type", ["unigram", "bpe", "char"])
def test_every_model_type_trains_and_keeps_entities_whole(tmp_path, model_type):
    tokenizer = create({"model_type": model_type}, LocalModelStorage.create(tmp_path))
    tokenizer.train(tiny_data())
    tokens = tokens_of(tokenizer, "我想订明天从北京到上海的机票")
    assert "".join(tokens) == "我想订明天从北京到上海的机票"
    if model_type == "char":
        assert all(len(t) == 1 for t in tokens)
    else:
        assert {"明天", "北京", "上海"} <= set(tokens)


def test_model_file_is_used_instead_of_training(tmp_path, execution_context):
    model = train_model(["北京", "上海", "机票"] * 10 + ["我想订", "的"], vocab_size=12)
    path = tmp_path / "mine.model"
    path.write_bytes(model)
    storage = LocalModelStorage.create(tmp_path)
    tokenizer = create({"model_file": str(path)}, storage, Resource("given"), execution_context)
    tokenizer.train(tiny_data())
    assert tokenizer.splitter.model == model
    loaded = SentencePieceTokenizer.load(
        {"model_file": str(path)}, storage, Resource("given"), execution_context
    )
    assert loaded.splitter.model == model


def test_model_file_trained_elsewhere_with_whitespace_markers(tmp_path):
    # A plain `spm_train` model: "▁" word markers and a dummy prefix. Tokens still hold no "▁".
    path = tmp_path / "plain"
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(["book a flight to denver", "fly to boston please"] * 20),
        model_prefix=str(path),
        vocab_size=30,
        hard_vocab_limit=False,
        minloglevel=2,
    )
    tokenizer = create({"model_file": f"{path}.model"}, LocalModelStorage.create(tmp_path))
    text = "  book  a flight "
    tokens = tokenizer.tokenize(Message.build(text=text), "text")
    assert tokens and all(t.text == text[t.start : t.end] and "▁" not in t.text for t in tokens)
    assert "".join(t.text for t in tokens) == "bookaflight"


def test_missing_or_invalid_model_file_is_a_clear_error(tmp_path):
    storage = LocalModelStorage.create(tmp_path)
    with pytest.raises(InvalidConfigException, match="model_file"):
        create({"model_file": str(tmp_path / "missing.model")}, storage)
    (tmp_path / "junk.model").write_bytes(b"not a model")
    with pytest.raises(ModelArchiveError, match="model_file .*junk.model.* not a SentencePiece"):
        create({"model_file": str(tmp_path / "junk.model")}, storage)


def test_corrupt_stored_model_is_a_clear_error(tmp_path, execution_context):
    storage = LocalModelStorage.create(tmp_path)
    tokenizer = create({}, storage, Resource("corrupt"))
    tokenizer.train(tiny_data())
    (tmp_path / "corrupt" / "sentencepiece.model").write_bytes(b"\x00garbage")
    with pytest.raises(ModelArchiveError, match="stored 'sentencepiece.model' is not a Sentence"):
        SentencePieceTokenizer.load({}, storage, Resource("corrupt"), execution_context)


@pytest.mark.parametrize(
    "config, option",
    [
        ({"vocab_size": 0}, "vocab_size"),
        ({"model_type": "word"}, "model_type"),
        ({"character_coverage": 1.5}, "character_coverage"),
        ({"lowercase": "yes"}, "lowercase"),
        ({"vocab_sise": 100}, "vocab_sise"),
    ],
)
def test_invalid_options_are_named(tmp_path, config, option):
    with pytest.raises(InvalidConfigException, match=option):
        create(config, LocalModelStorage.create(tmp_path))


def test_untrained_or_dataless_tokenizer_splits_at_hard_boundaries(tmp_path, execution_context):
    storage = LocalModelStorage.create(tmp_path)
    untrained = SentencePieceTokenizer.load({}, storage, Resource("nothing"), execution_context)
    assert tokens_of(untrained, "我想订 机票, 2张") == ["我想订", "机票", ",", "2", "张"]
    with pytest.warns(UserWarning, match="no text"):
        create({}, storage).train(TrainingData([Message.build(text="123 !!", intent="x")]))


def test_base_options_intent_split_and_token_pattern(tmp_path):
    config = {
        "intent_tokenization_flag": True,
        "intent_split_symbol": "_",
        "token_pattern": r"[^0-9]+|[0-9]",
    }
    tokenizer = create(config, LocalModelStorage.create(tmp_path))
    tokenizer.train(tiny_data())
    example = Message.build(text="hello world", intent="book_flight")
    tokenizer.process_training_data(TrainingData([example]))
    assert [t.text for t in example.get("intent_tokens")] == ["book", "flight"]
    assert tokens_of(tokenizer, "2024年") == ["2", "0", "2", "4", "年"]


def test_rasa_featurizer_diet_crf_and_textrnn_use_its_tokens(trained, storage, execution_context):
    """A small pipeline on real Rasa components, trained and run on the tokenizer's output."""
    data = trained.process_training_data(tiny_data())
    featurizer = CountVectorsFeaturizer.create(
        {**CountVectorsFeaturizer.get_default_config(), "analyzer": "word"},
        storage,
        Resource("cvf"),
        execution_context,
    )
    featurizer.train(data)
    featurizer.process_training_data(data)
    small_diet = {
        "epochs": 2,
        "number_of_transformer_layers": 0,
        "hidden_layers_sizes": {"text": [], "label": []},
        "embedding_dimension": 8,
        "entity_recognition": False,
        "constrain_similarities": True,
    }
    diet = DIETClassifier.create(
        {**DIETClassifier.get_default_config(), **small_diet},
        storage,
        Resource("diet"),
        execution_context,
    )
    diet.train(data)
    crf = CRFEntityExtractor.create(
        {**CRFEntityExtractor.get_default_config(), "max_iterations": 20},
        storage,
        Resource("crf"),
        execution_context,
    )
    crf.train(data)
    textrnn = TextRNNClassifier.create(
        {"epochs": 30, "embedding_dim": 16, "rnn_units": 16, "validation_split": 0.0},
        storage,
        Resource("textrnn"),
        execution_context,
    )
    textrnn.train(data)

    texts = ["我想订后天从成都到上海的机票", "你好", "", "   ", "😀", "x" * 10_000, "qwzx 北京"]
    parsed = [Message.build(text=t) for t in texts]
    for component in (trained, featurizer, diet, crf, textrnn):
        component.process(parsed)
    booking = parsed[0]
    assert booking.get("intent")["name"] == "book_flight"
    entities = {e["entity"]: e["value"] for e in booking.get("entities")}
    assert entities == {"departure_date": "后天", "origin": "成都", "destination": "上海"}
    assert parsed[1].get("intent")["name"] == "greet"
    assert all(m.get("intent") is not None for m in parsed)

"""CLINC150 (Larson et al., 2019: intents and out-of-scope queries) -> Rasa NLU YAML.

The data is one JSON object of `[text, intent]` lists. The oos-threshold protocol is written:
train on the in-scope `train` rows only (`oos_train` is left out), tune on `val` + `oos_val`,
test on `test` + `oos_test`; out-of-scope rows keep their intent `oos`.
"""

import json
import logging
from pathlib import Path
from typing import Dict, List

from rnn_nlu.bench.convert import Example, to_yaml, warn_brackets

logger = logging.getLogger(__name__)

# Output split -> the keys of the JSON it joins.
SPLITS = {"train": ("train",), "val": ("val", "oos_val"), "test": ("test", "oos_test")}


def _is_text(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip())


def read_clinc(path: Path) -> Dict[str, List[Example]]:
    """Split name (train, val, test) -> examples; raises ValueError on a file of another shape."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ValueError(f"{path} is not JSON: {e}") from None
    needed = [key for keys in SPLITS.values() for key in keys]
    missing = [key for key in needed if not isinstance(data, dict) or key not in data]
    if missing:
        raise ValueError(
            f"{path} is not CLINC150 data: it lacks the keys {', '.join(missing)} "
            f"(expected a JSON object with {', '.join(needed)}, each a list of [text, intent])."
        )
    splits = {}
    for split, keys in SPLITS.items():
        examples = []
        for key in keys:
            for number, row in enumerate(data[key]):
                if not (isinstance(row, list) and len(row) == 2 and all(map(_is_text, row))):
                    raise ValueError(f"{path}: {key}[{number}] is not a [text, intent]: {row!r}")
                tokens = row[0].split()
                examples.append(Example(tokens, ["O"] * len(tokens), row[1].strip()))
        splits[split] = examples
    return splits


def convert_clinc(path: Path, out: Path) -> Dict[str, Path]:
    """Writes `OUT/train.yml`, `OUT/val.yml` and `OUT/test.yml`; returns split name -> file."""
    out.mkdir(parents=True, exist_ok=True)
    written = {}
    for split, examples in read_clinc(path).items():
        warn_brackets(f"{path} ({split})", examples)
        file = out / f"{split}.yml"
        file.write_text(to_yaml(examples), encoding="utf-8")
        out_of_scope = sum(e.intent == "oos" for e in examples)
        intents = len({e.intent for e in examples})
        logger.info(f"{file}: {len(examples)} examples ({out_of_scope} oos), {intents} intents")
        written[split] = file
    return written

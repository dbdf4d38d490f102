"""The package's version and a hash of its source, without importing TensorFlow or Rasa.

Rasa's training cache fingerprints a component by its class's own source only; our components
keep their models, features and training loop in other modules, so each adds this (see
`KerasComponent.fingerprint_addon`). The benchmark keys its cache on the same hash.
"""

import functools
import hashlib
from importlib import metadata, util
from pathlib import Path

DISTRIBUTION = "rasa-rnn-nlu"


def package_root() -> Path:
    """The folder of the `rnn_nlu` package, found without importing it."""
    spec = util.find_spec("rnn_nlu")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("the rnn_nlu package cannot be found")
    return Path(next(iter(spec.submodule_search_locations)))


@functools.cache
def code_hash() -> str:
    """SHA-256 over rnn_nlu's own source (paths and bytes), the benchmark tool excluded."""
    root = package_root()
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        if "bench" not in path.relative_to(root).parts:
            digest.update(str(path.relative_to(root).as_posix()).encode() + b"\0")
            digest.update(path.read_bytes())
    return digest.hexdigest()


def version() -> str:
    """The installed distribution's version ("unknown" when run from a bare source tree)."""
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "unknown"


def fingerprint() -> str:
    """`<version>:<source hash>`: changes with an upgrade and with any edit of the source."""
    return f"{version()}:{code_hash()}"

"""Shared fixtures: a Rasa model storage under tmp_path, an execution context, the default bot.

`make test` runs the suite in two pytest-xdist workers (one per core); each worker has its own
Rasa training cache, and the default bot is trained once for both.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")

import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from filelock import FileLock  # noqa: E402
from rasa.engine.graph import ExecutionContext, GraphSchema  # noqa: E402
from rasa.engine.storage.local_model_storage import LocalModelStorage  # noqa: E402
from rasa.engine.storage.resource import Resource  # noqa: E402
from rasa.engine.storage.storage import ModelStorage  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def rasa_cache(tmp_path_factory) -> Path:
    """A Rasa training cache of this worker's own (~/.rasa/cache is one SQLite file): not shared
    by two workers, and not by earlier runs whose cached components would hide what a test trains.
    """
    folder = tmp_path_factory.mktemp("rasa_cache")
    os.environ["RASA_CACHE_DIRECTORY"] = str(folder)
    return folder


@pytest.fixture
def model_storage(tmp_path) -> ModelStorage:
    return LocalModelStorage.create(tmp_path)


@pytest.fixture(scope="session")
def execution_context() -> ExecutionContext:
    return ExecutionContext(GraphSchema({}), "test_model")


@pytest.fixture(scope="session")
def resource() -> Resource:
    return Resource("component")


REPO = Path(__file__).resolve().parents[1]
RASA = str(Path(sys.executable).with_name("rasa"))
BOT_FILES = ["--config", "config/config.yml", "--domain", "config/domain.yml", "--data", "data"]


@pytest.fixture(scope="session")
def default_bot_model(tmp_path_factory) -> Path:
    """The default flight-booking bot, trained once per test run by the real `rasa train`.

    With xdist workers the first one to need it trains it and the others wait for that archive.
    Set RNN_NLU_TEST_BOT_MODEL to a trained archive to skip training while iterating on tests.
    """
    if os.environ.get("RNN_NLU_TEST_BOT_MODEL"):
        return Path(os.environ["RNN_NLU_TEST_BOT_MODEL"])
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the folder all workers' temporary folders share in one run
    out = root / "default_bot"
    model = out / "bot.tar.gz"
    with FileLock(str(root / "default_bot.lock")):
        if not model.is_file():
            env = {**os.environ, "RASA_CACHE_DIRECTORY": str(out / "cache")}
            subprocess.run(
                [RASA, "train", *BOT_FILES, "--out", str(out), "--fixed-model-name", "bot"],
                cwd=REPO,
                env=env,
                check=True,
                timeout=1500,
            )
    return model

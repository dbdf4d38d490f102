"""Shared fixtures: a Rasa model storage under tmp_path, and an execution context."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")

import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from rasa.engine.graph import ExecutionContext, GraphSchema  # noqa: E402
from rasa.engine.storage.local_model_storage import LocalModelStorage  # noqa: E402
from rasa.engine.storage.resource import Resource  # noqa: E402
from rasa.engine.storage.storage import ModelStorage  # noqa: E402


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
    """The default flight-booking bot, trained once per session by the real `rasa train`.

    Set RNN_NLU_TEST_BOT_MODEL to a trained archive to skip training while iterating on tests.
    """
    if os.environ.get("RNN_NLU_TEST_BOT_MODEL"):
        return Path(os.environ["RNN_NLU_TEST_BOT_MODEL"])
    out = tmp_path_factory.mktemp("default_bot")
    env = {**os.environ, "RASA_CACHE_DIRECTORY": str(out / "cache")}
    subprocess.run(
        [RASA, "train", *BOT_FILES, "--out", str(out), "--fixed-model-name", "bot"],
        cwd=REPO,
        env=env,
        check=True,
        timeout=1500,
    )
    return out / "bot.tar.gz"

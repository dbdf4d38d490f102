"""Shared fixtures: a Rasa model storage under tmp_path, and an execution context."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")

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

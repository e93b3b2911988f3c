"""Fixtures for the document-store sinks: MongoDB, Elasticsearch and OpenSearch, real or stand-in.

Each fixture uses the real server named by ``MONGODB_URI`` / ``ELASTICSEARCH_URL`` / ``OPENSEARCH_URL`` when set,
else starts the stand-in (``servers.mongodb`` / ``servers.elasticsearch`` / ``servers.opensearch``), else skips with
the reason. The session's terminal summary says which server each kind ran against.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from schemas.record import ConnectRecord
from servers.common import ServerStartError

# Makes ``import docsink_records`` work for the tests in this directory.
if str(Path(__file__).resolve().parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parent))

_RAN_AGAINST: dict[str, str] = {}


class RecordingContext:
    """A SinkContext that records what the task reports (what the sink runtime would send to the DLQ)."""

    connector_name = "test-sink"

    def __init__(self) -> None:
        self.reported: list[tuple[ConnectRecord, BaseException]] = []

    def report(self, record: ConnectRecord, error: BaseException) -> None:
        self.reported.append((record, error))

    def pause(self, topic: str, partition: int) -> None:
        """Not needed by these tasks."""

    def resume(self, topic: str, partition: int) -> None:
        """Not needed by these tasks."""


def _open(kind: str, opener: Any) -> Iterator[Any]:
    try:
        server = opener()
    except ServerStartError as exc:
        pytest.skip(f"{kind} not available: {exc}")
    _RAN_AGAINST[kind] = server.description
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def mongodb_server() -> Iterator[Any]:
    from servers.mongodb import open_mongodb

    yield from _open("MongoDB", open_mongodb)


@pytest.fixture(scope="session")
def elasticsearch_server() -> Iterator[Any]:
    from servers.elasticsearch import open_elasticsearch

    yield from _open("Elasticsearch", open_elasticsearch)


@pytest.fixture(scope="session")
def opensearch_server() -> Iterator[Any]:
    from servers.opensearch import open_opensearch

    yield from _open("OpenSearch", open_opensearch)


@pytest.fixture(params=["elasticsearch", "opensearch"])
def search_server(request: pytest.FixtureRequest) -> Any:
    """Both search flavours, each with its own server: ``(flavour, server)``."""
    name = f"{request.param}_server"
    return request.param, request.getfixturevalue(name)


@pytest.fixture
def unique() -> str:
    """A short unique suffix for databases, collections, topics and indices."""
    return uuid.uuid4().hex[:10]


@pytest.fixture
def sink_context() -> RecordingContext:
    return RecordingContext()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for kind, description in sorted(_RAN_AGAINST.items()):
        terminalreporter.write_line(f"document sinks: {kind} tests ran against {description}")

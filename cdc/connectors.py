"""Registry mapping ``connector.class`` values to connector specs.

Users write either a short name (``postgres``) or the Java class they already have in their Debezium / Kafka
Connect configs (``io.debezium.connector.postgresql.PostgresConnector``). The runtime and the CLI only ever go
through this registry. Each connector package exports one typed :class:`ConnectorSpec` named ``SPEC``; the
registry names only the package, which is imported on first use, so a missing optional dependency of one
connector (pymongo, mysql-replication …) never breaks another.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel

ConnectorKind = Literal["source", "sink"]


@dataclass(frozen=True)
class ConnectorSpec:
    """What one connector package provides (its ``SPEC``).

    ``config_model``: the pydantic model of its ``config`` properties (validates, documents, fills defaults).
    ``factory``: builds the running connector. Sources: ``factory(name, connector_config, worker_config,
    progress, converters)`` returns a ``cdc.source.Source``; sinks: ``factory(name, connector_config)`` returns a
    ``sinks.task.SinkTask``.
    ``prerequisite_checker``: ``checker(connector_config)`` returns ``cdc.validation.Check`` results for
    ``cdc-engine validate`` and start-up (server settings, privileges); ``None`` when there is nothing to check.
    """

    kind: ConnectorKind
    config_model: type[BaseModel]
    factory: Callable[..., Any]
    prerequisite_checker: Callable[[Any], list[Any]] | None = None


@dataclass(frozen=True)
class RegisteredConnector:
    """A registry row: the names users write and the package whose ``SPEC`` implements them."""

    short_name: str
    aliases: tuple[str, ...]
    package: str

    def spec(self) -> ConnectorSpec:
        """Import the connector package and return its ``SPEC`` (ImportError if an optional dependency is missing)."""
        spec: ConnectorSpec = importlib.import_module(self.package).SPEC
        return spec

    def config_model(self) -> Any:
        """The connector's config model (shorthand for ``spec().config_model``)."""
        return self.spec().config_model

    @property
    def kind(self) -> ConnectorKind:
        """``source`` or ``sink``."""
        return self.spec().kind


CONNECTORS: tuple[RegisteredConnector, ...] = (
    RegisteredConnector(
        "postgres", ("postgresql", "io.debezium.connector.postgresql.PostgresConnector"), "cdc.postgres"
    ),
    RegisteredConnector(
        "mysql",
        ("mariadb", "io.debezium.connector.mysql.MySqlConnector", "io.debezium.connector.mariadb.MariaDbConnector"),
        "cdc.mysql",
    ),
    RegisteredConnector("jdbc", ("io.debezium.connector.jdbc.JdbcSinkConnector",), "sinks.jdbc"),
    RegisteredConnector("discard", ("blackhole",), "sinks.discard"),
    RegisteredConnector("mongodb", ("com.mongodb.kafka.connect.MongoSinkConnector",), "sinks.mongodb"),
    RegisteredConnector(
        "elasticsearch", ("io.confluent.connect.elasticsearch.ElasticsearchSinkConnector",), "sinks.elasticsearch"
    ),
    RegisteredConnector(
        "opensearch", ("io.aiven.kafka.connect.opensearch.OpensearchSinkConnector",), "sinks.elasticsearch.opensearch"
    ),
)


def lookup_connector(connector_class: str) -> RegisteredConnector | None:
    """The registry row for a ``connector.class`` value (case-insensitive), or ``None`` if unknown."""
    wanted = connector_class.strip().lower()
    for entry in CONNECTORS:
        if wanted == entry.short_name or wanted in (a.lower() for a in entry.aliases):
            return entry
    return None


def known_connector_names() -> str:
    """Every accepted ``connector.class`` value, for error messages."""
    return ", ".join(f"{s.short_name} ({', '.join(s.aliases)})" for s in CONNECTORS)

"""Registry mapping ``connector.class`` values to source connectors.

Users write either a short name (``postgres``) or the Debezium Java class they already have in their configs
(``io.debezium.connector.postgresql.PostgresConnector``). The runtime and CLI only ever go through this
registry; concrete connector packages are imported lazily, so a missing optional dependency of one connector
never breaks another.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ConnectorSpec:
    """Where a connector lives: its config model and its source factory, both imported on first use."""

    short_name: str
    aliases: tuple[str, ...]
    config_module: str
    config_class: str
    source_module: str
    source_class: str
    validate_module: str

    def prerequisite_checker(self) -> Callable[[Any], list[Any]]:
        checker: Callable[[Any], list[Any]] = importlib.import_module(self.validate_module).check_prerequisites
        return checker

    def config_model(self) -> Any:
        return getattr(importlib.import_module(self.config_module), self.config_class)

    def source_factory(self) -> Callable[..., Any]:
        factory: Callable[..., Any] = getattr(importlib.import_module(self.source_module), self.source_class)
        return factory


CONNECTORS = (
    ConnectorSpec(
        "postgres",
        ("postgresql", "io.debezium.connector.postgresql.PostgresConnector"),
        "cdc.postgres.config",
        "PostgresConnectorConfig",
        "cdc.postgres.source",
        "PostgresSource",
        "cdc.postgres.validate",
    ),
)


def lookup_connector(connector_class: str) -> ConnectorSpec | None:
    """The spec for a ``connector.class`` value (case-insensitive), or ``None`` if unknown."""
    wanted = connector_class.strip().lower()
    for spec in CONNECTORS:
        if wanted == spec.short_name or wanted in (a.lower() for a in spec.aliases):
            return spec
    return None


def known_connector_names() -> str:
    return ", ".join(f"{s.short_name} ({', '.join(s.aliases)})" for s in CONNECTORS)

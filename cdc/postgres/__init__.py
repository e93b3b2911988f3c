"""PostgreSQL source connector: initial snapshot + pgoutput logical replication."""

from __future__ import annotations

from typing import Any

from cdc.connectors import ConnectorSpec
from cdc.postgres.config import PostgresConnectorConfig


def _source(*args: Any, **kwargs: Any) -> Any:
    from cdc.postgres.source import create_source

    return create_source(*args, **kwargs)


def _check(config: PostgresConnectorConfig) -> list[Any]:
    from cdc.postgres.validate import check_prerequisites

    return check_prerequisites(config)


SPEC = ConnectorSpec(kind="source", config_model=PostgresConnectorConfig, factory=_source, prerequisite_checker=_check)

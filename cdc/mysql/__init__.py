"""MySQL / MariaDB source connector: consistent snapshot + binlog streaming (pymysqlreplication)."""

from __future__ import annotations

from typing import Any

from cdc.connectors import ConnectorSpec
from cdc.mysql.config import MySqlConnectorConfig


def _source(*args: Any, **kwargs: Any) -> Any:
    from cdc.mysql.source import create_source

    return create_source(*args, **kwargs)


def _check(config: MySqlConnectorConfig) -> list[Any]:
    from cdc.mysql.validate import check_prerequisites

    return check_prerequisites(config)


SPEC = ConnectorSpec(kind="source", config_model=MySqlConnectorConfig, factory=_source, prerequisite_checker=_check)

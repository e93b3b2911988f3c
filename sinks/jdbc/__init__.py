"""JDBC sink connector (``jdbc`` / ``io.debezium.connector.jdbc.JdbcSinkConnector``): Debezium JDBC sink semantics
on PostgreSQL and MySQL/MariaDB."""

from __future__ import annotations

from typing import Any

from cdc.connectors import ConnectorSpec
from sinks.jdbc.config import JdbcSinkConfig


def _task(name: str, config: JdbcSinkConfig) -> Any:
    from sinks.jdbc.task import JdbcSinkTask

    return JdbcSinkTask(name, config)


def _check(config: JdbcSinkConfig) -> list[Any]:
    from cdc.validation import Check
    from sinks.jdbc.dialects import open_database
    from sinks.jdbc.url import parse_jdbc_url

    url = parse_jdbc_url(config.connection_url)
    db = open_database(url, config.connection_username, config.connection_password.get_secret_value(), False)
    where = f"{url.dialect} {url.host}:{url.port}/{url.database}"
    try:
        db.connect()
    except db.driver_errors() as exc:
        detail = " ".join(str(exc).split())
        return [Check("connection", False, f"{where}: {detail}", "check connection.url, connection.username/password")]
    db.close()
    return [Check("connection", True, f"{where} reachable")]


SPEC = ConnectorSpec(kind="sink", config_model=JdbcSinkConfig, factory=_task, prerequisite_checker=_check)

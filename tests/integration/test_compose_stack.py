"""The pieces of ``docker-compose.yml`` that can run without Docker, against the real servers here.

No Docker engine is available, so the compose file itself is never started. What is checked instead: the file
parses; every cdc-engine service points at a config in ``config/`` that loads (with the service's environment);
and the MySQL sample (``docker/mysql-init.sql`` + ``config/docker-mysql.yaml``) runs on a real MySQL 9.x /
MariaDB: the init script executes and the connector, as configured there apart from the server's address,
snapshots the sample rows. (``docker/postgres-init.sql`` is what ``make demo`` runs.)
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from engine_helpers import EngineThread, wait_for_records

from cdc.config import load_engine_config
from servers import KafkaEndpoint, MySQLFamilyServer

ROOT = Path(__file__).resolve().parents[2]


def _engine_services() -> dict[str, dict[str, Any]]:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return {
        name: svc
        for name, svc in compose["services"].items()
        if svc.get("image", "").startswith("cdc-engine") or svc.get("build")
    }


def test_every_engine_service_has_a_config_that_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    services = _engine_services()
    assert {"cdc-engine", "cdc-engine-mysql"} <= set(services)
    for name, svc in services.items():
        command = svc["command"]
        assert command[0] == "start", name
        path = ROOT / "config" / Path(command[command.index("--config") + 1]).name
        assert path.is_file(), (name, path)
        for key in svc.get("environment") or {}:
            monkeypatch.setenv(key, "secret")  # compose fills these in from the host's environment
        engine = load_engine_config(str(path))
        assert engine.name, name


def test_mysql_sample_snapshots_on_a_real_server(
    binlog_server: MySQLFamilyServer, kafka_broker: KafkaEndpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = f"inventory_{uuid.uuid4().hex[:8]}"
    binlog_server.create_database(database)
    script = (ROOT / "docker" / "mysql-init.sql").read_text()
    statements = [
        s.strip()
        for s in "\n".join(line for line in script.splitlines() if not line.startswith("--")).split(";")
        if s.strip()
    ]
    binlog_server.execute(*statements, database=database)
    monkeypatch.setenv("MYSQL_CDC_PASSWORD", binlog_server.password)
    config = yaml.safe_load((ROOT / "config" / "docker-mysql.yaml").read_text())
    prefix = f"compose{uuid.uuid4().hex[:6]}"
    config["config"].update(
        {
            "database.hostname": binlog_server.host,
            "database.port": binlog_server.port,
            "database.user": binlog_server.user,
            "database.password": binlog_server.password,
            "database.include.list": database,
            "topic.prefix": prefix,
            "schema.history.internal.kafka.topic": f"{prefix}.schema-history",
            "database.server.id": 5400 + (uuid.uuid4().int % 100000),
        }
    )
    if binlog_server.flavor == "mariadb":
        config["config"]["connector.class"] = "io.debezium.connector.mariadb.MariaDbConnector"
    config["name"] = prefix
    config["worker"]["bootstrap.servers"] = kafka_broker.bootstrap_servers
    try:
        with EngineThread(config):
            customers = wait_for_records(kafka_broker.bootstrap_servers, f"{prefix}.{database}.customers", 3, 60)
            wait_for_records(kafka_broker.bootstrap_servers, f"{prefix}.{database}.products", 3, 30)
            wait_for_records(kafka_broker.bootstrap_servers, f"{prefix}.{database}.orders", 2, 30)
    finally:
        binlog_server.drop_database(database)
    assert len(customers) == 3

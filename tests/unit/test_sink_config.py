"""Sink configuration: the example configs load, Connect templates survive ${VAR} interpolation, JDBC rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from cdc.config import load_engine_config
from cdc.errors import ConfigError
from sinks.jdbc.url import parse_jdbc_url

CONFIG = Path(__file__).resolve().parents[2] / "config"


@pytest.mark.parametrize(
    "name",
    [
        "jdbc-sink-postgres.yaml",
        "jdbc-sink-mariadb-connect.json",
        "jdbc-sink-unwrapped.yaml",
        "postgres-unwrap-avro.yaml",
    ],
)
def test_example_configs_load(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("POSTGRES_PASSWORD", "TARGET_PASSWORD", "MARIADB_PASSWORD"):
        monkeypatch.setenv(var, "secret")
    engine = load_engine_config(str(CONFIG / name), {"bootstrap.servers": "localhost:9092"})
    if name.startswith("jdbc"):
        assert engine.kind == "sink" and engine.connector_class == "jdbc"
        assert "${" in engine.connector.table_name_format  # a template, not an environment variable
        assert engine.connector.connection_password.get_secret_value() == "secret"


def jdbc(**props: str) -> dict[str, object]:
    config = {"connector.class": "jdbc", "connection.url": "jdbc:postgresql://db/app", "topics": "t", **props}
    return {"name": "s", "config": config, "worker": {"bootstrap.servers": "k:9092"}}


def test_jdbc_defaults_are_debeziums() -> None:
    cfg = load_engine_config(None, document=jdbc()).connector
    assert (cfg.insert_mode, cfg.primary_key_mode, cfg.delete_enabled, cfg.schema_evolution) == (
        "insert",
        "none",
        False,
        "none",
    )
    assert cfg.table_name_format == "${topic}" and cfg.batch_size == 500
    alias = load_engine_config(None, document=jdbc(**{"collection.name.format": "x_${topic}"})).connector
    assert alias.table_name_format == "x_${topic}"


@pytest.mark.parametrize(
    ("props", "expected"),
    [
        ({"insert.mode": "upsert"}, "upsert needs a primary key"),
        ({"delete.enabled": "true", "primary.key.mode": "record_value"}, "needs primary.key.mode=record_key"),
        ({"connection.url": "jdbc:oracle:thin:@x"}, "only jdbc:postgresql://"),
        ({"primary.key.mode": "sometimes"}, "config.primary.key.mode"),
        ({"database.time_zone": "Europe/Paris"}, "only UTC"),
    ],
)
def test_jdbc_config_problems(props: dict[str, str], expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_engine_config(None, document=jdbc(**props))
    assert any(expected in p for p in info.value.problems), info.value.problems


def test_jdbc_urls() -> None:
    url = parse_jdbc_url("jdbc:postgresql://db.example:6543/app?sslmode=require&user=u")
    assert (url.family, url.host, url.port, url.database, url.params["sslmode"]) == (
        "postgresql",
        "db.example",
        6543,
        "app",
        "require",
    )
    assert parse_jdbc_url("jdbc:mariadb://m/shop").port == 3306
    assert parse_jdbc_url("jdbc:mysql://m:3307/shop").family == "mysql"
    for bad in ("postgresql://x/db", "jdbc:postgresql://x", "jdbc:postgresql://a,b/db"):
        with pytest.raises(ConfigError):
            parse_jdbc_url(bad)


def test_transform_problems_are_reported_with_the_sink_config() -> None:
    pytest.importorskip("sinks.transforms.chain")
    doc = jdbc(
        **{"transforms": "unwrap,route", "transforms.unwrap.type": "io.debezium.transforms.ExtractNewRecordState"}
    )
    with pytest.raises(ConfigError) as info:
        load_engine_config(None, document=doc)
    assert any("transforms.route" in p for p in info.value.problems), info.value.problems


def test_consumer_settings_are_layered() -> None:
    from sinks.runtime import consumer_settings

    doc = jdbc(**{"consumer.override.fetch.max.bytes": "1000", "consumer.override.max.poll.records": "50"})
    doc["worker"] = {"bootstrap.servers": "k:9092", "consumer.fetch.max.bytes": "2000", "consumer.client.rack": "r1"}
    settings, java_only = consumer_settings(load_engine_config(None, document=doc))
    assert settings["group.id"] == "connect-s" and settings["partition.assignment.strategy"] == "cooperative-sticky"
    assert settings["enable.auto.commit"] is False and settings["auto.offset.reset"] == "earliest"
    assert settings["fetch.max.bytes"] == "1000"  # the connector's override wins over the worker's consumer.*
    assert settings["client.rack"] == "r1"
    assert java_only == {"max.poll.records": "50"} and "max.poll.records" not in settings

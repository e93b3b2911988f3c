"""Configuration loading (cdc.config): files, interpolation, REST shape, worker layering, all problems at once."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from cdc.config import WorkerConfig, interpolate, load_engine_config
from cdc.errors import ConfigError


def connector(**extra: Any) -> dict[str, Any]:
    return {
        "connector.class": "postgres",
        "database.hostname": "db.internal",
        "database.user": "cdc",
        "database.password": "s3cret-pw",
        "database.dbname": "shop",
        "topic.prefix": "shop",
        **extra,
    }


def document(config: dict[str, Any] | None = None, worker: dict[str, Any] | None = None, **top: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {"name": "shop-connector", "config": config or connector()}
    if worker is not None:
        doc["worker"] = worker
    doc.update(top)
    return doc


WORKER = {"bootstrap.servers": "kafka:9092"}


def problems(doc: dict[str, Any], overrides: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_engine_config(None, overrides, document=doc)
    return info.value.problems


@pytest.fixture(autouse=True)
def _no_bootstrap_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CDC_BOOTSTRAP_SERVERS", raising=False)


# ---------------------------------------------------------------------------------------------------------------
# interpolation


def test_interpolation_replaces_set_variables_and_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CDC_T_HOST", "pg.example")
    monkeypatch.setenv("CDC_T_EMPTY", "")
    monkeypatch.delenv("CDC_T_UNSET", raising=False)
    found: list[str] = []
    value = {
        "a": "${CDC_T_HOST}",
        "b": "postgres://${CDC_T_HOST}:${CDC_T_UNSET:-5432}/db",
        "c": ["${CDC_T_UNSET:-x}", 5, None, True],
        "d": {"e": "${CDC_T_EMPTY:-fallback}"},  # set-but-empty wins over the default
        "f": "$CDC_T_HOST",  # only ${...} is a reference
    }
    assert interpolate(value, found) == {
        "a": "pg.example",
        "b": "postgres://pg.example:5432/db",
        "c": ["x", 5, None, True],
        "d": {"e": ""},
        "f": "$CDC_T_HOST",
    }
    assert found == []


def test_unset_variables_are_problems_naming_the_property(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CDC_T_PW", raising=False)
    monkeypatch.delenv("CDC_T_USER", raising=False)
    doc = document(connector(**{"database.password": "${CDC_T_PW}", "database.user": "${CDC_T_USER}"}), WORKER)
    found = problems(doc)
    assert "config.database.password: environment variable ${CDC_T_PW} is not set" in found
    assert "config.database.user: environment variable ${CDC_T_USER} is not set" in found


def test_interpolated_values_are_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CDC_T_PORT", "6543")
    monkeypatch.setenv("CDC_T_PW", "from-env")
    doc = document(connector(**{"database.port": "${CDC_T_PORT}", "database.password": "${CDC_T_PW}"}), WORKER)
    cfg = load_engine_config(None, document=doc).connector
    assert cfg.database_port == 6543
    assert cfg.database_password.get_secret_value() == "from-env"


# ---------------------------------------------------------------------------------------------------------------
# file formats and shapes


def test_json_and_yaml_files_load_the_same(tmp_path: Path) -> None:
    doc = document(connector(**{"database.port": 5433, "snapshot.mode": "never"}), {**WORKER, "group.id": "g"})
    json_path = tmp_path / "c.json"
    yaml_path = tmp_path / "c.yaml"
    json_path.write_text(json.dumps(doc))
    yaml_path.write_text(yaml.safe_dump(doc))
    from_json = load_engine_config(str(json_path))
    from_yaml = load_engine_config(str(yaml_path))
    assert from_json.connector == from_yaml.connector
    assert from_json.worker == from_yaml.worker
    assert from_json.connector.database_port == 5433 and from_json.connector.snapshot_mode == "never"
    assert from_json.source_path == str(json_path)


def test_json_suffix_is_parsed_strictly_as_json(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text("name: x\nconfig: {}\n")  # valid YAML, not JSON
    with pytest.raises(ConfigError, match="cannot parse"):
        load_engine_config(str(path))


def test_connect_rest_shape_with_string_values() -> None:
    rest = {
        "name": "inventory-connector",
        "config": {
            "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
            "tasks.max": "1",
            "database.hostname": "postgres",
            "database.port": "5432",
            "database.user": "postgres",
            "database.password": "postgres",
            "database.dbname": "postgres",
            "topic.prefix": "dbserver1",
            "plugin.name": "pgoutput",
            "tombstones.on.delete": "false",
            "heartbeat.interval.ms": "10000",
            "slot.drop.on.stop": "true",
        },
    }
    engine = load_engine_config(None, {"bootstrap.servers": "broker:29092"}, document=rest)
    cfg = engine.connector
    assert engine.name == "inventory-connector"
    assert engine.connector_class == "postgres"  # Debezium class name resolved to the short name
    assert cfg.database_port == 5432 and isinstance(cfg.database_port, int)
    assert cfg.tombstones_on_delete is False and cfg.slot_drop_on_stop is True
    assert cfg.heartbeat_interval_ms == 10000
    assert engine.worker.bootstrap_servers == "broker:29092"
    assert engine.warnings == []  # tasks.max is accepted silently


def test_rest_shape_without_any_bootstrap_servers_is_a_problem() -> None:
    found = problems({"name": "x", "config": connector()})
    assert any(p.startswith("worker.bootstrap.servers") for p in found)
    assert any("--bootstrap-servers" in p for p in found)


def test_worker_layering_file_then_env_then_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    doc = document(worker={"bootstrap.servers": "from-file:9092", "offset.flush.interval.ms": 1000})
    assert load_engine_config(None, document=doc).worker.bootstrap_servers == "from-file:9092"
    monkeypatch.setenv("CDC_BOOTSTRAP_SERVERS", "from-env:9092")
    assert load_engine_config(None, document=doc).worker.bootstrap_servers == "from-env:9092"
    engine = load_engine_config(None, {"bootstrap.servers": "from-cli:9092"}, document=doc)
    assert engine.worker.bootstrap_servers == "from-cli:9092"
    assert engine.worker.offset_flush_interval_ms == 1000  # the rest of the file section stays


def test_unknown_keys_are_warnings_not_errors() -> None:
    doc = document(
        connector(**{"snapshot.locking.mode": "none", "max.batch.size": "2048"}),
        {**WORKER, "config.storage.topic": "cfg"},
        extra_section={"x": 1},
    )
    engine = load_engine_config(None, document=doc)
    assert "top-level key 'extra_section' is ignored" in engine.warnings
    assert "worker property 'config.storage.topic' is not used by cdc-engine" in engine.warnings
    assert "connector property 'snapshot.locking.mode' is not used by cdc-engine" in engine.warnings
    assert not any("max.batch.size" in w for w in engine.warnings)  # accepted without effect, silently


# ---------------------------------------------------------------------------------------------------------------
# producer and converter settings


def test_producer_overrides_translate_java_names() -> None:
    worker = {
        **WORKER,
        "producer.linger.ms": 50,
        "producer.compression.type": "zstd",
        "producer.buffer.memory": 33554432,
        "producer.max.request.size": "2097152",
        "producer.enable.idempotence": True,
        "offset.flush.interval.ms": 100,
    }
    engine = load_engine_config(None, document=document(worker=worker))
    assert engine.worker.producer_overrides() == {
        "linger.ms": "50",
        "compression.type": "zstd",
        "queue.buffering.max.kbytes": "32768",
        "message.max.bytes": "2097152",
        "enable.idempotence": "true",
    }
    assert not any("producer." in w for w in engine.warnings)


def test_producer_overrides_from_command_line() -> None:
    engine = load_engine_config(None, {"producer.linger.ms": "1", "bootstrap.servers": "k:1"}, document=document())
    assert engine.worker.producer_overrides() == {"linger.ms": "1"}


def test_connector_level_converter_settings_override_worker() -> None:
    config = connector(**{"value.converter.schemas.enable": "false", "key.converter.schemas.enable": False})
    worker = {**WORKER, "value.converter.schemas.enable": True, "key.converter.schemas.enable": "true"}
    engine = load_engine_config(None, document=document(config, worker))
    assert engine.worker.value_converter_schemas_enable is False
    assert engine.worker.key_converter_schemas_enable is False
    # moved to the worker, so the connector does not see them as unknown properties
    assert not any("converter" in w for w in engine.warnings)
    assert "value.converter.schemas.enable" not in (engine.connector.model_extra or {})


def test_converter_defaults_and_unsupported_converter() -> None:
    worker = WorkerConfig.model_validate(WORKER)
    assert worker.key_converter_schemas_enable is True and worker.value_converter_schemas_enable is True
    found = problems(document(connector(**{"value.converter": "com.example.MyConverter"}), WORKER))
    assert any(p.startswith("worker.value.converter:") and "MyConverter" in p for p in found)
    # Avro is supported for sources too, and needs its registry.
    found = problems(document(connector(**{"value.converter": "io.confluent.connect.avro.AvroConverter"}), WORKER))
    assert any(p.startswith("worker.value.converter.schema.registry.url: required") for p in found), found


# ---------------------------------------------------------------------------------------------------------------
# validation problems, all at once


def test_every_problem_is_collected() -> None:
    config = {
        "connector.class": "postgres",
        "database.port": "abc",
        "topic.prefix": "has space",
        "snapshot.mode": "sometimes",
        "table.include.list": "public.a",
        "table.exclude.list": "public.b",
    }
    found = problems({"config": config, "worker": {"offset.flush.interval.ms": "soon"}})
    joined = "\n".join(found)
    for fragment in (
        "name: required",
        "worker.bootstrap.servers",
        "worker.offset.flush.interval.ms",
        "config.database.hostname: required property is missing",
        "config.database.user: required property is missing",
        "config.database.dbname: required property is missing",
        "config.database.port",
        "config.topic.prefix",
        "config.snapshot.mode",
    ):
        assert fragment in joined, fragment
    assert "'abc'" in joined  # the offending value is shown


def test_cross_field_problems_are_reported() -> None:
    config = connector(
        **{
            "table.include.list": "public.a",
            "table.exclude.list": "public.b",
            "column.exclude.list": "public.a.(unclosed",
            "skipped.operations": "c,x",
            "provide.transaction.metadata": "true",
        }
    )
    found = problems(document(config, WORKER))
    assert "config: table.include.list and table.exclude.list are mutually exclusive" in found
    assert any(p.startswith("config.column.exclude.list: invalid regular expression") for p in found)
    assert any(p.startswith("config.skipped.operations: unknown operation(s) ['x']") for p in found)
    assert not any("provide.transaction.metadata" in p for p in found)


def test_unknown_connector_class_lists_known_ones() -> None:
    # (mongodb was the example of an unknown class here until the MongoDB sink was registered)
    found = problems(document(connector(**{"connector.class": "com.example.NoSuchConnector"}), WORKER))
    assert len(found) == 1
    assert "unknown connector 'com.example.NoSuchConnector'" in found[0]
    assert "io.debezium.connector.postgresql" in found[0]


def test_password_values_never_appear_in_problems() -> None:
    config = connector(**{"database.password": 987654321, "database.port": "abc"})  # not a string: invalid
    found = problems(document(config, WORKER))
    assert any(p.startswith("config.database.password") for p in found)
    assert "987654321" not in "\n".join(found)
    assert "'abc'" in "\n".join(found)  # other values are shown


def test_skipped_operations_parsing() -> None:
    def ops(value: str | None) -> frozenset[str]:
        extra = {} if value is None else {"skipped.operations": value}
        return frozenset(
            load_engine_config(None, document=document(connector(**extra), WORKER)).connector.skipped_ops()
        )

    assert ops(None) == {"t"}  # Debezium's default skips truncate
    assert ops("none") == frozenset()
    assert ops("NONE") == frozenset()
    assert ops("c, u") == {"c", "u"}


def test_defaults_match_debezium() -> None:
    cfg = load_engine_config(None, document=document(worker=WORKER)).connector
    assert cfg.database_port == 5432
    assert cfg.slot_name == "debezium"
    assert cfg.publication_name == "dbz_publication"
    assert cfg.publication_autocreate_mode == "all_tables"
    assert cfg.snapshot_mode == "initial"
    assert cfg.plugin_name == "pgoutput"
    assert cfg.tombstones_on_delete is True
    assert cfg.decimal_handling_mode == "precise" and cfg.time_precision_mode == "adaptive"
    assert cfg.heartbeat_interval_ms == 0 and cfg.topic_heartbeat_prefix == "__debezium-heartbeat"
    assert cfg.unavailable_value_placeholder == "__debezium_unavailable_value"


def test_debezium_1x_property_names_are_read_with_a_warning() -> None:
    from cdc.config import load_engine_config

    doc = {
        "name": "legacy",
        "config": {
            "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
            "database.hostname": "db",
            "database.user": "u",
            "database.dbname": "inventory",
            "database.server.name": "dbserver1",
            "table.whitelist": "public.customers",
            "snapshot.mode": "exported",
        },
        "worker": {"bootstrap.servers": "k:9092"},
    }
    engine = load_engine_config(None, document=doc)
    assert engine.connector.topic_prefix == "dbserver1"
    assert engine.connector.table_include_list == "public.customers"
    assert engine.connector.snapshot_mode == "initial"
    assert any("database.server.name" in w and "topic.prefix" in w for w in engine.warnings)

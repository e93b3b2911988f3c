"""The real ``cdc-engine`` CLI in a subprocess: configuration errors, Connect REST JSON, validate, describe."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest
from engine_helpers import REPO, connection_properties, read_topic, wait_for_records

from servers import PostgresServer

ENV_UNSET = "CDC_TEST_SURELY_UNSET_VARIABLE"


def _cli(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in (ENV_UNSET, "CDC_BOOTSTRAP_SERVERS")}
    return subprocess.run(
        [sys.executable, "-m", "cdc.cli", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**base, **(env or {})},
    )


def _write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def _assert_config_error(result: subprocess.CompletedProcess[str], *expected: str) -> None:
    """Exit code 2, one message listing every expected problem, no traceback."""
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert result.stderr.count("Invalid configuration") == 1, result.stderr
    for fragment in expected:
        assert fragment in result.stderr, f"{fragment!r} missing from:\n{result.stderr}"


VALID_CONNECTOR = """
  connector.class: postgres
  database.hostname: localhost
  database.user: postgres
  database.dbname: app
  topic.prefix: app
"""


@pytest.mark.parametrize("command", ["start", "validate", "offsets"])
def test_unparseable_yaml(tmp_path: Path, command: str) -> None:
    path = _write(tmp_path, "bad.yaml", "name: x\nconfig:\n  database.hostname: [unclosed\n")
    _assert_config_error(_cli(command, "--config", path), "cannot parse", "bad.yaml")


def test_unparseable_json(tmp_path: Path) -> None:
    path = _write(tmp_path, "bad.json", '{"name": "x", "config": {"connector.class": "postgres",}')
    _assert_config_error(_cli("validate", "--config", path), "cannot parse", "bad.json")


def test_missing_file(tmp_path: Path) -> None:
    _assert_config_error(_cli("validate", "--config", str(tmp_path / "nope.yaml")), "cannot read config file")


def test_not_a_mapping(tmp_path: Path) -> None:
    path = _write(tmp_path, "list.yaml", "- a\n- b\n")
    _assert_config_error(_cli("validate", "--config", path), "expected a mapping")


def test_unknown_connector_class(tmp_path: Path) -> None:
    doc = (
        "name: u\nconfig:\n  connector.class: io.debezium.connector.db2.Db2Connector\n"
        "worker:\n  bootstrap.servers: localhost:9\n"
    )
    _assert_config_error(
        _cli("validate", "--config", _write(tmp_path, "c.yaml", doc)),
        "config.connector.class: unknown connector 'io.debezium.connector.db2.Db2Connector'",
        "io.debezium.connector.postgresql.PostgresConnector",  # the message lists what is known
    )


def test_missing_required_keys(tmp_path: Path) -> None:
    doc = "config:\n  connector.class: postgres\n"
    _assert_config_error(
        _cli("validate", "--config", _write(tmp_path, "c.yaml", doc)),
        "name: required",
        "config.database.hostname: required property is missing",
        "config.database.user: required property is missing",
        "config.database.dbname: required property is missing",
        "config.topic.prefix: required property is missing",
        "worker.bootstrap.servers",
    )


def test_wrong_types(tmp_path: Path) -> None:
    doc = (
        f"name: w\nconfig:{VALID_CONNECTOR}  database.port: abc\n  tombstones.on.delete: maybe\n"
        "worker:\n  bootstrap.servers: localhost:9\n  offset.flush.interval.ms: soon\n"
    )
    _assert_config_error(
        _cli("validate", "--config", _write(tmp_path, "c.yaml", doc)),
        "config.database.port:",
        "'abc'",
        "config.tombstones.on.delete:",
        "worker.offset.flush.interval.ms:",
    )


def test_unset_environment_variable(tmp_path: Path) -> None:
    doc = (
        f"name: e\nconfig:{VALID_CONNECTOR}  database.password: ${{{ENV_UNSET}}}\n"
        "worker:\n  bootstrap.servers: localhost:9\n"
    )
    result = _cli("validate", "--config", _write(tmp_path, "c.yaml", doc))
    _assert_config_error(result, f"environment variable ${{{ENV_UNSET}}} is not set", "database.password")


def test_every_problem_reported_at_once(tmp_path: Path) -> None:
    doc = (
        "name: many\n"
        "config:\n"
        "  connector.class: postgres\n"
        "  database.port: abc\n"
        f"  database.user: ${{{ENV_UNSET}}}\n"
        "  topic.prefix: 'bad prefix!'\n"
        "  snapshot.mode: sometimes\n"
        "  table.include.list: public.a\n"
        "  table.exclude.list: public.b\n"
    )
    result = _cli("start", "--config", _write(tmp_path, "c.yaml", doc))
    _assert_config_error(
        result,
        f"${{{ENV_UNSET}}} is not set",
        "worker.bootstrap.servers",
        "config.database.hostname: required property is missing",
        "config.database.dbname: required property is missing",
        "config.database.port:",
        "config.topic.prefix:",
        "config.snapshot.mode:",
    )
    header = next(line for line in result.stderr.splitlines() if "Invalid configuration" in line)
    listed = [line for line in result.stderr.splitlines() if line.startswith("  - ")]
    assert f"({len(listed)} problem(s))" in header
    assert len(listed) >= 7


def test_describe_lists_properties() -> None:
    result = _cli("describe", "postgres")
    assert result.returncode == 0, result.stderr
    lines = {line.split()[0]: line for line in result.stdout.splitlines() if line and not line.startswith("#")}
    for prop in (
        "slot.name",
        "publication.name",
        "database.hostname",
        "snapshot.mode",
        "topic.prefix",
        "heartbeat.interval.ms",
        "decimal.handling.mode",
        "time.precision.mode",
    ):
        assert prop in lines, prop
    assert "'debezium'" in lines["slot.name"]  # the default is shown
    assert "required" in lines["database.hostname"]
    assert "secret" in lines["database.password"]
    worker = _cli("describe", "worker")
    assert worker.returncode == 0 and "bootstrap.servers" in worker.stdout
    unknown = _cli("describe", "oracle")
    assert unknown.returncode == 2 and "unknown connector 'oracle'" in unknown.stderr
    assert "Traceback" not in unknown.stderr


# ---------------------------------------------------------------------------------------------------------------
# against real servers


def _rest_json(postgres_server: Any, dbname: str, name: str, **extra: str) -> dict[str, Any]:
    """A connector exactly as POSTed to Kafka Connect: Debezium class name, every value a string."""
    config = {
        "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
        "tasks.max": "1",
        **{k: str(v) for k, v in connection_properties(postgres_server, dbname, name).items()},
        "plugin.name": "pgoutput",
        "tombstones.on.delete": "false",
        "heartbeat.interval.ms": "0",
        **extra,
    }
    return {"name": name, "config": config}


def test_connect_rest_json_validates_and_starts(
    postgres_server: Any, kafka_broker: Any, pg_database: str, tmp_path: Path
) -> None:
    bootstrap = kafka_broker.bootstrap_servers
    with psycopg.connect(postgres_server.dsn(pg_database), autocommit=True) as conn:
        conn.execute("CREATE TABLE widgets (id int PRIMARY KEY, label text)")
        conn.execute("INSERT INTO widgets VALUES (1, 'w')")
    name = f"rest_{uuid.uuid4().hex[:8]}"
    # Converter settings at connector level override the worker's, as in Connect.
    doc = _rest_json(postgres_server, pg_database, name, **{"key.converter.schemas.enable": "false"})
    path = _write(tmp_path, "connector.json", json.dumps(doc))
    worker_args = [
        "--bootstrap-servers",
        bootstrap,
        "--worker-property",
        "offset.flush.interval.ms=200",
        "--worker-property",
        "offset.storage.partitions=1",
    ]

    validated = _cli("validate", "--config", path, *worker_args)
    assert validated.returncode == 0, validated.stdout + validated.stderr
    assert f"configuration: OK (postgres connector '{name}')" in validated.stdout
    assert "FAIL" not in validated.stdout
    assert "OK   wal_level: wal_level=logical" in validated.stdout
    assert f"OK   kafka: {bootstrap} reachable" in validated.stdout
    assert "all checks passed" in validated.stdout

    log_path = tmp_path / "engine.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "cdc.cli", "start", "--config", path, "--no-progress", *worker_args],
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={k: v for k, v in os.environ.items() if k != "CDC_BOOTSTRAP_SERVERS"},
        )
        try:
            records = wait_for_records(bootstrap, f"{name}.public.widgets", 1)
            with psycopg.connect(postgres_server.dsn(pg_database), autocommit=True) as conn:
                conn.execute("DELETE FROM widgets WHERE id = 1")
            records = wait_for_records(bootstrap, f"{name}.public.widgets", 2)
        finally:
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(60)
    output = log_path.read_text()
    assert code == 0, output
    assert "Traceback" not in output
    assert len(records) == 2  # tombstones.on.delete="false": no tombstone after the delete
    keys = [json.loads(k or b"null") for k, _ in records]
    assert keys == [{"id": 1}, {"id": 1}]  # key.converter.schemas.enable="false": bare key payload
    values = [json.loads(v or b"null") for _, v in records]
    assert [v["payload"]["op"] for v in values] == ["r", "d"]
    assert values[0]["schema"]["name"] == f"{name}.public.widgets.Envelope"
    assert read_topic(bootstrap, "connect-offsets")  # the offset went to the default offsets topic


def test_validate_reports_wal_level_replica(postgres_server: Any, kafka_broker: Any, tmp_path: Path) -> None:
    def config_for(server: Any, dbname: str) -> str:
        doc = {
            "name": "check",
            "config": {
                "connector.class": "postgres",
                "database.hostname": server.host,
                "database.port": server.port,
                "database.user": server.user,
                "database.dbname": dbname,
                "topic.prefix": "check",
                "slot.name": "check_slot",
            },
            "worker": {"bootstrap.servers": kafka_broker.bootstrap_servers},
        }
        return _write(tmp_path, f"{uuid.uuid4().hex[:6]}.yaml", json.dumps(doc))  # JSON is valid YAML

    def prepare(server: Any, dbname: str) -> None:
        server.create_database(dbname)
        with psycopg.connect(server.dsn(dbname), autocommit=True) as conn:
            conn.execute("CREATE TABLE things (id int PRIMARY KEY)")

    with PostgresServer().start(wal_level="replica") as replica_server:
        prepare(replica_server, "app")
        replica_config = config_for(replica_server, "app")
        failed = _cli("validate", "--config", replica_config)
        # `start` refuses too (exit 1, actionable message) instead of retrying forever.
        started = _cli(
            "start",
            "--no-progress",
            "--config",
            replica_config,
            "--worker-property",
            "offset.storage.topic=cdc-test-walcheck-offsets",
            "--worker-property",
            "offset.storage.partitions=1",
        )
    assert started.returncode == 1, started.stdout + started.stderr
    assert "wal_level" in started.stderr and "logical" in started.stderr
    assert "Traceback" not in started.stderr
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "Traceback" not in failed.stderr
    lines = failed.stdout.splitlines()
    wal_line = next(i for i, line in enumerate(lines) if "wal_level" in line and "wal_level=" in line)
    assert lines[wal_line].startswith("FAIL wal_level: wal_level=replica")
    assert lines[wal_line + 1].strip().startswith("fix:")
    assert "wal_level = logical" in lines[wal_line + 1]
    assert "1 check(s) failed" in failed.stdout

    dbname = f"cdc_validate_{uuid.uuid4().hex[:8]}"
    prepare(postgres_server, dbname)
    try:
        passed = _cli("validate", "--config", config_for(postgres_server, dbname))
    finally:
        postgres_server.drop_database(dbname)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "OK   wal_level: wal_level=logical" in passed.stdout
    assert "FAIL" not in passed.stdout
    assert "all checks passed" in passed.stdout


def test_env_interpolation_in_real_start(tmp_path: Path) -> None:
    """``${VAR:-default}`` and ``${VAR}`` resolve before validation (here: surfacing in validate's output)."""
    doc = (
        "name: envy\n"
        "config:\n"
        "  connector.class: postgres\n"
        "  database.hostname: ${CDC_TEST_HOST:-127.0.0.1}\n"
        "  database.port: ${CDC_TEST_PORT}\n"
        "  database.user: postgres\n"
        "  database.dbname: app\n"
        "  topic.prefix: envy\n"
        "worker:\n"
        "  bootstrap.servers: 127.0.0.1:9\n"
    )
    # Port 9 (discard) on loopback refuses connections: validate reports a failed connect check, not a config error.
    result = _cli("validate", "--skip-kafka", "--config", _write(tmp_path, "c.yaml", doc), env={"CDC_TEST_PORT": "9"})
    assert result.returncode == 1, result.stdout + result.stderr
    assert "configuration: OK" in result.stdout
    assert "FAIL connect" in result.stdout
    assert "127.0.0.1" in result.stdout and "port 9" in result.stdout

"""MySQL connector failures through the real CLI: config errors and server prerequisites (exit 2, every problem
listed, no traceback), a lost schema history, a purged binlog, and a server restart (reconnect from the offset)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from engine_helpers import REPO, EngineThread, read_topic, wait_for, wait_for_records
from mysql_helpers import mysql_document, run_sql

from servers import MariaDBServer, MySQLFamilyServer


def _cli(*args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cdc.cli", *args], cwd=REPO, capture_output=True, text=True, timeout=timeout
    )


def _config_file(tmp_path: Path, doc: dict[str, Any]) -> str:
    path = tmp_path / f"{doc['name']}.json"
    path.write_text(json.dumps(doc))
    return str(path)


def test_config_errors_listed_together(tmp_path: Path) -> None:
    doc = {
        "name": "bad",
        "config": {
            "connector.class": "io.debezium.connector.mysql.MySqlConnector",
            "database.hostname": "127.0.0.1",
            "database.port": "not-a-port",
            "database.user": "cdc",
            "topic.prefix": "bad",
            "snapshot.mode": "sometimes",
            "snapshot.locking.mode": "total",
            "database.include.list": "a",
            "database.exclude.list": "b",
        },
        "worker": {"bootstrap.servers": "127.0.0.1:1"},
    }
    result = _cli("start", "--config", _config_file(tmp_path, doc))
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    for fragment in ("database.port", "database.server.id", "snapshot.mode", "snapshot.locking.mode", "mutually"):
        assert fragment in result.stderr, f"{fragment!r} missing from:\n{result.stderr}"


@pytest.fixture(scope="module")
def misconfigured_mariadb() -> Iterator[MySQLFamilyServer]:
    """A MariaDB server whose binlog settings are all wrong for CDC, with a user lacking the privileges."""
    server = MariaDBServer()
    server.start(["--binlog-format=STATEMENT", "--binlog-row-image=MINIMAL", "--binlog-row-metadata=MINIMAL"])
    server.execute("CREATE USER 'weak'@'%' IDENTIFIED BY 'weak'", "GRANT SELECT ON *.* TO 'weak'@'%'")
    try:
        yield server
    finally:
        server.stop()


def test_prerequisite_errors_exit_2_with_every_problem(
    misconfigured_mariadb: MySQLFamilyServer, kafka_broker: Any, tmp_path: Path
) -> None:
    doc = mysql_document(
        misconfigured_mariadb,
        kafka_broker.bootstrap_servers,
        "mysql",
        **{"database.user": "weak", "database.password": "weak"},
    )
    path = _config_file(tmp_path, doc)
    result = _cli("start", "--config", path, "--no-progress")
    assert result.returncode == 2, (result.stdout, result.stderr[-3000:])
    assert "Traceback" not in result.stderr
    for fragment in (
        "binlog_format=STATEMENT",
        "binlog_row_image=MINIMAL",
        "binlog_row_metadata=MINIMAL",
        "REPLICATION SLAVE",
        "REPLICATION CLIENT",
        "RELOAD",
    ):
        assert fragment in result.stderr, f"{fragment!r} missing from:\n{result.stderr}"
    validate = _cli("validate", "--config", path, "--skip-kafka")
    assert validate.returncode == 1 and validate.stdout.count("FAIL") >= 6, validate.stdout


def test_lost_schema_history_needs_recovery(
    binlog_server: MySQLFamilyServer, kafka_broker: Any, binlog_database: str
) -> None:
    """The offset exists but the history topic is gone: the engine says so; snapshot.mode=recovery rebuilds it."""
    db = binlog_database
    run_sql(binlog_server, db, "CREATE TABLE t (id INT PRIMARY KEY, v INT)", "INSERT INTO t VALUES (1, 1)")
    doc = mysql_document(binlog_server, kafka_broker.bootstrap_servers, db)
    topic = f"{doc['name']}.{db}.t"
    with EngineThread(doc):
        wait_for_records(kafka_broker.bootstrap_servers, topic, 1)
    # Point the connector at an empty history topic, as if the old one had been deleted.
    doc["config"]["schema.history.internal.kafka.topic"] = f"{doc['name']}.history-lost"
    engine = EngineThread(doc).start()
    wait_for(lambda: engine.error is not None or not engine.running, 60, what="the engine to stop")
    assert engine.error is not None and "snapshot.mode=recovery" in str(engine.error)
    run_sql(binlog_server, db, "INSERT INTO t VALUES (2, 2)")
    doc["config"]["snapshot.mode"] = "recovery"
    with EngineThread(doc):
        records = wait_for_records(kafka_broker.bootstrap_servers, topic, 2)
    ops = sorted(json.loads(v)["payload"]["op"] for _, v in records if v)
    assert ops == ["c", "r"]
    assert read_topic(kafka_broker.bootstrap_servers, f"{doc['name']}.history-lost")


def test_server_restart_reconnects_from_offset(kafka_broker: Any, tmp_path: Path) -> None:
    """The server goes away mid-stream (SIGKILL) and comes back: the engine reconnects with backoff and resumes
    from its stored offset; nothing committed is lost."""
    with MariaDBServer() as server:
        server.create_database("shop")
        run_sql(server, "shop", "CREATE TABLE t (id INT PRIMARY KEY)", "INSERT INTO t VALUES (0)")
        doc = mysql_document(server, kafka_broker.bootstrap_servers, "shop")
        topic = f"{doc['name']}.shop.t"
        with EngineThread(doc):
            wait_for_records(kafka_broker.bootstrap_servers, topic, 1)
            run_sql(server, "shop", *[f"INSERT INTO t VALUES ({i})" for i in range(1, 11)])
            wait_for_records(kafka_broker.bootstrap_servers, topic, 11)
            server.restart(kill=True)
            time.sleep(1)
            run_sql(server, "shop", *[f"INSERT INTO t VALUES ({i})" for i in range(11, 21)])
            records = wait_for_records(kafka_broker.bootstrap_servers, topic, 21, timeout=90)
    ids = {json.loads(k)["payload"]["id"] for k, v in records if v}
    assert ids == set(range(21))


def test_purged_binlog(binlog_server: MySQLFamilyServer, kafka_broker: Any, binlog_database: str) -> None:
    """The binlog the offset points into is purged: stop with an actionable message; when_needed re-snapshots."""
    db = binlog_database
    run_sql(binlog_server, db, "CREATE TABLE t (id INT PRIMARY KEY)", "INSERT INTO t VALUES (1)")
    doc = mysql_document(binlog_server, kafka_broker.bootstrap_servers, db)
    topic = f"{doc['name']}.{db}.t"
    with EngineThread(doc):
        wait_for_records(kafka_broker.bootstrap_servers, topic, 1)
    run_sql(binlog_server, db, "INSERT INTO t VALUES (2)", "FLUSH BINARY LOGS")
    current, _ = binlog_server.binlog_position()

    def purged() -> bool:
        # The server keeps a file a replica's dump thread still reads (e.g. of a just-killed engine): retry.
        run_sql(binlog_server, db, f"PURGE BINARY LOGS TO '{current}'")
        return bool(binlog_server.execute("SHOW BINARY LOGS")[0][0] == current)

    wait_for(purged, 30, interval=1.0, what=f"the binlogs before {current} to be purged")
    engine = EngineThread(doc).start()
    wait_for(lambda: not engine.running, 60, what="the engine to stop")
    assert engine.error is not None and "snapshot.mode=when_needed" in str(engine.error), engine.error
    doc["config"]["snapshot.mode"] = "when_needed"
    with EngineThread(doc):
        records = wait_for_records(kafka_broker.bootstrap_servers, topic, 3)
    ops = sorted((json.loads(v)["payload"]["op"], json.loads(k)["payload"]["id"]) for k, v in records if v)
    assert ops == [("r", 1), ("r", 1), ("r", 2)]  # the first snapshot, then a new one with both rows


def test_snapshot_falls_back_to_table_locks(
    binlog_server: MySQLFamilyServer, kafka_broker: Any, binlog_database: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A user without RELOAD may not take the global read lock: the snapshot locks the captured tables instead."""
    db = binlog_database
    user = f"nr{db[-8:]}"
    binlog_server.execute(
        f"CREATE USER '{user}'@'%' IDENTIFIED BY 'pw'",
        f"GRANT SELECT, LOCK TABLES, SHOW DATABASES, REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO '{user}'@'%'",
    )
    try:
        run_sql(binlog_server, db, "CREATE TABLE t (id INT PRIMARY KEY)", "INSERT INTO t VALUES (1), (2)")
        doc = mysql_document(
            binlog_server, kafka_broker.bootstrap_servers, db, **{"database.user": user, "database.password": "pw"}
        )
        topic = f"{doc['name']}.{db}.t"
        caplog.set_level("INFO", logger="cdc.mysql.snapshot")
        with EngineThread(doc):
            wait_for_records(kafka_broker.bootstrap_servers, topic, 2)
            run_sql(binlog_server, db, "INSERT INTO t VALUES (3)")
            records = wait_for_records(kafka_broker.bootstrap_servers, topic, 3)
        assert "snapshot: table locks taken on 1 table(s)" in caplog.text
        ops = sorted(json.loads(v)["payload"]["op"] for _, v in records if v)
        assert ops == ["c", "r", "r"]
    finally:
        binlog_server.execute(f"DROP USER '{user}'@'%'")


def test_server_id_in_use(
    binlog_server: MySQLFamilyServer, kafka_broker: Any, binlog_database: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Two connectors with one database.server.id: one of them says so, naming the property."""
    db = binlog_database
    run_sql(binlog_server, db, "CREATE TABLE t (id INT PRIMARY KEY)", "INSERT INTO t VALUES (1)")
    first = mysql_document(binlog_server, kafka_broker.bootstrap_servers, db)
    second = mysql_document(
        binlog_server,
        kafka_broker.bootstrap_servers,
        db,
        **{"database.server.id": first["config"]["database.server.id"]},
    )
    caplog.set_level("WARNING")
    engine_a = EngineThread(first).start()
    try:
        wait_for_records(kafka_broker.bootstrap_servers, f"{first['name']}.{db}.t", 1)
        engine_b = EngineThread(second).start()
        try:

            def reported() -> bool:
                errors = [e for e in (engine_a.error, engine_b.error) if e is not None]
                return "database.server.id" in caplog.text + " ".join(map(str, errors))

            wait_for(reported, 60, what="a message naming database.server.id")
        finally:
            engine_b.runtime.request_stop()
            engine_b.wait_finished(60)
    finally:
        engine_a.runtime.request_stop()
        engine_a.wait_finished(60)


def test_partial_json_update_stops_instead_of_dropping(
    mysql_server: MySQLFamilyServer, kafka_broker: Any, tmp_path: Path
) -> None:
    """MySQL only: a session with binlog_row_value_options=PARTIAL_JSON writes updates whose after image holds only
    the JSON diff. They used to be skipped without a word (a lost update); now the engine stops with the setting to
    change, and ``validate`` flags the global setting."""
    db = f"pj_{int(time.time() * 1000) % 10**8}"
    mysql_server.create_database(db)
    try:
        _partial_json_case(mysql_server, kafka_broker, tmp_path, db)
    finally:
        # Other tests on this server compare whole-server schema change topics (the conformance test).
        mysql_server.drop_database(db)


def _partial_json_case(mysql_server: MySQLFamilyServer, kafka_broker: Any, tmp_path: Path, db: str) -> None:
    run_sql(mysql_server, db, "CREATE TABLE t (id INT PRIMARY KEY, j JSON)", "INSERT INTO t VALUES (1, '{\"a\": 1}')")
    doc = mysql_document(mysql_server, kafka_broker.bootstrap_servers, db)
    engine = EngineThread(doc).start()
    try:
        wait_for_records(kafka_broker.bootstrap_servers, f"{doc['name']}.{db}.t", 1)
        conn = mysql_server.connect(db)
        try:
            with conn.cursor() as cur:
                cur.execute("SET SESSION binlog_row_value_options='PARTIAL_JSON'")
                cur.execute("UPDATE t SET j = JSON_SET(j, '$.a', 2) WHERE id = 1")
        finally:
            conn.close()
        wait_for(lambda: not engine.running, 60, what="the engine to stop")
        assert engine.error is not None and "binlog_row_value_options" in str(engine.error), engine.error
    finally:
        if engine.running:
            engine.stop()
    mysql_server.execute("SET GLOBAL binlog_row_value_options='PARTIAL_JSON'")
    try:
        result = _cli("validate", "--config", _config_file(tmp_path, doc), "--skip-kafka")
    finally:
        mysql_server.execute("SET GLOBAL binlog_row_value_options=''")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "FAIL binlog_row_value_options" in result.stdout, result.stdout

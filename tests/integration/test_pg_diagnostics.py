"""One clear message for what an operator gets wrong: broker down, slot held by another process, a filter matching
nothing, a user without REPLICATION, SSL required by the client but not offered, a stop during start-up retries."""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from engine_helpers import REPO, EngineProcess, connector_document, execute

from servers.postgres import find_postgres_bindir
from snapshot.progress import SnapshotProgress


def _cli(*args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cdc.cli", *args], cwd=REPO, capture_output=True, text=True, timeout=timeout
    )


def _config(tmp_path: Path, doc: dict[str, Any]) -> str:
    import json

    path = tmp_path / "connector.json"
    path.write_text(json.dumps(doc))
    return str(path)


def test_broker_down_is_one_message(postgres_server: Any, pg_database: str, tmp_path: Path) -> None:
    execute(postgres_server.dsn(pg_database), "CREATE TABLE t (id int PRIMARY KEY)")
    config = _config(tmp_path, connector_document(postgres_server, "127.0.0.1:9", pg_database))
    validate = _cli("validate", "--config", config)
    assert validate.returncode == 1
    output = validate.stdout + validate.stderr
    assert "FAIL kafka: cannot reach Kafka at 127.0.0.1:9" in output
    assert "rdkafka" not in output and len(output.splitlines()) < 20, output
    offsets = _cli("offsets", "--config", config)
    assert offsets.returncode == 1
    assert offsets.stderr.count("\n") == 1 and "cannot reach Kafka at 127.0.0.1:9" in offsets.stderr, offsets.stderr


def test_slot_held_by_another_process(
    postgres_server: Any, kafka_broker: Any, pg_database: str, tmp_path: Path
) -> None:
    dsn = postgres_server.dsn(pg_database)
    execute(dsn, "CREATE TABLE t (id int PRIMARY KEY)")
    doc = connector_document(postgres_server, kafka_broker.bootstrap_servers, pg_database)
    slot = doc["config"]["slot.name"]
    execute(dsn, f"SELECT pg_create_logical_replication_slot('{slot}', 'pgoutput')")
    holder = subprocess.Popen(
        [
            str(find_postgres_bindir() / "pg_recvlogical"),
            "-d",
            dsn,
            "-S",
            slot,
            "--start",
            "-o",
            "proto_version=1",
            "-o",
            f"publication_names=pub_{slot}",
            "-f",
            "/dev/null",
        ],
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(2)
        config = _config(tmp_path, doc)
        validate = _cli("validate", "--config", config, "--skip-kafka")
        assert validate.returncode == 1
        assert f"FAIL replication slot in use: {slot} is held by PID" in validate.stdout, validate.stdout
        assert "application_name='pg_recvlogical'" in validate.stdout

        # start says what holds the slot while it waits; a SIGTERM then ends it with 130 (start-up unfinished).
        engine = EngineProcess(doc, tmp_path).start()
        try:
            engine.wait_logged("is held by PID", timeout=60)
            code = engine.terminate(30)
        finally:
            engine.kill_if_running()
        assert "application_name='pg_recvlogical'" in engine.log()
        assert code == 130, engine.log()
    finally:
        holder.terminate()
        holder.wait(10)


def test_filter_matching_nothing_warns_at_start(
    postgres_server: Any, kafka_broker: Any, pg_database: str, tmp_path: Path
) -> None:
    execute(postgres_server.dsn(pg_database), "CREATE TABLE t (id int PRIMARY KEY)")
    doc = connector_document(
        postgres_server, kafka_broker.bootstrap_servers, pg_database, **{"table.include.list": "public.typo"}
    )
    engine = EngineProcess(doc, tmp_path).start()
    try:
        engine.wait_logged("no table matches the filters", timeout=60)
        code = engine.terminate(30)
    finally:
        engine.kill_if_running()
    assert code == 0, engine.log()


def test_user_without_replication_is_told_so_first(
    postgres_server: Any, kafka_broker: Any, pg_database: str, tmp_path: Path
) -> None:
    dsn = postgres_server.dsn(pg_database)
    execute(dsn, "CREATE TABLE t (id int PRIMARY KEY)")
    execute(dsn, "DROP ROLE IF EXISTS cdc_plain", "CREATE ROLE cdc_plain LOGIN")
    doc = connector_document(postgres_server, kafka_broker.bootstrap_servers, pg_database)
    doc["config"]["database.user"] = "cdc_plain"
    engine = EngineProcess(doc, tmp_path).start()
    assert engine.proc is not None
    try:
        code = engine.proc.wait(60)
    finally:
        engine.kill_if_running()
    log = engine.log()
    assert code == 1, log
    assert "ALTER ROLE cdc_plain REPLICATION" in log and "CREATE on the database" not in log


def test_sslmode_require_without_server_ssl(
    postgres_server: Any, kafka_broker: Any, pg_database: str, tmp_path: Path
) -> None:
    doc = connector_document(
        postgres_server, kafka_broker.bootstrap_servers, pg_database, **{"database.sslmode": "require"}
    )
    validate = _cli("validate", "--config", _config(tmp_path, doc), "--skip-kafka")
    assert validate.returncode == 1
    assert "does not accept SSL" in validate.stdout and "database.sslmode=prefer" in validate.stdout
    assert "check database.hostname" not in validate.stdout
    engine = EngineProcess(doc, tmp_path).start()
    assert engine.proc is not None
    try:
        code = engine.proc.wait(60)  # fatal, not retried
    finally:
        engine.kill_if_running()
    assert code == 1 and "does not accept SSL" in engine.log(), engine.log()


def test_progress_without_an_estimate_does_not_say_about_zero(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="cdc.snapshot")
    progress = SnapshotProgress(enabled=False, log_interval_s=0)
    progress.start_table("public.never_analyzed", 0)
    progress.advance(3)
    progress.finish_table()
    text = caplog.text
    assert "about 0" not in text
    assert "row count not estimated yet" in text and "3 rows so far" in text

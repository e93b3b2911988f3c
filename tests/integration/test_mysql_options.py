"""Connector options against the real servers (MariaDB 10.11 and MySQL 9.x): ``include.query``,
``snapshot.locking.mode`` (extended, none), ``snapshot.mode`` (initial_only, always, no_data) and
``gtid.source.includes``/``excludes``. Semantics follow Debezium 3.6's MySQL/MariaDB connectors (their source
code where the documentation is silent)."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import orjson
from engine_helpers import EngineProcess, EngineThread, payloads, read_topic, wait_for_records
from mysql_helpers import mysql_document, run_sql
from topic_tally import TopicTally

from cdc.kafka.offset_store import OffsetStore
from servers import MySQLFamilyServer


def _stored_offset(bootstrap: str, doc: dict[str, Any]) -> dict[str, Any] | None:
    store = OffsetStore(bootstrap, "connect-offsets", 1)
    try:
        return store.read(doc["name"], doc["config"]["topic.prefix"])
    finally:
        store.close()


def _ops(records: list[tuple[bytes | None, bytes | None]]) -> list[tuple[str, int]]:
    return [(p["op"], (p["after"] or p["before"])["id"]) for p in payloads(records) if p]


def test_include_query_fills_source_query(
    binlog_server: MySQLFamilyServer, kafka_broker: Any, binlog_database: str
) -> None:
    """``include.query=true``: streamed changes carry the statement that made them (MySQL: Rows_query events,
    ``binlog_rows_query_log_events=ON``; MariaDB: annotate-rows events, ``binlog_annotate_row_events=ON``);
    snapshot records have none, as in Debezium."""
    db = binlog_database
    run_sql(binlog_server, db, "CREATE TABLE q (id INT PRIMARY KEY, v VARCHAR(20))", "INSERT INTO q VALUES (1, 'a')")
    bootstrap = kafka_broker.bootstrap_servers
    doc = mysql_document(binlog_server, bootstrap, db, **{"include.query": True})
    topic = f"{doc['name']}.{db}.q"
    session = (
        "SET SESSION binlog_annotate_row_events = ON"
        if binlog_server.flavor == "mariadb"
        else "SET SESSION binlog_rows_query_log_events = ON"
    )
    insert = "INSERT INTO q VALUES (2, 'b'), (3, 'c') /* two rows */"
    update = "UPDATE q SET v = 'z' WHERE id IN (1, 2)"
    with EngineThread(doc):
        wait_for_records(bootstrap, topic, 1)
        run_sql(binlog_server, db, session, insert, update)
        records = wait_for_records(bootstrap, topic, 5)
    by_op = [(p["op"], p["after"]["id"], p["source"]["query"], p["source"]["row"]) for p in payloads(records) if p]
    assert sorted(by_op) == sorted(
        [("r", 1, None, 0), ("c", 2, insert, 0), ("c", 3, insert, 1), ("u", 1, update, 0), ("u", 2, update, 1)]
    ), by_op


def test_include_query_off_leaves_query_null(
    binlog_server: MySQLFamilyServer, kafka_broker: Any, binlog_database: str
) -> None:
    """The default (``include.query=false``): no query even when the server logs it."""
    db = binlog_database
    run_sql(binlog_server, db, "CREATE TABLE q (id INT PRIMARY KEY)")
    bootstrap = kafka_broker.bootstrap_servers
    doc = mysql_document(binlog_server, bootstrap, db, **{"snapshot.mode": "no_data"})
    topic = f"{doc['name']}.{db}.q"
    session = (
        "SET SESSION binlog_annotate_row_events = ON"
        if binlog_server.flavor == "mariadb"
        else "SET SESSION binlog_rows_query_log_events = ON"
    )
    with EngineThread(doc) as engine:
        _wait_streaming(engine)
        run_sql(binlog_server, db, session, "INSERT INTO q VALUES (1)")
        records = wait_for_records(bootstrap, topic, 1)
    assert [p["source"]["query"] for p in payloads(records) if p] == [None]


def _wait_streaming(engine: EngineThread, timeout: float = 60) -> None:
    """Wait until the source started: its snapshot position (or stored offset) is fixed, so changes committed
    from now on are streamed."""
    deadline = time.monotonic() + timeout
    while not engine.runtime.started:
        if engine.error is not None:
            raise engine.error
        assert time.monotonic() < deadline, "the engine did not start"
        time.sleep(0.05)


SNAPSHOT_ROWS = 20_000
FILL = (
    "INSERT INTO big (id, pad) SELECT a.n + 100 * b.n + 10000 * c.n, REPEAT('x', 200) FROM "
    "(SELECT 0 n UNION ALL SELECT 1) c, {h} b, {h} a"
)
HUNDRED = (
    "(SELECT d1.d + 10 * d2.d AS n FROM (SELECT 0 d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 "
    "UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL "
    "SELECT 9) d1, (SELECT 0 d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 "
    "UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9) d2)"
)


def op_and_id(_key: bytes | None, value: bytes | None) -> tuple[str, int] | None:
    if value is None:
        return None
    payload = orjson.loads(value)["payload"]
    return payload["op"], int((payload["after"] or payload["before"])["id"])


def _waiting_for_lock(server: MySQLFamilyServer, statement: str) -> bool:
    """Whether a session runs ``statement`` and waits for a global read lock (MySQL: "Waiting for global read
    lock"; MariaDB, whose FLUSH TABLES WITH READ LOCK is a backup lock: "Waiting for backup lock")."""
    rows = server.execute(
        "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE STATE LIKE 'Waiting for %lock%' AND INFO = '"
        + statement.replace("'", "''")
        + "'"
    )
    return bool(rows and int(rows[0][0]) > 0)


def test_snapshot_locking_modes(
    binlog_server: MySQLFamilyServer, kafka_broker: Any, binlog_database: str, tmp_path: Path
) -> None:
    """``extended``: the global read lock is held while the snapshot reads its rows, so a write issued then waits
    for the lock (seen in the server's process list) and is streamed afterwards, not snapshotted. ``none``: no
    lock at all: the same write goes through while the snapshot still reads rows, and is streamed."""
    db = binlog_database
    run_sql(binlog_server, db, "CREATE TABLE big (id INT PRIMARY KEY, pad VARCHAR(200))", FILL.format(h=HUNDRED))
    bootstrap = kafka_broker.bootstrap_servers
    for k, (mode, row_id) in enumerate((("extended", 1_000_001), ("none", 1_000_002))):
        in_snapshot = SNAPSHOT_ROWS + k  # the first round's write is in the second round's snapshot
        doc = mysql_document(
            binlog_server,
            bootstrap,
            db,
            **{"snapshot.locking.mode": mode, "snapshot.fetch.size": 500},
            worker={"producer.compression.type": "none"},
        )
        topic = f"{doc['name']}.{db}.big"
        insert = f"INSERT INTO big VALUES ({row_id}, 'during')"
        engine = EngineProcess(doc, tmp_path).start()
        writer = threading.Thread(target=run_sql, args=(binlog_server, db, insert), daemon=True)
        tally: TopicTally | None = None
        waited_for_lock = False
        try:
            engine.wait_logged("snapshot of 1 table(s)")
            writer.start()
            deadline = time.monotonic() + 30
            while writer.is_alive() and time.monotonic() < deadline and not waited_for_lock:
                waited_for_lock = _waiting_for_lock(binlog_server, insert)
                time.sleep(0.05)
            snapshot_done_when_seen = "snapshot completed" in engine.log()
            writer.join(60)
            assert not writer.is_alive(), "the write never went through"
            log_at_write = engine.log()
            engine.wait_logged("streaming the binlog")
            tally = TopicTally(bootstrap, topic, summary=op_and_id)
            written = ("c", row_id)
            tally.wait_until(lambda t: written in t.counts, 120, "the write")  # noqa: B023 - used in this iteration
            tally.wait_until(lambda t: t.distinct >= in_snapshot + 1, 120, "every snapshot row")  # noqa: B023
            assert engine.terminate() == 0
            tally.drain_to_end()
            counts = tally.counts
        finally:
            engine.kill_if_running()
            if tally is not None:
                tally.close()
        assert ("r", row_id) not in counts and counts[("c", row_id)] == 1, mode
        assert sum(1 for op, _ in counts if op == "r") == in_snapshot, mode
        log = engine.log()
        if mode == "extended":
            assert "lock global)" in log and waited_for_lock and not snapshot_done_when_seen, log[-2000:]
            assert log.index("snapshot: lock released") > log.index("snapshot of 1 table(s)")
        else:
            assert "lock none)" in log and "lock taken" not in log and "lock released" not in log
            assert not waited_for_lock and "snapshot completed" not in log_at_write, log_at_write[-2000:]
        print(f"\n[{binlog_server.flavor} snapshot.locking.mode={mode}] write waited for the lock: {waited_for_lock}")


def test_snapshot_mode_initial_only(binlog_server: MySQLFamilyServer, kafka_broker: Any, binlog_database: str) -> None:
    """``initial_only``: the snapshot, then the connector stops streaming nothing; a restart does nothing."""
    db = binlog_database
    run_sql(binlog_server, db, "CREATE TABLE t (id INT PRIMARY KEY)", "INSERT INTO t VALUES (1), (2)")
    bootstrap = kafka_broker.bootstrap_servers
    doc = mysql_document(binlog_server, bootstrap, db, **{"snapshot.mode": "initial_only"})
    topic = f"{doc['name']}.{db}.t"
    for k in range(2):
        engine = EngineThread(doc).start()
        engine.wait_finished(60)  # the runtime returns once the source says it is finished
        assert not engine.running, "initial_only did not finish"
        engine.stop()
        run_sql(binlog_server, db, f"INSERT INTO t VALUES ({3 + k})")  # never streamed
    time.sleep(1.0)
    records = read_topic(bootstrap, topic)
    assert sorted(_ops(records)) == [("r", 1), ("r", 2)]
    offset = _stored_offset(bootstrap, doc)
    assert offset is not None and offset.get("last_snapshot_record") is True, offset


def test_snapshot_mode_always(binlog_server: MySQLFamilyServer, kafka_broker: Any, binlog_database: str) -> None:
    """``always``: a snapshot at every start (even with a stored offset), then streaming from its position."""
    db = binlog_database
    run_sql(binlog_server, db, "CREATE TABLE t (id INT PRIMARY KEY)", "INSERT INTO t VALUES (1)")
    bootstrap = kafka_broker.bootstrap_servers
    doc = mysql_document(binlog_server, bootstrap, db, **{"snapshot.mode": "always"})
    topic = f"{doc['name']}.{db}.t"
    with EngineThread(doc):
        wait_for_records(bootstrap, topic, 1)
        run_sql(binlog_server, db, "INSERT INTO t VALUES (2)")
        wait_for_records(bootstrap, topic, 2)
    run_sql(binlog_server, db, "INSERT INTO t VALUES (3)")  # while stopped: part of the next snapshot
    with EngineThread(doc):
        wait_for_records(bootstrap, topic, 5)
        run_sql(binlog_server, db, "INSERT INTO t VALUES (4)")
        records = wait_for_records(bootstrap, topic, 6)
    # (topics have several partitions: order holds per key only)
    assert sorted(_ops(records)) == [("c", 2), ("c", 4), ("r", 1), ("r", 1), ("r", 2), ("r", 3)]


def test_snapshot_mode_no_data(binlog_server: MySQLFamilyServer, kafka_broker: Any, binlog_database: str) -> None:
    """``no_data``: no rows read, but the schemas are: the history holds the snapshot's table definitions, the
    schema change topic announces the tables, and streaming starts at the snapshot's position."""
    db = binlog_database
    run_sql(binlog_server, db, "CREATE TABLE t (id INT PRIMARY KEY, v INT)", "INSERT INTO t VALUES (1, 1)")
    bootstrap = kafka_broker.bootstrap_servers
    doc = mysql_document(binlog_server, bootstrap, db, **{"snapshot.mode": "no_data"})
    topic = f"{doc['name']}.{db}.t"
    with EngineThread(doc) as engine:
        _wait_streaming(engine)
        run_sql(binlog_server, db, "INSERT INTO t VALUES (2, 2)", "UPDATE t SET v = 5 WHERE id = 1")
        records = wait_for_records(bootstrap, topic, 2)
    assert sorted(_ops(records)) == [("c", 2), ("u", 1)]
    history = [json.loads(v) for _, v in read_topic(bootstrap, doc["config"]["schema.history.internal.kafka.topic"])]
    assert history and history[0]["ddl"] == "-- snapshot", history[:1]
    changes = [json.loads(v)["payload"] for _, v in read_topic(bootstrap, doc["config"]["topic.prefix"]) if v]
    assert any(c["ddl"].startswith("CREATE TABLE") and c["tableChanges"][0]["id"].endswith('"t"') for c in changes)
    offset = _stored_offset(bootstrap, doc)
    assert offset is not None and "snapshot" not in offset, offset


def _foreign_source(server: MySQLFamilyServer) -> tuple[list[str], str]:
    """Statements committing one row as a transaction from another GTID source, and that source's regex.

    MySQL: ``SET gtid_next`` to a made-up server UUID (the way a replica applies another server's transaction);
    MariaDB: another ``gtid_domain_id`` (source ``domain-server``)."""
    if server.flavor == "mariadb":
        return [
            "SET SESSION gtid_domain_id = 7",
            "INSERT INTO t VALUES (100)",
            "SET SESSION gtid_domain_id = 0",
        ], "7-.*"
    uuid = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
    return [
        f"SET gtid_next = '{uuid}:1'",
        "BEGIN",
        "INSERT INTO t VALUES (100)",
        "COMMIT",
        "SET gtid_next = 'AUTOMATIC'",
    ], "aaaaaaaa-.*"


def test_gtid_source_excludes_filters_dml_and_offsets(
    binlog_server: MySQLFamilyServer, kafka_broker: Any, binlog_database: str
) -> None:
    """``gtid.source.excludes``: row changes of transactions from an excluded GTID source are not emitted
    (Debezium's default ``gtid.source.filter.dml.events=true``), and (MySQL) the stored GTID set leaves that
    source out. ``gtid.source.includes`` naming only the server's own source does the same; with
    ``gtid.source.filter.dml.events=false`` the changes are emitted."""
    db = binlog_database
    run_sql(binlog_server, db, "CREATE TABLE t (id INT PRIMARY KEY)")
    bootstrap = kafka_broker.bootstrap_servers
    foreign, pattern = _foreign_source(binlog_server)
    own = binlog_server.execute(
        "SELECT CONCAT(@@gtid_domain_id, '-', @@server_id)"
        if binlog_server.flavor == "mariadb"
        else "SELECT @@server_uuid"
    )[0][0]
    cases = [
        ({"gtid.source.excludes": pattern}, False),
        ({"gtid.source.includes": own}, False),
        ({"gtid.source.excludes": pattern, "gtid.source.filter.dml.events": False}, True),
    ]
    for n, (props, foreign_emitted) in enumerate(cases):
        base = 1000 * (n + 1)
        doc = mysql_document(binlog_server, bootstrap, db, **{"snapshot.mode": "no_data", **props})
        topic = f"{doc['name']}.{db}.t"
        statements = [s.replace("VALUES (100)", f"VALUES ({base + 100})") for s in foreign]
        if binlog_server.flavor == "mysql":
            statements = [s.replace(":1'", f":{n + 1}'") for s in statements]
        with EngineThread(doc) as engine:
            _wait_streaming(engine)
            run_sql(binlog_server, db, f"INSERT INTO t VALUES ({base + 1})")
            run_sql(binlog_server, db, *statements)
            run_sql(binlog_server, db, f"INSERT INTO t VALUES ({base + 2})")
            records = wait_for_records(bootstrap, topic, 3 if foreign_emitted else 2)
            time.sleep(1.0)
        records = read_topic(bootstrap, topic)
        expected = [("c", base + 1), ("c", base + 100), ("c", base + 2)]
        if not foreign_emitted:
            expected.remove(("c", base + 100))
        assert sorted(_ops(records)) == sorted(expected), (props, _ops(records))
        offset = _stored_offset(bootstrap, doc)
        assert offset is not None and offset.get("gtids"), offset
        if binlog_server.flavor == "mysql":
            assert ("aaaaaaaa-" in offset["gtids"]) is False, offset
            assert own in offset["gtids"], offset

"""Restarts of the MySQL / MariaDB connector: GTID resume without replay, ALTER TABLE across a restart, and a
SIGKILL and a SIGTERM inside one 100k-row transaction (no loss; duplicates only past the stored offset after
the kill, none after the clean stop). Against MariaDB 10.11 and MySQL 9.x."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from engine_helpers import EngineProcess, EngineThread, payloads, read_topic, wait_for_records
from mysql_helpers import mysql_document, run_sql
from topic_tally import TopicTally

from cdc.kafka.offset_store import OffsetStore
from servers import MySQLFamilyServer, MySQLServer, mysql_unavailable_reason


def _stored_offset(bootstrap: str, doc: dict[str, Any]) -> dict[str, Any]:
    store = OffsetStore(bootstrap, "connect-offsets", 1)
    try:
        offset = store.read(doc["name"], doc["config"]["topic.prefix"])
    finally:
        store.close()
    assert offset is not None
    return offset


def test_gtid_resume_without_replay(binlog_server: MySQLFamilyServer, kafka_broker: Any, binlog_database: str) -> None:
    db = binlog_database
    run_sql(binlog_server, db, "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20))", "INSERT INTO t VALUES (1, 'a')")
    doc = mysql_document(binlog_server, kafka_broker.bootstrap_servers, db)
    topic = f"{doc['name']}.{db}.t"
    with EngineThread(doc):
        wait_for_records(kafka_broker.bootstrap_servers, topic, 1)
        run_sql(binlog_server, db, "INSERT INTO t VALUES (2, 'b')")
        wait_for_records(kafka_broker.bootstrap_servers, topic, 2)
    offset = _stored_offset(kafka_broker.bootstrap_servers, doc)
    assert offset.get("gtids"), offset  # GTIDs are on in both flavours: the resume below goes by GTID set
    assert "event" not in offset and "snapshot" not in offset
    # Changes while the connector is down, in several transactions and a multi-statement one.
    run_sql(binlog_server, db, "INSERT INTO t VALUES (3, 'c')", "UPDATE t SET v = 'bb' WHERE id = 2")
    conn = binlog_server.connect(db)
    try:
        with conn.cursor() as cur:
            cur.execute("BEGIN")
            cur.execute("INSERT INTO t VALUES (4, 'd')")
            cur.execute("DELETE FROM t WHERE id = 1")
            cur.execute("COMMIT")
    finally:
        conn.close()
    with EngineThread(doc) as engine:
        records = wait_for_records(kafka_broker.bootstrap_servers, topic, 7)  # r, c, c, u, c, d, tombstone
        time.sleep(1.5)
        records = read_topic(kafka_broker.bootstrap_servers, topic)
        assert engine.runtime.records_sent == 5
    ops = [(p["op"], (p["after"] or p["before"])["id"]) if p else None for p in payloads(records)]
    assert sorted(ops, key=str) == sorted([("r", 1), ("c", 2), ("c", 3), ("u", 2), ("c", 4), ("d", 1), None], key=str)
    resumed = _stored_offset(kafka_broker.bootstrap_servers, doc)
    assert resumed["gtids"] != offset["gtids"]


def test_alter_table_before_and_after_restart(
    binlog_server: MySQLFamilyServer, kafka_broker: Any, binlog_database: str
) -> None:
    db = binlog_database
    run_sql(
        binlog_server,
        db,
        "CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(20) NOT NULL)",
        "INSERT INTO items VALUES (0, 'zero')",
    )
    doc = mysql_document(binlog_server, kafka_broker.bootstrap_servers, db)
    topic = f"{doc['name']}.{db}.items"
    bootstrap = kafka_broker.bootstrap_servers
    with EngineThread(doc):
        wait_for_records(bootstrap, topic, 1)  # the snapshot is done: what follows is streamed
        run_sql(
            binlog_server,
            db,
            "INSERT INTO items VALUES (1, 'one')",
            "ALTER TABLE items ADD COLUMN price DECIMAL(8,2) NOT NULL DEFAULT 0",
            "INSERT INTO items VALUES (2, 'two', 2.50)",
        )
        wait_for_records(bootstrap, topic, 2)
    # While stopped: rows with the current shape, then a column dropped, then rows with the new shape. The live
    # catalog now lacks `name`; the restart must still read the first rows with it.
    run_sql(
        binlog_server,
        db,
        "INSERT INTO items VALUES (3, 'three', 3.00)",
        "ALTER TABLE items DROP COLUMN name",
        "INSERT INTO items VALUES (4, 4.00)",
        "UPDATE items SET price = 5 WHERE id = 1",
    )
    with EngineThread(doc):
        records = wait_for_records(bootstrap, topic, 6)
    rows = {p["after"]["id"]: p for p in payloads(records) if p and p["op"] in ("c", "r")}
    assert rows[1]["after"] == {"id": 1, "name": "one"}
    assert rows[2]["after"] == {"id": 2, "name": "two", "price": "APo="}  # 2.50 as Decimal(8,2) bytes
    assert rows[3]["after"] == {"id": 3, "name": "three", "price": "ASw="}
    assert rows[4]["after"] == {"id": 4, "price": "AZA="}
    second = next(json.loads(v) for _, v in records if v and json.loads(v)["payload"]["after"]["id"] == 2)
    fields = {f["field"]: f for f in second["schema"]["fields"][1]["fields"]}
    assert fields["price"]["parameters"] == {"scale": "2", "connect.decimal.precision": "8"}
    updates = [p for p in payloads(records) if p and p["op"] == "u"]
    assert updates[0]["before"] == {"id": 1, "price": "AA=="} and updates[0]["after"] == {"id": 1, "price": "AfQ="}
    history = [json.loads(v) for _, v in read_topic(bootstrap, doc["config"]["schema.history.internal.kafka.topic"])]
    ddl = [h["ddl"] for h in history]
    assert any("ADD COLUMN price" in d for d in ddl) and any("DROP COLUMN name" in d for d in ddl)
    changes = [
        json.loads(v)["payload"] for k, v in read_topic(bootstrap, doc["config"]["topic.prefix"]) if v is not None
    ]
    assert any("DROP COLUMN name" in c["ddl"] for c in changes)


BIG_ROWS = 100_000
DIGITS = "(SELECT 0 d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL " + (
    "SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9)"
)
BIG_INSERT = (
    "INSERT INTO orders (id, customer_id, amount, status, note, created_at) "
    "SELECT n, n * 7919 % 100000, (n * 31 % 1000000) / 100, ELT(1 + n % 5, 'new', 'paid', 'shipped', 'done', 'x'), "
    "IF(n % 3 = 0, NULL, CONCAT('order note ', n * 7919)), TIMESTAMP '2024-01-01 00:00:00' + INTERVAL n SECOND "
    f"FROM (SELECT 1 + a.d + 10 * b.d + 100 * c.d + 1000 * e.d + 10000 * f.d AS n FROM {DIGITS} a, {DIGITS} b, "
    f"{DIGITS} c, {DIGITS} e, {DIGITS} f) AS g"
)
ORDERS = (
    "CREATE TABLE orders (id BIGINT PRIMARY KEY, customer_id INT NOT NULL, amount DECIMAL(12,2) NOT NULL, "
    "status VARCHAR(16) NOT NULL, note VARCHAR(80), created_at DATETIME(6) NOT NULL)"
)


def id_and_position(key: bytes | None, value: bytes | None) -> tuple[int, int] | None:
    """(row id, ``source.pos`` of its rows event) of a change record; None for tombstones."""
    if value is None:
        return None
    payload = orjson.loads(value)["payload"]
    return int(payload["after"]["id"]), int(payload["source"]["pos"])


def test_kill9_and_sigterm_inside_large_transaction(
    binlog_server: MySQLFamilyServer, kafka_broker: Any, binlog_database: str, tmp_path: Path
) -> None:
    """One 100k-row transaction, two stops inside it. SIGKILL at a quarter: the restart skips the row events the
    stored offset counts (``event``) and re-sends only those after it, so 0 rows are missing and every duplicate
    lies in a rows event past the stored ``event`` count. SIGTERM at about two thirds: the final offset lies inside
    the transaction and the restart repeats nothing (no duplicate beyond those of the kill)."""
    db = binlog_database
    run_sql(binlog_server, db, ORDERS)
    bootstrap = kafka_broker.bootstrap_servers
    doc = mysql_document(
        binlog_server,
        bootstrap,
        db,
        **{"snapshot.mode": "no_data"},
        worker={"offset.flush.interval.ms": 300, "producer.compression.type": "none"},
    )
    topic = f"{doc['name']}.{db}.orders"
    engine = EngineProcess(doc, tmp_path).start()
    tally: TopicTally | None = None
    try:
        engine.wait_logged("streaming the binlog")
        run_sql(binlog_server, db, BIG_INSERT)
        tally = TopicTally(bootstrap, topic, summary=id_and_position)
        tally.wait_until(lambda t: t.distinct >= BIG_ROWS // 4, 120, "a quarter of the rows", step_s=0.1)
        engine.kill()
        killed_at = _stored_offset(bootstrap, doc)
        tally.drain_to_end()
        at_kill = tally.distinct
        engine.start()
        # SIGTERM once the kill's window was re-sent and the engine went on past it.
        tally.wait_until(lambda t: t.distinct >= max(at_kill + 5000, 2 * BIG_ROWS // 3), 120, "two thirds", step_s=0.1)
        assert engine.terminate() == 0
        termed_at = _stored_offset(bootstrap, doc)
        tally.drain_to_end()
        at_term, duplicates_at_term = tally.distinct, tally.duplicates
        engine.start()
        tally.wait_until(lambda t: t.distinct >= BIG_ROWS, 300, f"{BIG_ROWS} rows")
        assert engine.terminate() == 0
        tally.drain_to_end()
        counts = tally.counts
    finally:
        engine.kill_if_running()
        if tally is not None:
            tally.close()
    ids = Counter(i for i, _ in counts.elements())
    missing = sum(1 for i in range(1, BIG_ROWS + 1) if i not in ids)
    duplicated = {key: c for key, c in counts.items() if c > 1}
    # The rows events of the transaction in binlog order; the first killed_at["event"] ones were covered by the
    # offset stored before the kill, so none of their rows may come twice.
    events = sorted({pos for _, pos in counts})
    killed_event = int(killed_at.get("event", 0))
    covered = set(events[:killed_event])
    print(
        f"\n[{binlog_server.flavor} large-tx] {len(events)} rows events; SIGKILL at {at_kill} rows, offset "
        f"{killed_at}; SIGTERM at {at_term} rows, offset {termed_at}: {missing} missing, {len(duplicated)} "
        f"duplicated rows (all after the stored event {killed_event}: {not covered & {p for _, p in duplicated}})"
    )
    assert missing == 0
    assert not covered & {pos for _, pos in duplicated}, "a row the stored offset covered was re-sent"
    assert all(c == 2 for c in duplicated.values()), "a row was re-sent more than once"
    assert len(duplicated) <= at_kill - sum(1 for _, pos in counts if pos in covered)
    assert duplicates_at_term == len(duplicated), "the clean stop repeated rows"
    assert int(termed_at.get("event", 0)) > killed_event, (
        f"the SIGTERM offset is not inside the transaction: {termed_at}"
    )
    log = engine.log()
    assert f"skipping {termed_at['event']} delivered row event(s)" in log
    if killed_event:  # the kill may land before the first offset inside the transaction was stored
        assert f"skipping {killed_event} delivered row event(s)" in log


@pytest.fixture(scope="module")
def mysql_without_gtids() -> Iterator[MySQLFamilyServer]:
    """MySQL 9.x with gtid_mode=OFF: the connector resumes by binlog file/position."""
    reason = mysql_unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    server = MySQLServer(gtid=False)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_file_position_resume_inside_transaction(
    mysql_without_gtids: MySQLFamilyServer, kafka_broker: Any, tmp_path: Path
) -> None:
    """Without GTIDs, offsets are file/pos: a stop inside a transaction and changes made while stopped (in a new
    binlog file after FLUSH BINARY LOGS) resume exactly: every row once."""
    server = mysql_without_gtids
    server.create_database("nogtid")
    db = "nogtid"
    run_sql(server, db, ORDERS)
    bootstrap = kafka_broker.bootstrap_servers
    doc = mysql_document(
        server,
        bootstrap,
        db,
        **{"snapshot.mode": "no_data"},
        worker={"offset.flush.interval.ms": 300, "producer.compression.type": "none"},
    )
    topic = f"{doc['name']}.{db}.orders"
    engine = EngineProcess(doc, tmp_path).start()
    tally: TopicTally | None = None
    try:
        engine.wait_logged("streaming the binlog from binlog.")
        run_sql(server, db, BIG_INSERT)
        tally = TopicTally(bootstrap, topic)
        tally.wait_until(lambda t: t.distinct >= BIG_ROWS // 4, 120, "a quarter of the rows", step_s=0.1)
        assert engine.terminate() == 0
        offset = _stored_offset(bootstrap, doc)
        assert "gtids" not in offset and int(offset.get("event", 0)) > 0, offset
        run_sql(
            server,
            db,
            "FLUSH BINARY LOGS",
            f"INSERT INTO orders VALUES ({BIG_ROWS + 1}, 1, 1.00, 'new', NULL, '2024-01-01')",
        )
        engine = EngineProcess(doc, tmp_path).start()
        tally.wait_until(lambda t: t.distinct >= BIG_ROWS + 1, 300, f"{BIG_ROWS + 1} rows")
        counts = engine.stop_and_drain(tally)
    finally:
        engine.kill_if_running()
        if tally is not None:
            tally.close()
    missing = sum(1 for i in range(1, BIG_ROWS + 2) if i not in counts)
    duplicates = sum(1 for c in counts.values() if c > 1)
    assert f"streaming the binlog from {offset['file']}:{offset['pos']}" in engine.log()
    assert missing == 0 and duplicates == 0, (missing, duplicates)

"""``tasks.max=2`` on a JDBC sink: one ``cdc-engine start`` runs two worker processes in the group (real servers).

PostgreSQL source → tansu (auto-created topics have several partitions) → JDBC sink into another PostgreSQL
database. The target must equal the source; both tasks must own partitions; SIGTERM stops both (exit 0, no child
left); a child killed with SIGKILL mid-run loses nothing (its partitions move to task 0), and the parent reports it.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import psutil
from engine_helpers import EngineThread, connector_document, execute, wait_streaming
from jdbc_helpers import SOURCE_DDL, insert_rows, table_rows
from sink_helpers import create_topic, sink_document, unique, wait_until
from test_jdbc_sink_pg import _count, sink_config, target_db, wait_equal

from servers.engine import EngineProcess

__all__ = ["target_db"]  # the fixture, imported for the tests below


def _children(proc: EngineProcess) -> list[psutil.Process]:
    return psutil.Process(proc.pid).children(recursive=True)


def _gone(pids: list[int]) -> bool:
    return not any(psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE for pid in pids)


def test_tasks_max_2_runs_two_processes_and_stops_cleanly(
    postgres_server: Any, kafka_broker: Any, pg_database: str, target_db: dict[str, Any], tmp_path: Path
) -> None:
    kafka = kafka_broker.bootstrap_servers
    source_dsn = postgres_server.dsn(pg_database)
    execute(source_dsn, SOURCE_DDL)
    insert_rows(source_dsn, 1, 400)
    prefix = f"src{uuid.uuid4().hex[:6]}"
    source_doc = connector_document(postgres_server, kafka, pg_database, name=prefix)
    with EngineThread(source_doc):
        wait_streaming(postgres_server, source_doc)
        doc = sink_config(kafka, target_db, f"jdbc_{prefix}", prefix, **{"tasks.max": "2", "batch.size": "100"})
        sink = EngineProcess(doc, tmp_path).start()
        try:
            wait_until(lambda: len(_children(sink)) == 1, 30, "the child task process")
            child_pids = [p.pid for p in _children(sink)]
            wait_equal(source_dsn, target_db["dsn"])
            execute(
                source_dsn,
                "UPDATE items SET name = name || ' v2', qty = qty + 1 WHERE id % 3 = 0",
                "DELETE FROM items WHERE id % 7 = 0",
            )
            insert_rows(source_dsn, 1000, 200)
            wait_equal(source_dsn, target_db["dsn"])
            log = sink.log()
            # Each task is a member of the group with partitions of its own, and says which task it is.
            assert "task-0 sinks.runtime: partitions assigned: src" in log, log
            assert "task-1 sinks.runtime: partitions assigned: src" in log, log
            assert sink.terminate() == 0, sink.log()[-3000:]
            wait_until(lambda: _gone(child_pids), 10, "the child task to be gone")
        finally:
            sink.kill_if_running()
    log = sink.log()
    assert "task-1 stopped (exit code 0)" in log and "all 2 tasks stopped cleanly" in log, log[-3000:]
    assert log.count("stopped cleanly") >= 2  # each task flushed, committed and left the group


def test_a_killed_child_task_loses_nothing(
    postgres_server: Any, kafka_broker: Any, pg_database: str, target_db: dict[str, Any], tmp_path: Path
) -> None:
    kafka = kafka_broker.bootstrap_servers
    source_dsn = postgres_server.dsn(pg_database)
    execute(source_dsn, SOURCE_DDL)
    insert_rows(source_dsn, 1, 3000)
    prefix = f"src{uuid.uuid4().hex[:6]}"
    source_doc = connector_document(postgres_server, kafka, pg_database, name=prefix)
    with EngineThread(source_doc):
        wait_streaming(postgres_server, source_doc)
        for i in range(3):
            execute(source_dsn, f"UPDATE items SET qty = qty + 1, name = 'round {i} ' || id WHERE id % 2 = {i % 2}")
        doc = sink_config(kafka, target_db, f"jdbc_{prefix}", prefix, **{"tasks.max": "2", "batch.size": "200"})
        sink = EngineProcess(doc, tmp_path).start()
        try:
            wait_until(lambda: len(_children(sink)) == 1, 30, "the child task process")
            child = _children(sink)[0]
            sink.wait_logged("task-1 sinks.runtime: partitions assigned", 60)
            # Task 0 owns about half of the 3000 keys: beyond 1800 rows task 1 has written some of its own.
            wait_until(lambda: _count(target_db["dsn"]) > 1800, 90, "rows from both tasks in the target")
            child.kill()  # SIGKILL mid-run: no flush, no commit, no leave-group
            assert table_rows(target_db["dsn"], "items") != table_rows(source_dsn, "items")  # really mid-way
            sink.wait_logged("task-1 FAILED (killed by SIGKILL)", 30)
            execute(source_dsn, "DELETE FROM items WHERE id % 5 = 0")
            wait_equal(source_dsn, target_db["dsn"], timeout=120)
            assert sink.proc is not None and sink.proc.poll() is None  # task 0 kept running
            assert sink.terminate() == 1  # a task failed during the run
        finally:
            sink.kill_if_running()
    log = sink.log()
    assert "connector stopped; failed task(s): task-1" in log, log[-3000:]
    assert "task-0 sinks.runtime" in log and "stopped cleanly" in log


def test_children_die_with_a_killed_parent(kafka_broker: Any, tmp_path: Path) -> None:
    """No orphan: SIGKILL of the parent makes each child stop (PR_SET_PDEATHSIG delivers SIGTERM to it)."""
    topic = unique("tasks")
    create_topic(kafka_broker.bootstrap_servers, topic, partitions=2)
    doc = sink_document(kafka_broker.bootstrap_servers, unique("discard"), topics=topic, **{"tasks.max": "3"})
    sink = EngineProcess(doc, tmp_path).start()
    try:
        wait_until(lambda: len(_children(sink)) == 2, 30, "two child task processes")
        child_pids = [p.pid for p in _children(sink)]
        for index in (1, 2):  # both children past start-up (a SIGTERM before that ends one with 130, no commit)
            sink.wait_logged(f"task-{index} sinks.runtime: sink", 30)
        sink.kill()
        wait_until(lambda: _gone(child_pids), 30, "the children to exit after their parent was killed")
    finally:
        sink.kill_if_running()
    assert sink.log().count("stopped cleanly") >= 2, sink.log()[-3000:]  # each child flushed and committed

"""The fault-injection harness: a ledger of committed changes, the topic read back per key, and a verdict.

Every fault test follows the same shape (``FaultRun``):

1. a :class:`MixedWriter` commits small transactions of inserts, updates and deletes (now and then a large one) on
   one table and records every change -- ``(id, op, version)`` -- only once its COMMIT returned. If the connection
   breaks during a COMMIT (a PostgreSQL restart), it reconnects and looks the transaction's first inserted row up to
   learn whether it committed; so the ledger is exact even across database faults;
2. the engine (the real CLI in a subprocess, :class:`servers.engine.EngineProcess`) captures the table, while the
   test injects its fault: signals to the engine, a PostgreSQL restart, a network cut (:mod:`servers.proxy`), a
   paused broker, a broker that refuses the offsets topic (:mod:`servers.kafka_proxy`);
3. a :class:`ChangeLog` (fed by ``tests/integration/topic_tally.TopicTally``) reads the topic from the beginning
   and keeps, per key, the sequence of changes in partition order (per-key order is what Kafka guarantees);
4. :func:`compare` reports **lost** changes (committed, never in the topic), **unexpected** ones (in the topic,
   never committed), **duplicates** (extra deliveries) and **out-of-order** keys (a change first delivered before
   an earlier change of its key, or a key whose last record is not its last change), and :func:`compare_state`
   compares the source table's final rows with the state a consumer applying the topic ends with.

Engine restarts are accounted for one by one (:meth:`FaultRun.restart_cycle`): after each kill the topic is drained,
the stored offset is read, and the records in Kafka *past* that offset are counted -- the duplicate window the
next start must re-send and nothing more. The duplicates that start actually produced are measured against it.

Later connectors (MySQL) reuse the writer and verdict with their own DDL and engine document; sinks feed their
target's final state to :func:`compare_state`.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import psycopg
from engine_helpers import EngineProcess, connector_document, execute, wait_for
from topic_tally import TopicTally

from cdc.kafka.offset_store import OffsetStore

Change = tuple[int, str, int | None]  # (id, op, version); version None for deletes

TABLE = "items"
DDL = f"""
CREATE TABLE {TABLE} (
    id bigint PRIMARY KEY,
    account_id integer NOT NULL,
    amount numeric(12, 2) NOT NULL,
    status text NOT NULL,
    version integer NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
)
"""
INSERT = f"INSERT INTO {TABLE} (id, account_id, amount, status, version) VALUES (%s, %s, %s, %s, 0)"
UPDATE = f"UPDATE {TABLE} SET status = %s, amount = amount + 1, version = version + 1 WHERE id = %s RETURNING version"
DELETE = f"DELETE FROM {TABLE} WHERE id = %s"
STATUSES = ("pending", "authorized", "captured", "refunded", "failed")


# --------------------------------------------------------------------------------------------------------------
# The writer: the source of truth
# --------------------------------------------------------------------------------------------------------------


class MixedWriter(threading.Thread):
    """Commits transactions until stopped; ``ledger[id]`` lists that key's committed changes in commit order.

    Each transaction inserts 1-20 rows (with ``large_share`` probability ``large_rows`` rows: offsets are then
    also stored *inside* a transaction), sometimes updates and deletes earlier rows. ``run_ddl`` has the writer run
    a statement between two transactions (a schema change while data flows).
    """

    def __init__(
        self,
        dsn: str,
        seed: int,
        *,
        first_id: int = 1,
        live: list[int] | None = None,
        large_share: float = 0.03,
        large_rows: tuple[int, int] = (300, 1500),
        pause_s: float = 0.01,
    ) -> None:
        super().__init__(daemon=True)
        self.dsn = dsn
        self.rng = random.Random(seed)
        self.large_share = large_share
        self.large_rows = large_rows
        self.pause_s = pause_s
        self.ledger: dict[int, list[Change]] = {}
        self.transactions = 0
        self.large_transactions = 0
        self.reconnects = 0
        self.uncertain_commits = 0  # COMMITs whose outcome had to be looked up after a broken connection
        self.error: BaseException | None = None
        self._halt = threading.Event()
        self._live: list[int] = list(live or [])
        self._next_id = first_id
        self._ddl: list[tuple[str, threading.Event]] = []
        self._lock = threading.Lock()

    @property
    def committed(self) -> set[Change]:
        """Every committed change."""
        with self._lock:
            return {c for changes in self.ledger.values() for c in changes}

    def expected(self) -> dict[int, list[Change]]:
        """A copy of the ledger."""
        with self._lock:
            return {k: list(v) for k, v in self.ledger.items()}

    def run_ddl(self, statement: str, timeout: float = 30) -> None:
        """Have the writer thread run ``statement`` between two transactions; returns once it committed."""
        done = threading.Event()
        with self._lock:
            self._ddl.append((statement, done))
        if not done.wait(timeout):
            raise AssertionError(f"writer did not run {statement!r} within {timeout}s")

    def halt(self) -> None:
        self._halt.set()
        if self.is_alive():
            self.join(60)

    def stop(self) -> None:
        """Stop writing; re-raises the writer's error, if any."""
        self.halt()
        assert not self.is_alive(), "writer did not stop"
        if self.error is not None:
            raise self.error

    def run(self) -> None:
        try:
            while not self._halt.is_set():
                try:
                    with psycopg.connect(self.dsn, connect_timeout=5) as conn:
                        while not self._halt.is_set():
                            self._pending_ddl(conn)
                            self._one_transaction(conn)
                            if self.pause_s:
                                time.sleep(self.rng.uniform(0, self.pause_s))
                except psycopg.OperationalError:
                    # The database went away (restart): reconnect until it is back.
                    self.reconnects += 1
                    self._halt.wait(0.3)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test thread by stop()
            self.error = exc

    def _pending_ddl(self, conn: psycopg.Connection[Any]) -> None:
        with self._lock:
            pending, self._ddl = self._ddl, []
        for statement, done in pending:
            with conn.transaction():
                conn.execute(statement)  # type: ignore[arg-type]
            done.set()

    def _one_transaction(self, conn: psycopg.Connection[Any]) -> None:
        rng = self.rng
        large = rng.random() < self.large_share
        n = rng.randint(*self.large_rows) if large else rng.randint(1, 20)
        ids = list(range(self._next_id, self._next_id + n))
        live = self._live
        update = live[rng.randrange(len(live))] if live and rng.random() < 0.3 else None
        delete_at = rng.randrange(len(live)) if live and rng.random() < 0.15 else None
        delete = None if delete_at is None else live[delete_at]
        changes: list[Change] = [(i, "c", 0) for i in ids]
        rows = [(i, rng.randint(1, 5000), rng.randint(100, 10_000_00) / 100, "pending") for i in ids]
        try:
            with conn.transaction(), conn.cursor() as cur:
                cur.executemany(INSERT, rows)
                if update is not None:
                    cur.execute(UPDATE, (rng.choice(STATUSES), update))
                    row = cur.fetchone()
                    assert row is not None
                    changes.append((update, "u", row[0]))
                if delete is not None:
                    cur.execute(DELETE, (delete,))
                    changes.append((delete, "d", None))
        except psycopg.OperationalError:
            if not self._committed_after_all(ids[0]):
                raise
            self.uncertain_commits += 1
        # COMMIT returned (or the lookup proved it happened): these changes are durable and must reach Kafka.
        with self._lock:
            for change in changes:
                self.ledger.setdefault(change[0], []).append(change)
        self._next_id += n
        if delete_at is not None:
            live[delete_at] = live[-1]
            live.pop()
        live.extend(ids)
        self.transactions += 1
        self.large_transactions += large

    def _committed_after_all(self, first_id: int) -> bool:
        """After a broken COMMIT: reconnect (waiting for the server) and check whether the transaction landed."""
        deadline = time.monotonic() + 120
        while True:
            try:
                with psycopg.connect(self.dsn, connect_timeout=5, autocommit=True) as conn:
                    row = conn.execute(f"SELECT 1 FROM {TABLE} WHERE id = %s", (first_id,)).fetchone()
                    return row is not None
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)


def table_state(dsn: str) -> dict[int, int]:
    """The source table's rows as ``{id: version}``: what the topic (or a sink) must end up agreeing with."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        return {int(i): int(v) for i, v in conn.execute(f"SELECT id, version FROM {TABLE}").fetchall()}


# --------------------------------------------------------------------------------------------------------------
# The topic, per key
# --------------------------------------------------------------------------------------------------------------


class ChangeLog:
    """A ``TopicTally`` summary that also keeps, per key, the changes in partition order and their positions.

    Called by the tally for every record consumed; returns ``(id, op, version)`` (None for tombstones).
    """

    def __init__(self) -> None:
        self.sequences: dict[int, list[Change]] = {}
        self.positions: dict[Change, tuple[int, int | None]] = {}  # change → (source.lsn, source.txId)
        self.seen: set[Change] = set()
        self.duplicates = 0  # deliveries of a change already delivered
        self.delivered = 0  # records (tombstones excluded), duplicates included
        self.redelivered: list[Change] = []  # every duplicate delivery, in arrival order
        self.columns: set[str] = set()  # every column name seen in an ``after`` row

    def __call__(self, key: bytes | None, value: bytes | None) -> Hashable | None:
        if value is None:
            return None
        payload = orjson.loads(value)["payload"]
        op = payload["op"]
        row = payload["before"] if op == "d" else payload["after"]
        change: Change = (int(row["id"]), op, None if op == "d" else int(row["version"]))
        if op != "d":
            self.columns.update(row)
        self.sequences.setdefault(change[0], []).append(change)
        self.delivered += 1
        if change in self.seen:
            self.duplicates += 1
            self.redelivered.append(change)
        else:
            self.seen.add(change)
            source = payload["source"]
            self.positions[change] = (int(source["lsn"]), source.get("txId"))
        return change

    def past(self, offset: dict[str, Any] | None) -> set[Change]:
        """The distinct changes in the topic that lie past the stored ``offset``: what a restart re-sends.

        Transactions are told apart by ``txId``, which grows in commit order because the writer commits one
        transaction at a time (a single connection). ``lsn`` cannot be used: the engine advances it to the
        server's keepalive position between transactions, past the WAL of a large transaction that has not
        committed yet. The offset's ``txId`` is the last completed transaction, or, with ``events`` > 0, the one it
        stopped inside: its first ``events`` changes are skipped on restart, the rest re-sent. With no offset, or
        one taken during the snapshot, everything is re-sent.
        """
        if offset is None or (offset.get("snapshot") and not offset.get("last_snapshot_record")):
            return set(self.seen)
        tx_id = offset.get("txId")
        last = -1 if tx_id is None else int(tx_id)
        events = int(offset.get("events") or 0)
        past: set[Change] = set()
        inside: list[tuple[int, Change]] = []
        for change, (change_lsn, change_tx) in self.positions.items():
            if change_tx is None or int(change_tx) > last:
                past.add(change)
            elif events and int(change_tx) == last:
                inside.append((change_lsn, change))
        inside.sort()
        past.update(change for _, change in inside[events:])
        return past

    def final_state(self) -> dict[int, int]:
        """``{id: version}`` a consumer applying the topic in order ends with (deleted keys absent)."""
        state: dict[int, int] = {}
        for key, seq in self.sequences.items():
            _, op, version = seq[-1]
            if op == "d":
                state.pop(key, None)
            else:
                assert version is not None
                state[key] = version
        return state


# --------------------------------------------------------------------------------------------------------------
# The verdict
# --------------------------------------------------------------------------------------------------------------


@dataclass
class Cycle:
    """One engine stop (kill or SIGTERM) and the restart after it."""

    how: str  # "kill" (SIGKILL) or "term" (SIGTERM)
    at_s: float  # seconds since the scenario started
    window: int = 0  # distinct changes in Kafka past the stored offset when the engine was down
    resent: int = 0  # duplicates delivered by the next run (measured at the next stop)
    offset: dict[str, Any] | None = None
    past: set[Change] = field(default_factory=set, repr=False)  # the changes making up ``window``
    outside: list[tuple[Change, Any]] = field(default_factory=list)  # re-sent although not past the offset


@dataclass
class FaultReport:
    """What a fault did to the data: the numbers every fault test prints and asserts."""

    fault: str
    committed: int = 0
    records: int = 0
    lost: list[Change] = field(default_factory=list)
    unexpected: list[Change] = field(default_factory=list)
    duplicates: int = 0
    out_of_order: list[int] = field(default_factory=list)  # keys
    state_mismatches: list[int] = field(default_factory=list)  # keys whose final state differs from the table
    cycles: list[Cycle] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def window_total(self) -> int:
        return sum(c.window for c in self.cycles)

    def line(self) -> str:
        """One line for the test output."""
        text = (
            f"[fault {self.fault}] committed={self.committed} records={self.records} lost={len(self.lost)} "
            f"unexpected={len(self.unexpected)} duplicated={self.duplicates} out-of-order={len(self.out_of_order)} "
            f"state-mismatch={len(self.state_mismatches)}"
        )
        if self.cycles:
            windows = [c.window for c in self.cycles]
            resent = [c.resent for c in self.cycles]
            text += f"; {len(self.cycles)} restarts, window past stored offset {windows}, re-sent {resent}"
        if self.notes:
            text += "; " + "; ".join(self.notes)
        return text

    def assert_clean(self, *, allow_duplicates: bool = True) -> None:
        """Nothing lost, nothing invented, per-key order kept, the final state equals the table; no restart
        re-sent anything from before its stored offset; optionally no duplicates at all."""
        problems = []
        if self.lost:
            problems.append(f"{len(self.lost)} committed changes lost, e.g. {sorted(self.lost, key=str)[:10]}")
        if self.unexpected:
            problems.append(f"records for changes never committed: {sorted(self.unexpected, key=str)[:10]}")
        if self.out_of_order:
            problems.append(f"per-key order broken for keys {sorted(self.out_of_order)[:10]}")
        if self.state_mismatches:
            problems.append(f"final state differs from the table for keys {sorted(self.state_mismatches)[:10]}")
        over = [c for c in self.cycles if c.outside]
        if over:
            problems.append(f"restarts re-sent changes from before their stored offset: {over}")
        if not allow_duplicates and self.duplicates:
            problems.append(f"{self.duplicates} duplicates where none are allowed")
        assert not problems, f"{self.line()}\n" + "\n".join(problems)


def compare(
    fault: str,
    expected: dict[int, list[Change]],
    observed: ChangeLog,
    allowed_extra: Callable[[Change], bool] = lambda _c: False,
) -> FaultReport:
    """Compare the writer's ledger with what the topic holds (see the module docstring for the definitions)."""
    report = FaultReport(fault)
    report.committed = sum(len(v) for v in expected.values())
    report.records = sum(len(v) for v in observed.sequences.values())
    report.duplicates = observed.duplicates
    committed = {c for changes in expected.values() for c in changes}
    report.lost = sorted(committed - observed.seen, key=str)
    report.unexpected = sorted((c for c in observed.seen - committed if not allowed_extra(c)), key=str)
    for key, changes in expected.items():
        got = observed.sequences.get(key, [])
        rank = {c: i for i, c in enumerate(changes)}
        firsts, seen = [], set()
        for change in got:
            if change in rank and change not in seen:
                seen.add(change)
                firsts.append(rank[change])
        stale = bool(got) and got[-1] in rank and got[-1] != changes[-1]
        if firsts != sorted(firsts) or stale:
            report.out_of_order.append(key)
    return report


def compare_state(report: FaultReport, table: dict[int, int], topic: dict[int, int]) -> None:
    """Record in ``report`` the keys whose final state in the topic (or a sink) differs from the table."""
    report.state_mismatches = sorted(k for k in table.keys() | topic.keys() if table.get(k) != topic.get(k))


# --------------------------------------------------------------------------------------------------------------
# A scenario: engine + writer + topic, with restarts accounted for
# --------------------------------------------------------------------------------------------------------------


class FaultRun:
    """One fault scenario on table ``items`` of database ``dbname``; use as a context manager (cleans up).

    ``pg`` is the server the writer and the table checks use; ``engine_host``/``engine_port`` where the engine
    connects (a proxy, or ``pg`` itself). ``bootstrap`` is what the engine and the topic reader use.
    """

    def __init__(
        self,
        fault: str,
        pg: Any,
        bootstrap: str,
        dbname: str,
        workdir: Path,
        *,
        seed: int | None = None,
        engine_port: int | None = None,
        snapshot: bool = False,
        writer: dict[str, Any] | None = None,
        props: dict[str, Any] | None = None,
        worker: dict[str, Any] | None = None,
    ) -> None:
        self.fault = fault
        self.pg = pg
        self.bootstrap = bootstrap
        self.dsn = pg.dsn(dbname)
        self.seed = seed if seed is not None else random.randrange(1 << 30)
        self.rng = random.Random(self.seed)
        self.started = time.monotonic()
        connector_props: dict[str, Any] = {"snapshot.mode": "initial" if snapshot else "never"}
        if engine_port is not None:
            connector_props["database.port"] = engine_port
        connector_props.update(props or {})
        self.doc = connector_document(
            pg, bootstrap, dbname, worker={"offset.flush.interval.ms": 200, **(worker or {})}, **connector_props
        )
        self.topic = f"{self.doc['name']}.public.{TABLE}"
        self.engine = EngineProcess(self.doc, workdir)
        self.writer = MixedWriter(self.dsn, self.seed, **(writer or {}))
        self.log = ChangeLog()
        self.tally: TopicTally | None = None
        self.cycles: list[Cycle] = []
        self.engine_starts = 1
        self._store = OffsetStore(bootstrap, self.doc["worker"].get("offset.storage.topic", "connect-offsets"), 1)
        self._resent_mark = 0
        self._log_mark = 0
        self._streams_seen = 0
        print(f"\n[fault {fault}] seed {self.seed} (CDC_TEST_SEED={self.seed} replays the schedule)")

    # -- set-up -------------------------------------------------------------------------------------------------

    def create_table(self, rows: int = 0) -> None:
        """Create the table (and ``rows`` initial rows, ids 1..rows, version 0) before the engine starts."""
        statements = [DDL]
        if rows:
            statements.append(
                f"INSERT INTO {TABLE} (id, account_id, amount, status, version) "
                f"SELECT g, g % 5000, (g % 100000) / 100.0, 'pending', 0 FROM generate_series(1, {rows}) g"
            )
        execute(self.dsn, *statements)

    def start_engine(self) -> None:
        self._log_mark = len(self.engine.log()) if self.engine.log_path.exists() else 0
        self.engine.start()

    def run_log(self) -> str:
        """The log of the engine process started last."""
        return self.engine.log()[self._log_mark :]

    def open_tally(self) -> TopicTally:
        if self.tally is None:
            self.tally = TopicTally(self.bootstrap, self.topic, summary=self.log)
        return self.tally

    def wait_streaming(self, timeout: float = 90) -> None:
        """Wait until the engine process started last logged that it streams from its slot."""
        wait_for(lambda: "streaming from slot" in self.run_log(), timeout, 0.05, "the engine to stream")
        self._streams_seen = self.run_log().count("streaming from slot")

    def wait_streaming_again(self, timeout: float = 120) -> None:
        """After a fault that made the running engine reconnect: wait until it streams again (the log of this
        process has one more "streaming from slot" line than before the fault)."""
        before = self._streams_seen
        wait_for(lambda: self.run_log().count("streaming from slot") > before, timeout, 0.1, "the engine to resume")
        self._streams_seen = self.run_log().count("streaming from slot")

    def elapsed(self) -> float:
        return round(time.monotonic() - self.started, 1)

    # -- running ------------------------------------------------------------------------------------------------

    def drain(self, seconds: float) -> None:
        """Read the topic for ``seconds`` (the test's way of letting time pass while data flows)."""
        self.open_tally().drain(idle_s=seconds, max_s=seconds)

    def stored_offset(self) -> dict[str, Any] | None:
        return self._store.read(self.doc["name"], self.doc["config"]["topic.prefix"])

    def stop_engine(self, how: str) -> Cycle:
        """SIGKILL (``kill``) or SIGTERM (``term``, must exit 0) the engine, drain the topic, read the stored offset
        and measure the window of records past it. The engine is not restarted (see :meth:`restart_cycle`)."""
        cycle = Cycle(how, self.elapsed())
        if how == "kill":
            self.engine.kill()
        else:
            # Waiting for "starting connector" keeps the random moments on the runtime's side of start-up. A SIGTERM
            # that lands before the pipeline started (offsets topic check) ends it with 130 and nothing started,
            # as the README's exit codes say; once started, a clean stop must exit 0.
            wait_for(lambda: "starting connector" in self.run_log(), 60, 0.05, "the engine to start")
            code = self.engine.terminate(timeout=60)
            early = code == 130 and "stopped before start-up finished" in self.run_log()
            assert code == 0 or early, f"engine exited {code} after SIGTERM:\n{self.engine.log()[-3000:]}"
        self.open_tally().drain_to_end()
        # Everything the stopped run sent is read now: what it re-sent belongs to the previous cycle.
        self._close_cycle()
        cycle.offset = self.stored_offset()
        cycle.past = self.log.past(cycle.offset)
        cycle.window = len(cycle.past)
        self.cycles.append(cycle)
        return cycle

    def restart_cycle(self, how: str) -> Cycle:
        """Stop the engine (see :meth:`stop_engine`) and start it again at once."""
        cycle = self.stop_engine(how)
        self.start_engine()
        self.engine_starts += 1
        return cycle

    def _close_cycle(self) -> None:
        """Attribute the duplicates delivered since the last stop to the restart that followed it."""
        if self.cycles:
            cycle = self.cycles[-1]
            resent = self.log.redelivered[self._resent_mark :]
            cycle.resent = len(resent)
            cycle.outside = [(c, self.log.positions[c]) for c in resent if c not in cycle.past][:20]
        self._resent_mark = len(self.log.redelivered)

    def finish(
        self, base: dict[int, list[Change]] | None = None, catch_up_s: float = 120, check_state: bool = True
    ) -> FaultReport:
        """Stop the writer, wait until every committed change is in the topic (or ``catch_up_s`` passed), stop the
        engine with SIGTERM (it must exit 0), and compare. ``base``: changes expected before the writer's (snapshot
        rows, a transaction the test made itself). The caller asserts on the report."""
        self.writer.stop()
        expected = {k: list(v) for k, v in (base or {}).items()}
        for key, changes in self.writer.expected().items():
            expected.setdefault(key, []).extend(changes)
        tally = self.open_tally()
        committed = {c for changes in expected.values() for c in changes}
        deadline = time.monotonic() + catch_up_s
        while not committed <= self.log.seen and time.monotonic() < deadline:
            tally.drain(idle_s=0.5, max_s=5)
        self.stop_engine("term")
        self.cycles.pop()  # the final stop is not a restart
        report = self.report(expected)
        if check_state:
            compare_state(report, table_state(self.dsn), self.log.final_state())
        return report

    def report(self, expected: dict[int, list[Change]], **kwargs: Any) -> FaultReport:
        report = compare(self.fault, expected, self.log, **kwargs)
        report.cycles = self.cycles
        w = self.writer
        report.notes.append(
            f"{w.transactions} transactions ({w.large_transactions} large), {self.engine_starts} engine starts, "
            f"{self.elapsed()}s"
        )
        if w.reconnects or w.uncertain_commits:
            report.notes.append(f"writer reconnected {w.reconnects}x, {w.uncertain_commits} COMMITs looked up")
        return report

    # -- clean-up -----------------------------------------------------------------------------------------------

    def close(self) -> None:
        self.engine.kill_if_running()
        self.writer.halt()
        if self.tally is not None:
            self.tally.close()
        self._store.close()

    def __enter__(self) -> FaultRun:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

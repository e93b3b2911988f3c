#!/usr/bin/env python
"""Offline replay of the PostgreSQL stream hot path: recorded pgoutput messages → serialized records.

Two commands:

``capture FILE``
    Starts a throwaway PostgreSQL, runs a fixed workload (the throughput benchmark's N-row insert transaction,
    plus updates, primary-key changes, deletes, a truncate, and a second table with edge-case values of many
    types, REPLICA IDENTITY FULL and an unchanged TOAST column) and records every XLogData message of the
    stream as the engine would receive it, together with the catalog facts the table registry looks up.

``replay FILE [--code DIR] [--dump OUT] [--repeat K]``
    Feeds those messages through the engine's real ``StreamReader`` (decode → CapturedTable.row → ChangeEmitter →
    envelope → JsonConverter) with a fake replication connection and a fixed clock, so that the output is deterministic.
    Prints records/s of the pure Python path (no Kafka) and a SHA-256 of all (topic, key, value) bytes; ``--dump``
    writes them one per line. ``--code DIR`` imports cdc/schemas from another checkout (e.g. a ``git worktree``
    of the previous commit), which is how "output bytes unchanged" is checked across an optimization:

        .venv/bin/python bench/hotpath.py capture /tmp/stream.pickle
        .venv/bin/python bench/hotpath.py replay /tmp/stream.pickle --code /tmp/cdc-before --dump /tmp/before.txt
        .venv/bin/python bench/hotpath.py replay /tmp/stream.pickle --dump /tmp/after.txt
        cmp /tmp/before.txt /tmp/after.txt

Profile the replay with ``--cprofile`` or ``py-spy record -- .venv/bin/python bench/hotpath.py replay FILE``.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import pickle
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]

FIXED_NS = 1_700_000_000_123_456_789

TYPES_TABLE = """
CREATE TABLE bench_types (
    id       int PRIMARY KEY,
    d        date,
    ts       timestamp,
    ts3      timestamp(3),
    tstz0    timestamptz(0),
    tm       time,
    tmtz     timetz,
    num      numeric,
    f8       float8,
    f4       real,
    i2       smallint,
    by       bytea,
    js       jsonb,
    u        uuid,
    iv       interval,
    ta       text[],
    ia       int[],
    vc       varchar(20) NOT NULL,
    big      text
)
"""

TYPES_ROWS = r"""
INSERT INTO bench_types VALUES
 (1, '2024-02-29', '2024-01-02 03:04:05.123456', '2024-01-02 03:04:05.1', '2024-01-02 03:04:05+02', '23:59:59.999999',
  '03:04:05.5+02', 12.3400, 1.5e300, 3.25, -32768, '\x00ff10', '{"a": [1, "x\"y"]}',
  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'P1Y2M3DT4H5M6.789S', '{"a b",NULL,"q\"uote"}', '{{1,2},{3,4}}',
  'plain', repeat('toast-me ', 5000)),
 (2, '0044-03-15 BC', '0044-03-15 12:00:00 BC', 'infinity', '-infinity', '24:00:00', '00:00:00-03:30',
  'NaN', 'NaN', '-Infinity', 0, '\x', '[]', '00000000-0000-0000-0000-000000000000', 'P-1D', '{}', '{}',
  E'ctl\x01\ttab \\ "q" é ✓ 🚀', NULL),
 (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '', 'small')
"""


def _workload(dsn: str, rows: int) -> None:
    import psycopg

    sys.path.insert(0, str(REPO / "bench"))
    from pg_throughput import INSERT_RANGE

    with psycopg.connect(dsn, autocommit=True) as conn:
        with conn.transaction():
            conn.execute(INSERT_RANGE, (1, rows))
        conn.execute(
            "INSERT INTO bench_rows VALUES (-1, 0, E'quote \" back \\\\ nl \\n uni é ✓', 'NaN', 'infinity', true),"
            " (-2, -2147483648, '', -9999999999.99, '-infinity', false),"
            " (-3, 2147483647, NULL, NULL, '0044-03-15 12:00:00+00 BC', NULL),"
            " (-4, 1, 'x', 0, '2024-06-01 00:00:00.000001+00', NULL)"
        )
        conn.execute("UPDATE bench_rows SET qty = qty + 1, note = 'updated' WHERE id BETWEEN 1 AND 50")
        conn.execute("UPDATE bench_rows SET id = id + 100000000 WHERE id BETWEEN 51 AND 55")
        conn.execute("DELETE FROM bench_rows WHERE id BETWEEN 56 AND 70")
        with conn.transaction():
            conn.execute("INSERT INTO bench_rows (id, qty, created) VALUES (-10, 1, now())")
            conn.execute("DELETE FROM bench_rows WHERE id = -10")
        conn.execute(TYPES_ROWS)
        conn.execute("UPDATE bench_types SET f8 = 2.5 WHERE id = 1")  # big (TOAST) unchanged
        conn.execute("UPDATE bench_types SET id = 10 WHERE id = 3")  # PK change under REPLICA IDENTITY FULL
        conn.execute("DELETE FROM bench_types WHERE id = 2")
        conn.execute("TRUNCATE bench_types")


def capture(path: Path, rows: int) -> None:
    sys.path[:0] = [str(REPO), str(REPO / "bench")]
    import psycopg
    from pg_throughput import CREATE_TABLE

    from cdc.postgres.catalog import Catalog
    from cdc.postgres.pgoutput import Relation, decode
    from cdc.postgres.replication import Keepalive, ReplicationConnection
    from servers import PostgresServer

    with PostgresServer().start() as pg:
        pg.create_database("bench")
        dsn = pg.dsn("bench")
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(CREATE_TABLE)
            conn.execute(TYPES_TABLE)
            conn.execute("ALTER TABLE bench_types REPLICA IDENTITY FULL")
            conn.execute("CREATE PUBLICATION bench_pub FOR TABLE bench_rows, bench_types")
        repl = ReplicationConnection(dsn)
        repl.connect()
        start_lsn, _ = repl.create_slot("capture", export_snapshot=False)
        _workload(dsn, rows)
        repl.start_replication("capture", start_lsn, "bench_pub")
        messages: list[tuple[int, int, bytes]] = []
        relids: set[int] = set()
        type_oids: set[int] = set()
        while True:
            msg = repl.read(3.0)
            if msg is None:
                break
            if isinstance(msg, Keepalive):
                continue
            messages.append((msg.data_start, msg.wal_end, bytes(msg.payload)))
            decoded = decode(msg.payload)
            if isinstance(decoded, Relation):
                relids.add(decoded.relid)
                type_oids.update(c.type_oid for c in decoded.columns)
        repl.close()
        catalog = Catalog(dsn)
        tables = {}
        for relid in relids:
            info = catalog.table(relid)
            assert info is not None
            tables[relid] = {
                "relid": info.relid,
                "schema": info.schema,
                "name": info.name,
                "columns": [(c.name, c.type_oid, c.typmod, c.not_null) for c in info.columns],
                "primary_key": info.primary_key,
                "replica_identity": info.replica_identity,
            }
        types: dict[int, Any] = {}
        pending = set(type_oids)
        while pending:
            oid = pending.pop()
            t = catalog.resolve_type(oid)
            types[oid] = None if t is None else t.__dict__.copy()
            if t is not None:
                for nested in (t.element_oid, t.base_oid):
                    if nested and nested not in types:
                        pending.add(nested)
        catalog.close()
    path.write_bytes(pickle.dumps({"messages": messages, "tables": tables, "types": types}))
    print(f"captured {len(messages)} messages of {len(tables)} tables into {path}")


class _FakeCatalog:
    def __init__(self, tables: dict[int, Any], types: dict[int, Any]) -> None:
        from cdc.postgres.catalog import CatalogColumn, CatalogTable
        from cdc.postgres.types import PgType

        self._tables = {
            relid: CatalogTable(
                t["relid"],
                t["schema"],
                t["name"],
                tuple(CatalogColumn(*c) for c in t["columns"]),
                tuple(t["primary_key"]),
                t["replica_identity"],
                0,
            )
            for relid, t in tables.items()
        }
        self._types = {oid: None if t is None else PgType(**t) for oid, t in types.items()}

    def table(self, relid: int) -> Any:
        return self._tables.get(relid)

    def resolve_type(self, oid: int) -> Any:
        return self._types.get(oid)

    def forget_types(self) -> None:
        pass


class _FakeConnection:
    """Replays recorded XLogData messages through the read API of cdc.postgres.replication."""

    def __init__(self, messages: list[tuple[int, int, bytes]]) -> None:
        from cdc.postgres import replication

        self._replication = replication
        self._messages = messages
        self._pos = 0

    @property
    def exhausted(self) -> bool:
        return self._pos >= len(self._messages)

    def read(self, timeout: float) -> Any:
        if self._pos >= len(self._messages):
            return None
        data_start, wal_end, payload = self._messages[self._pos]
        self._pos += 1
        return self._replication.XLogData(data_start, wal_end, payload)

    def send_status(self, flush_lsn: int, reply: bool = False) -> None:
        pass


def _build_reader(data: dict[str, Any], conn: Any) -> Any:
    """The engine's StreamReader over the fake connection; adapts to the code layout being measured (``--code``)."""
    import inspect

    from cdc.filters import TableFilter
    from cdc.postgres.offsets import PostgresOffset
    from cdc.postgres.reader import StreamReader
    from cdc.postgres.types import TypeMapper
    from schemas.json_converter import JsonConverter

    catalog = _FakeCatalog(data["tables"], data["types"])
    mapper = TypeMapper("precise", "adaptive", catalog.resolve_type)
    table_filter = TableFilter(default_excluded_schemas=("pg_catalog", "information_schema", "pg_toast"))
    placeholder = "__debezium_unavailable_value"
    args: dict[str, Any] = {
        "conn": conn,
        "catalog": catalog,
        "offset": PostgresOffset(lsn=data["messages"][0][0]),
        "server": "bench",
        "dbname": "bench",
        "heartbeat": None,
        "status_interval_s": 10.0,
    }
    from cdc.postgres.tables import TableRegistry

    if "builder" in inspect.signature(TableRegistry).parameters:  # the capture-core layout (cdc/capture)
        from cdc.capture.converters import SourceConverters
        from cdc.capture.emit import ChangeEmitter
        from cdc.capture.table import TableBuilder
        from cdc.postgres.source_info import SOURCE_SCHEMA

        converters = SourceConverters(JsonConverter(True), JsonConverter(True))
        builder = TableBuilder("bench", table_filter, converters, SOURCE_SCHEMA, placeholder)
        args["registry"] = TableRegistry(catalog, table_filter, mapper, builder)  # type: ignore[arg-type]
        args["emitter"] = ChangeEmitter(frozenset(), True)
    else:  # before it: the registry took the converters, the reader the emit settings
        args["registry"] = TableRegistry(  # type: ignore[call-arg]
            catalog, table_filter, "bench", mapper, JsonConverter(True), JsonConverter(True), placeholder
        )
        args.update(skipped_ops=frozenset(), tombstones=True, heartbeat_interval_s=10.0)
    params = inspect.signature(StreamReader).parameters
    return StreamReader(**{k: v for k, v in args.items() if k in params})


def replay(path: Path, code: Path | None, dump: Path | None, repeat: int, cprofile: bool, gc_tuned: bool) -> None:
    if code is not None:
        sys.path.insert(0, str(code.resolve()))
    else:
        sys.path.insert(0, str(REPO))
    import cdc

    data = pickle.loads(path.read_bytes())
    if gc_tuned:  # what `cdc-engine start` does before running the pipeline (cdc/cli.py)
        gc.freeze()
        gc.set_threshold(10_000, 10, 10)
    real_time_ns = time.time_ns
    best = float("inf")
    digest = ""
    count = 0
    for i in range(repeat):
        conn = _FakeConnection(data["messages"])
        reader = _build_reader(data, conn)
        h = hashlib.sha256()
        count = 0
        elapsed = 0.0
        fh = dump.open("wb") if dump is not None and i == 0 else None
        profiler = None
        if cprofile and i == repeat - 1:
            import cProfile

            profiler = cProfile.Profile()
        time.time_ns = lambda: FIXED_NS  # the envelopes' ts_* fields
        try:
            while not conn.exhausted:
                started = time.thread_time()
                if profiler is not None:
                    profiler.enable()
                # A generous timeout: poll() returns at once on an exhausted fake connection, and since the
                # shutdown fix a zero timeout makes it return before reading anything.
                batch = reader.poll(2000, 10.0)
                if profiler is not None:
                    profiler.disable()
                elapsed += time.thread_time() - started
                count += len(batch)
                for record in batch:
                    topic, key, value = record[0], record[1], record[2]
                    line = topic.encode() + b"\t" + (key or b"<null>") + b"\t" + (value or b"<null>") + b"\n"
                    h.update(line)
                    if fh is not None:
                        fh.write(line)
                del batch
        finally:
            time.time_ns = real_time_ns
            if fh is not None:
                fh.close()
        best = min(best, elapsed)
        digest = h.hexdigest()
    print(f"code: {Path(cdc.__file__).parent.parent}")
    print(
        f"records: {count}  best of {repeat}: {best:.3f} CPU s in poll() = {count / best:,.0f} records/s"
        f" ({1e6 * best / count:.2f} us/record)"
    )
    print(f"sha256: {digest}")
    if profiler is not None:
        import pstats

        pstats.Stats(profiler).sort_stats("tottime").print_stats(20)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("capture")
    p.add_argument("file", type=Path)
    p.add_argument("--rows", type=int, default=200_000)
    p = sub.add_parser("replay")
    p.add_argument("file", type=Path)
    p.add_argument("--code", type=Path, help="checkout to import cdc/schemas from (default: this repository)")
    p.add_argument("--dump", type=Path, help="write every record (topic TAB key TAB value) to this file")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--cprofile", action="store_true", help="cProfile the last repetition")
    p.add_argument("--gc-tuned", action="store_true", help="apply the CLI's GC settings (gc.freeze, thresholds)")
    args = parser.parse_args()
    if args.command == "capture":
        capture(args.file, args.rows)
    else:
        replay(args.file, args.code, args.dump, args.repeat, args.cprofile, args.gc_tuned)
    return 0


if __name__ == "__main__":
    sys.exit(main())

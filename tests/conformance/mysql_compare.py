"""Differential check: the real Debezium 3.6.3 MySQL connector and cdc-engine on the same MySQL 9.x binlog.

One MySQL 9.x server (GTIDs on) and one broker: a database with an every-type table and a small table, rows for
the snapshot, then the real Debezium 3.6.3 (``servers.debezium``, prefix ``dbz``) and cdc-engine
(prefix ``ours``) side by side; once both stream, inserts, an update, a delete, an ALTER TABLE and more inserts.
Both prefixes are dumped and compared per table, record by record (aligned by op and key): key, before, after,
the value schema of each field, the envelope's source schema, and the source fields that should agree (``db``,
``table``, ``snapshot``, ``connector``, and for streamed records ``file``, ``pos``, ``row``, ``gtid``,
``server_id``, ``thread``, ``query``); schema change events are aligned by their DDL.

Used by ``test_mysql_conformance.py`` (``make test``: no difference allowed) and as a report:
``.venv/bin/python tests/conformance/mysql_compare.py [--keep DIR]`` prints the differences as a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
for _path in (REPO, REPO / "tests" / "integration"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from servers import MySQLFamilyServer, MySQLServer, TansuBroker  # noqa: E402
from servers.debezium import DebeziumWorker, read_prefix  # noqa: E402
from servers.engine import EngineProcess  # noqa: E402

DB = "shop"

SETUP = [
    "CREATE TABLE customers (id INT PRIMARY KEY, name VARCHAR(40) NOT NULL, email VARCHAR(80), "
    "score INT NOT NULL DEFAULT 5)",
    "INSERT INTO customers VALUES (1, 'ann', 'a@x', 1), (2, 'bob', NULL, 2)",
]


def all_types_statements() -> list[str]:
    from test_mysql_types import COLUMNS, VALUES

    return [f"CREATE TABLE all_types ({COLUMNS})", f"INSERT INTO all_types VALUES (1, {VALUES})"]


def streaming_statements() -> list[str]:
    from test_mysql_types import VALUES

    return [
        "INSERT INTO customers VALUES (3, 'cy', 'c@x', 3)",
        "UPDATE customers SET name = 'bobby', score = 7 WHERE id = 2",
        "DELETE FROM customers WHERE id = 1",
        f"INSERT INTO all_types VALUES (2, {VALUES})",
        "ALTER TABLE customers ADD COLUMN tier ENUM('gold','silver') DEFAULT 'silver'",
        "INSERT INTO customers VALUES (4, 'dee', NULL, 4, 'gold')",
        # An explicit NULL in a nullable column with a default (JsonConverter's replace.null.with.default).
        "INSERT INTO customers VALUES (5, 'eve', NULL, 5, NULL)",
        "UPDATE all_types SET c_varchar = 'changed', c_json = '{\"b\": true}' WHERE id = 2",
    ]


def dump_prefix(bootstrap: str, prefix: str) -> dict[str, list[dict[str, Any]]]:
    """The topics named ``<prefix>…`` keyed by what follows the prefix (``""`` is the schema change topic)."""
    return {topic.removeprefix(prefix): records for topic, records in read_prefix(bootstrap, prefix).items()}


def field_schemas(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict) or "schema" not in value:
        return {}
    for f in value["schema"].get("fields", []):
        if f["field"] == "after":
            return {g["field"]: {k: v for k, v in g.items() if k != "field"} for g in f.get("fields", [])}
    return {}


def compare_schema_changes(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> list[str]:
    """Schema change events aligned by their DDL: key, source fields, payload and each table change column."""
    rows: list[str] = []
    ours = {r["value"]["payload"]["ddl"]: r for r in b if isinstance(r.get("value"), dict)}
    for ra in a:
        pa = ra["value"]["payload"]
        rb = ours.get(pa["ddl"])
        if rb is None:
            continue
        pb, where = rb["value"]["payload"], f"schema change `{pa['ddl'][:30]}`"
        if ra["key"] != rb["key"]:
            rows.append(f"| {where} key | `{ra['key']}` | `{rb['key']}` | |")
        for f, va in pa["source"].items():
            if f not in ("version", "name", "ts_ms", "ts_us", "ts_ns") and va != pb["source"].get(f):
                rows.append(f"| {where} source.{f} | `{va}` | `{pb['source'].get(f)}` | |")
        for f in ("databaseName", "schemaName"):
            if pa.get(f) != pb.get(f):
                rows.append(f"| {where} {f} | `{pa.get(f)}` | `{pb.get(f)}` | |")
        for ca, cb in zip(pa["tableChanges"], pb["tableChanges"], strict=False):
            ta, tb = ca.get("table") or {}, cb.get("table") or {}
            if (ca["type"], ca["id"]) != (cb["type"], cb["id"]):
                rows.append(f"| {where} change | `{ca['type']} {ca['id']}` | `{cb['type']} {cb['id']}` | |")
            for f in ("defaultCharsetName", "primaryKeyColumnNames", "comment"):
                if ta.get(f) != tb.get(f):
                    rows.append(f"| {where} table.{f} | `{ta.get(f)}` | `{tb.get(f)}` | |")
            for x, y in zip(ta.get("columns", []), tb.get("columns", []), strict=False):
                for g, vx in x.items():
                    if vx != y.get(g):
                        rows.append(f"| {where} column {x['name']}.{g} | `{vx}` | `{y.get(g)}` | |")
        if len(pa["tableChanges"]) != len(pb["tableChanges"]):
            rows.append(f"| {where} tableChanges | {len(pa['tableChanges'])} | {len(pb['tableChanges'])} | |")
        schema_a = json.dumps(ra["value"]["schema"], sort_keys=True)
        if schema_a != json.dumps(rb["value"]["schema"], sort_keys=True):
            rows.append(f"| {where} value schema | differs | differs | |")
    return rows


def compare(dbz: dict[str, list[dict[str, Any]]], ours: dict[str, list[dict[str, Any]]]) -> list[str]:
    rows: list[str] = []
    for suffix in sorted(set(dbz) | set(ours)):
        if "history" in suffix or suffix.startswith(".schema"):
            continue
        a, b = dbz.get(suffix, []), ours.get(suffix, [])
        if suffix == "":
            rows.append(f"| schema change topic | {len(a)} records | {len(b)} records | compared by ddl below |")
            da = [r["value"]["payload"].get("ddl") for r in a if isinstance(r.get("value"), dict)]
            db_ = [r["value"]["payload"].get("ddl") for r in b if isinstance(r.get("value"), dict)]
            for ddl in da:
                if ddl not in db_:
                    rows.append(f"| schema change | `{ddl[:60]}` | missing | |")
            rows += compare_schema_changes(a, b)
            continue

        def keyed(records: list[dict[str, Any]]) -> dict[tuple[Any, ...], list[dict[str, Any]]]:
            out: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
            for r in records:
                value = r.get("value")
                op = value["payload"]["op"] if isinstance(value, dict) else "tombstone"
                key = json.dumps(r["key"]["payload"] if isinstance(r.get("key"), dict) else r.get("key"))
                out.setdefault((op, key), []).append(r)
            return out

        ka, kb = keyed(a), keyed(b)
        rows.append(f"| `{suffix}` | {len(a)} records | {len(b)} records | |")
        for k in sorted(set(ka) | set(kb), key=str):
            if k not in kb:
                rows.append(f"| `{suffix}` {k} | present | missing | |")
                continue
            if k not in ka:
                rows.append(f"| `{suffix}` {k} | missing | present | |")
                continue
            ra, rb = ka[k][-1], kb[k][-1]
            if ra.get("value") is None or rb.get("value") is None:
                continue
            if ra["key"] != rb["key"] and json.dumps(ra["key"]).replace("dbz.", "ours.") != json.dumps(rb["key"]):
                rows.append(
                    f"| `{suffix}` {k} key | `{json.dumps(ra['key'])[:80]}` | `{json.dumps(rb['key'])[:80]}` | |"
                )
            pa, pb = ra["value"]["payload"], rb["value"]["payload"]
            for side in ("before", "after"):
                va, vb = pa.get(side) or {}, pb.get(side) or {}
                for col in sorted(set(va) | set(vb)):
                    if va.get(col) != vb.get(col):
                        rows.append(f"| `{suffix}` {k[0]} {side}.{col} | `{va.get(col)}` | `{vb.get(col)}` | |")
            source_fields = ["db", "table", "snapshot", "connector"]
            if k[0] != "r":
                source_fields += ["file", "pos", "row", "gtid", "server_id", "thread", "query"]
            for f in source_fields:
                if pa["source"].get(f) != pb["source"].get(f):
                    rows.append(
                        f"| `{suffix}` {k[0]} source.{f} | `{pa['source'].get(f)}` | `{pb['source'].get(f)}` | |"
                    )
            sa, sb = field_schemas(ra["value"]), field_schemas(rb["value"])
            for col in sorted(set(sa) | set(sb)):
                ca = json.dumps(sa.get(col), sort_keys=True).replace("dbz.", "P.")
                cb = json.dumps(sb.get(col), sort_keys=True).replace("ours.", "P.")
                if ca != cb:
                    rows.append(f"| `{suffix}` {k[0]} schema of {col} | `{ca}` | `{cb}` | |")
            ea = json.dumps(ra["value"]["schema"]["fields"][2], sort_keys=True)
            eb = json.dumps(rb["value"]["schema"]["fields"][2], sort_keys=True)
            if ea != eb:
                rows.append(f"| `{suffix}` {k[0]} source schema | `{ea[:300]}` | `{eb[:300]}` | |")
    # Deduplicate identical lines (the same difference on several records).
    seen: set[str] = set()
    unique = []
    for r in rows:
        if r not in seen:
            seen.add(r)
            unique.append(r)
    return unique


def run_comparison(server: MySQLFamilyServer, bootstrap: str, work: Path, db: str = DB) -> list[str]:
    """Run both connectors on ``server`` (database ``db`` is created) and return the comparison's lines.

    Lines of the form ``| `<table>` | N records | N records | |`` only count records; every other line is a
    difference.
    """
    server.create_database(db)
    server.execute(*SETUP, *all_types_statements(), database=db)
    common = {
        "database.hostname": server.host,
        "database.port": str(server.port),
        "database.user": server.user,
        "database.password": server.password,
        "database.include.list": db,
    }
    debezium = DebeziumWorker(
        bootstrap,
        [
            {
                **common,
                "name": "dbz",
                "connector.class": "io.debezium.connector.mysql.MySqlConnector",
                "database.server.id": "5401",
                "topic.prefix": "dbz",
                # A file: Debezium's Kafka schema history checks topic settings through DescribeConfigs.
                "schema.history.internal": "io.debezium.storage.file.history.FileSchemaHistory",
                "schema.history.internal.file.filename": str(work / "dbz-schema-history.dat"),
            }
        ],
    )
    ours = EngineProcess(
        {
            "name": "ours",
            "config": {**common, "connector.class": "mysql", "database.server.id": "5402", "topic.prefix": "ours"},
            "worker": {"bootstrap.servers": bootstrap, "offset.flush.interval.ms": 500},
        },
        work,
    )
    try:
        ours.start()
        debezium.start()
        ours.wait_logged("streaming the binlog", 120)
        debezium.wait_streaming(1, 180)
        server.execute(*streaming_statements(), database=db)
        time.sleep(8)  # both publish the same binlog; give them time before stopping
    finally:
        debezium.stop()
        ours.kill_if_running()
    return compare(dump_prefix(bootstrap, "dbz"), dump_prefix(bootstrap, "ours"))


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--keep", type=Path, help="keep the dumps in this directory")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="dbz-compare-"))
    server = MySQLServer().start()
    broker = TansuBroker().start()
    try:
        rows = run_comparison(server, broker.bootstrap_servers, work)
        print(f"Debezium 3.6.3 vs cdc-engine on {server.version()}: {len(rows)} lines")
        print("| where | Debezium | cdc-engine | |")
        print("|---|---|---|---|")
        for r in rows:
            print(r)
        if args.keep:
            shutil.copytree(work, args.keep, dirs_exist_ok=True)
    finally:
        broker.stop()
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

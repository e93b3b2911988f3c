"""cdc-engine's SMTs against the real Debezium 3.6.3 + Kafka Connect 4.3 on a real PostgreSQL and broker.

Five connectors capture one table at the same time: a plain real Debezium; two real Debezium connectors with
transforms, ``transforms=unwrap`` with its defaults (the usual set-up) and ``transforms=unwrap,mask,route``
(ExtractNewRecordState with rewrite-with-tombstone, add.fields and add.headers; MaskField$Value guarded by a negated
RecordIsTombstone predicate; RegexRouter); and two cdc-engine connectors with the same two transform configs. After
a snapshot and streamed inserts, updates, a primary key change and deletes:

- our chain applied to the plain connector's records equals what the transformed real connector wrote (topic, key,
  value schema and payload, headers, per key in order);
- cdc-engine's own source connector with the same ``transforms`` writes the same records, except the
  ``__debezium.*`` headers the Debezium source itself adds (not written by cdc-engine's source).

The three real connectors run in one Kafka Connect worker (``servers.debezium``). Skipped, with the reason, when
Java or the Debezium jars are unavailable.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from engine_helpers import EngineThread, connection_properties, connector_document, execute, wait_streaming

from schemas.record import ConnectRecord
from servers.debezium import DebeziumWorker, read_prefix, unavailable_reason
from sinks.transforms.chain import TransformChain

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit" / "transforms"))
from smt_connect_json import from_json, to_json

pytestmark = pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason()))

CHAIN = {
    "transforms": "unwrap,mask,route",
    "transforms.unwrap.type": "io.debezium.transforms.ExtractNewRecordState",
    "transforms.unwrap.delete.tombstone.handling.mode": "rewrite-with-tombstone",
    "transforms.unwrap.add.fields": "op,table,source.db,schema:SCHEMA",
    "transforms.unwrap.add.headers": "op,db",
    "transforms.mask.type": "org.apache.kafka.connect.transforms.MaskField$Value",
    "transforms.mask.fields": "secret",
    "transforms.mask.replacement": "xxx",
    # MaskField fails on tombstones (in Connect too): skip them with a negated predicate.
    "transforms.mask.predicate": "tombstone",
    "transforms.mask.negate": "true",
    "predicates": "tombstone",
    "predicates.tombstone.type": "org.apache.kafka.connect.transforms.predicates.RecordIsTombstone",
    "transforms.route.type": "org.apache.kafka.connect.transforms.RegexRouter",
    "transforms.route.regex": "([^.]+)\\.public\\.(.*)",
    "transforms.route.replacement": "$1.flat.$2",
}


# The usual set-up: Debezium's unwrap with its defaults (deletes become null-payload records, tombstones dropped).
UNWRAP = {"transforms": "unwrap", "transforms.unwrap.type": "io.debezium.transforms.ExtractNewRecordState"}


def _header_value(text: str | None) -> Any:
    """``read_prefix``'s rendering of a header value: JSON where it parses, else the text."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def _header_bytes(value: Any) -> bytes | None:
    """A header value as read back by ``read_prefix`` (JSON-decoded where it parsed) to its text."""
    if value is None:
        return None
    return (value if isinstance(value, str) else json.dumps(value)).encode()


def _normalized(headers: list[list[Any]]) -> list[list[Any]]:
    """Debezium's per-run context header differs between the two connectors by nature."""
    return [[k, "RUN" if k == "__debezium.context.runId" else v] for k, v in headers]


def _ours(records: list[dict[str, Any]], plain: str, smt: str, props: dict[str, str]) -> list[dict[str, Any]]:
    """Our chain applied to the plain connector's records (its prefix renamed to the transformed connector's)."""
    chain = TransformChain.from_properties(props)
    out = []
    for r in records:
        key_json = json.loads(json.dumps(r["key"]).replace(f'"{plain}.', f'"{smt}.'))
        value_json = json.loads(json.dumps(r["value"]).replace(f'"{plain}.', f'"{smt}.'))
        key_schema, key = from_json(key_json, True)
        value_schema, value = from_json(value_json, True)
        headers = [(k, _header_bytes(smt if v == plain else v)) for k, v in r["headers"]]
        record = ConnectRecord(f"{smt}.public.items", key_schema, key, value_schema, value, headers=headers)
        result = chain.apply(record)
        if result is None:
            continue
        out.append(
            {
                "topic": result.topic,
                "key": to_json(result.key_schema, result.key, True),
                "value": to_json(result.value_schema, result.value, True),
                "headers": _normalized(
                    [[k, _header_value(None if v is None else v.decode())] for k, v in result.headers]
                ),
            }
        )
    return out


def _by_key(records: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        grouped.setdefault(json.dumps(r["key"], sort_keys=True), []).append(r)
    return grouped


def _renamed(records: list[dict[str, Any]], old: str, new: str) -> list[dict[str, Any]]:
    """Records with one connector's topic prefix (in topics and schema names) replaced by another's."""
    return json.loads(json.dumps(records).replace(f'"{old}.', f'"{new}.'))


def test_chain_matches_real_debezium(postgres_server: Any, kafka_broker: Any, pg_database: str, tmp_path: Path) -> None:
    dsn = postgres_server.dsn(pg_database)
    execute(
        dsn,
        "CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL, price numeric(10,2), qty int,"
        " created timestamptz, day date, secret text, tags text[], doc jsonb)",
        "INSERT INTO items VALUES (1, 'pen', 1.50, 3, '2024-03-05 14:07:09.123+00', '2024-03-05', 's1',"
        " '{a,b}', '{\"k\": 1}'), (2, 'ink', NULL, NULL, NULL, NULL, NULL, NULL, NULL)",
    )
    suffix = uuid.uuid4().hex[:6]
    plain = f"plain{suffix}"
    chains = {"full": CHAIN, "unwrap": UNWRAP}
    bootstrap = kafka_broker.bootstrap_servers

    def config(name: str, extra: dict[str, str]) -> dict[str, str]:
        props = {
            "name": name,
            "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
            "plugin.name": "pgoutput",
            **connection_properties(postgres_server, pg_database, name),
            **extra,
        }
        return {k: str(v) for k, v in props.items()}

    engine_docs = [
        connector_document(postgres_server, bootstrap, pg_database, name=f"engine{kind}{suffix}", **props)
        for kind, props in chains.items()
    ]
    debezium = DebeziumWorker(
        bootstrap, [config(plain, {}), *(config(f"dbz{kind}{suffix}", props) for kind, props in chains.items())]
    )
    with contextlib.ExitStack() as stack:
        stack.callback(debezium.stop)
        debezium.start().wait_streaming(1 + len(chains))
        for doc in engine_docs:
            stack.enter_context(EngineThread(doc))
            wait_streaming(postgres_server, doc)
        execute(
            dsn,
            "INSERT INTO items VALUES (3, 'cup', 12345678.99, 1, now(), '1999-12-31', 'top secret', '{}', '[1,2]')",
            "UPDATE items SET qty = 7, secret = 'changed' WHERE id = 1",
            "UPDATE items SET id = 20 WHERE id = 2",
            "DELETE FROM items WHERE id = 3",
        )
        # Every connector streams the same WAL; give them time to publish it before stopping.
        time.sleep(5)
    plain_records = read_prefix(bootstrap, plain)[f"{plain}.public.items"]
    # 2 snapshot reads, insert, update, key change (delete + tombstone + create), delete + tombstone.
    assert len(plain_records) == 9
    expected_counts = {"full": 9, "unwrap": 7}  # unwrap drops tombstones by default; deletes stay (null payload)
    for kind, props in chains.items():
        dbz, engine_name = f"dbz{kind}{suffix}", f"engine{kind}{suffix}"
        theirs = [
            {"topic": topic, "key": r["key"], "value": r["value"], "headers": _normalized(r["headers"])}
            for topic, records in read_prefix(bootstrap, dbz).items()
            for r in records
        ]
        ours = _ours(plain_records, plain, dbz, props)
        assert _by_key(ours) == _by_key(theirs), kind
        assert len(ours) == len(theirs) == expected_counts[kind], kind

        # cdc-engine itself, configured with the same transforms on its source connector, writes the same records,
        # source headers included (__debezium.context.*, oldkey/newkey): only the per-run id and the logical name
        # (each connector's own prefix) differ by nature.
        engine = [
            {"topic": topic, "key": r["key"], "value": r["value"], "headers": r["headers"]}
            for topic, records in read_prefix(bootstrap, engine_name).items()
            for r in records
        ]
        engine = [
            {
                **r,
                "headers": _normalized(
                    [[k, dbz if k.endswith("connectorLogicalName") else v] for k, v in r["headers"]]
                ),
            }
            for r in _renamed(engine, engine_name, dbz)
        ]
        assert _by_key(engine) == _by_key(theirs), kind
    assert {r["topic"] for r in theirs} == {f"{dbz}.public.items"}  # the last one: plain unwrap keeps the topic

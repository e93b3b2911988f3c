#!/usr/bin/env python
"""Cost of source-side transforms: records/s of a captured table emitting create events, pure Python (no Kafka).

Compares the pre-serialized fast path (no ``transforms``) with the structured path through the SMT chain and the
worker's JsonConverter, for ``transforms=unwrap`` and for ``unwrap,mask,route`` (+ a predicate):

    .venv/bin/python bench/transforms.py [--records N]
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from decimal import Decimal

from cdc.capture.columns import ColumnDescriptor, ColumnType, identity
from cdc.capture.converters import SourceConverters
from cdc.capture.emit import ChangeEmitter
from cdc.capture.table import TableBuilder
from cdc.capture.transform import SourceTransform
from cdc.events import SourceRecord
from cdc.filters import TableFilter
from schemas import logical
from schemas.connect import OPTIONAL_INT64, STRING, Field, Schema, struct
from schemas.converters.connect_json import JsonConverter as ConnectJsonConverter
from schemas.json_converter import JsonConverter
from sinks.transforms.chain import TransformChain

SOURCE = struct("bench.Source", [Field("name", STRING), Field("table", STRING), Field("lsn", OPTIONAL_INT64)])
COLUMNS = [
    ColumnDescriptor("id", ColumnType(Schema("int64"), identity), optional=False),
    ColumnDescriptor("name", ColumnType(Schema("string"), identity), optional=False),
    ColumnDescriptor("email", ColumnType(Schema("string"), identity)),
    ColumnDescriptor(
        "price", ColumnType(logical.decimal_schema("precise", 2, 10), lambda d: logical.decimal_bytes(d, 2))
    ),
    ColumnDescriptor("day", ColumnType(logical.date_schema("connect"), logical.epoch_days)),
    ColumnDescriptor("qty", ColumnType(Schema("int32"), identity)),
]
CHAINS: dict[str, dict[str, str] | None] = {
    "fast path (no transforms)": None,
    "unwrap": {"transforms": "unwrap", "transforms.unwrap.type": "io.debezium.transforms.ExtractNewRecordState"},
    "unwrap,mask,route + predicate": {
        "transforms": "unwrap,mask,route",
        "transforms.unwrap.type": "io.debezium.transforms.ExtractNewRecordState",
        "transforms.unwrap.add.fields": "op,table",
        "transforms.mask.type": "org.apache.kafka.connect.transforms.MaskField$Value",
        "transforms.mask.fields": "email",
        "transforms.mask.predicate": "t",
        "transforms.mask.negate": "true",
        "transforms.route.type": "org.apache.kafka.connect.transforms.RegexRouter",
        "transforms.route.regex": "([^.]+)\\.(.*)",
        "transforms.route.replacement": "$1.flat.$2",
        "predicates": "t",
        "predicates.t.type": "org.apache.kafka.connect.transforms.predicates.RecordIsTombstone",
    },
}


def converters(props: dict[str, str] | None) -> SourceConverters:
    transform = None
    if props:
        key, value = ConnectJsonConverter(), ConnectJsonConverter()
        key.configure({}, True)
        value.configure({}, False)
        transform = SourceTransform(TransformChain.from_properties(props), key, value)
    return SourceConverters(JsonConverter(True), JsonConverter(True), transform)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=50_000)
    args = parser.parse_args()
    values = [
        (i, f"name {i}", f"user{i}@example.com", Decimal(i) / 100, dt.date(2024, 1, 1), i % 7) for i in range(1000)
    ]
    source = {"name": "bench", "table": "items", "lsn": 1}
    for label, props in CHAINS.items():
        table = TableBuilder("bench", TableFilter(), converters(props), SOURCE, "__u").build(
            "t", "public", "items", COLUMNS, ["id"]
        )
        emitter = ChangeEmitter(frozenset(), True)
        out: list[SourceRecord] = []
        start = time.perf_counter()
        for i in range(args.records):
            emitter.create(table, table.row(values[i % 1000]), source, 0, out)
        elapsed = time.perf_counter() - start
        print(f"{label:32s} {args.records / elapsed:10,.0f} records/s  ({elapsed / args.records * 1e6:6.1f} µs/record)")


if __name__ == "__main__":
    main()

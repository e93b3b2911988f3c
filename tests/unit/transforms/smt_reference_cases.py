# ruff: noqa: E501 - a table of cases reads best one case per line
"""The SMT and predicate cases run through both the real Kafka Connect 4.3 / Debezium 3.6.3 (``reference/``) and
our implementations (``test_smt_reference.py``). Records are JsonConverter JSON, as they sit on a topic.

Adding a case: append it to ``CASES`` and re-record the reference outputs with
``.venv/bin/python tests/unit/transforms/reference/record_reference.py`` (needs Java 17 and the jars of
``/work/shared/tools/debezium-reference``).
"""

from __future__ import annotations

import copy
from typing import Any

K = "org.apache.kafka.connect.transforms."
P = "org.apache.kafka.connect.transforms.predicates."
DBZ = "io.debezium.transforms."


def s(type_: str, optional: bool = False, **extra: Any) -> dict[str, Any]:
    """A schema JSON node."""
    return {"type": type_, "optional": optional, **extra}


def f(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {**schema, "field": name}


def struct(fields: list[dict[str, Any]], optional: bool = False, **extra: Any) -> dict[str, Any]:
    return {"type": "struct", "fields": fields, "optional": optional, **extra}


ADDRESS = struct([f("street", s("string")), f("city", s("string", True))], True, name="Address")
USER = struct(
    [
        f("id", s("int32")),
        f("name", s("string", True)),
        f("age", s("int32", True, default=18)),
        f("email", s("string", True)),
        f(
            "price",
            s("bytes", True, name="org.apache.kafka.connect.data.Decimal", version=1, parameters={"scale": "2"}),
        ),
        f("created", s("int64", True, name="org.apache.kafka.connect.data.Timestamp", version=1)),
        f("birthday", s("int32", True, name="org.apache.kafka.connect.data.Date", version=1)),
        f("active", s("boolean", True)),
        f("score", s("double", True)),
        f("data", s("bytes", True)),
        f("address", ADDRESS),
        f("tags", s("array", True, items=s("string"))),
        f("ts_text", s("string", True)),
        f("ts_unix", s("int64", True)),
    ],
    name="shop.User",
    version=3,
    doc="a user",
)
USER_PAYLOAD = {
    "id": 7,
    "name": "Ann",
    "age": None,
    "email": "ann@example.com",
    "price": "MDk=",  # 123.45 (unscaled 12345)
    "created": 1700000000123,
    "birthday": 19000,
    "active": True,
    "score": 2.5,
    "data": "AQID",
    "address": {"street": "Main 1", "city": "Oslo"},
    "tags": ["a", "b"],
    "ts_text": "2024-03-05 14:07:09",
    "ts_unix": 1709647629000,
}
USER_VALUE = {"schema": USER, "payload": USER_PAYLOAD}
USER_KEY = {"schema": struct([f("id", s("int32"))], name="shop.Key"), "payload": {"id": 7}}
PLAIN = {
    "id": 7,
    "name": "Ann",
    "email": "ann@example.com",
    "score": 2.5,
    "active": True,
    "address": {"street": "Main 1", "city": "Oslo", "geo": {"lat": 1.5}},
    "tags": ["a", "b"],
    "ts_text": "2024-03-05 14:07:09",
    "ts_unix": 1709647629000,
    "nothing": None,
}

# A Debezium PostgreSQL change event (3.6 shape), the key and the source block.
ROW = struct(
    [
        f("id", s("int32")),
        f("name", s("string", True)),
        f("qty", s("int32", True, default=0)),
        f("route", s("string", True)),
    ],
    True,
    name="dbz.public.items.Value",
)
SOURCE = struct(
    [
        f("version", s("string")),
        f("connector", s("string")),
        f("name", s("string")),
        f("ts_ms", s("int64")),
        f(
            "snapshot",
            s(
                "string",
                True,
                name="io.debezium.data.Enum",
                version=1,
                parameters={
                    "allowed": "true,first,first_in_data_collection,last_in_data_collection,last,false,incremental"
                },
                default="false",
            ),
        ),
        f("db", s("string")),
        f("sequence", s("string", True)),
        f("ts_us", s("int64", True)),
        f("ts_ns", s("int64", True)),
        f("schema", s("string")),
        f("table", s("string")),
        f("txId", s("int64", True)),
        f("lsn", s("int64", True)),
        f("xmin", s("int64", True)),
    ],
    name="io.debezium.connector.postgresql.Source",
    version=1,
)
TX = struct(
    [f("id", s("string")), f("total_order", s("int64")), f("data_collection_order", s("int64"))],
    True,
    name="event.block",
    version=1,
)
ENVELOPE = struct(
    [
        f("before", ROW),
        f("after", ROW),
        f("source", SOURCE),
        f("transaction", TX),
        f("op", s("string")),
        f("ts_ms", s("int64", True)),
        f("ts_us", s("int64", True)),
        f("ts_ns", s("int64", True)),
    ],
    name="dbz.public.items.Envelope",
    version=2,
)
ITEMS_KEY = {"schema": struct([f("id", s("int32"))], name="dbz.public.items.Key"), "payload": {"id": 1}}


def event(op: str, before: dict[str, Any] | None, after: dict[str, Any] | None) -> dict[str, Any]:
    source = {
        "version": "3.6.3.Final",
        "connector": "postgresql",
        "name": "dbz",
        "ts_ms": 1764547200000,
        "snapshot": "false",
        "db": "shop",
        "sequence": '["100","200"]',
        "ts_us": 1764547200000000,
        "ts_ns": 1764547200000000000,
        "schema": "public",
        "table": "items",
        "txId": 770,
        "lsn": 23456789,
        "xmin": None,
    }
    payload = {
        "before": before,
        "after": after,
        "source": source,
        "transaction": None,
        "op": op,
        "ts_ms": 1764547200500,
        "ts_us": 1764547200500000,
        "ts_ns": 1764547200500000000,
    }
    return {"schema": ENVELOPE, "payload": payload}


ROW1 = {"id": 1, "name": "pen", "qty": 3, "route": "pens"}
ROW1B = {"id": 1, "name": "pen", "qty": None, "route": "pens"}
CREATE = event("c", None, ROW1)
UPDATE = event("u", ROW1B, {**ROW1, "qty": 4})
DELETE = event("d", ROW1, None)
TRUNCATE = event("t", None, None)
READ = event("r", None, ROW1)
HEARTBEAT = {
    "schema": struct([f("ts_ms", s("int64"))], name="io.debezium.connector.common.Heartbeat", version=1),
    "payload": {"ts_ms": 1},
}

OUTBOX_ROW = struct(
    [
        f("id", s("string", name="io.debezium.data.Uuid", version=1)),
        f("aggregatetype", s("string")),
        f("aggregateid", s("string")),
        f("type", s("string")),
        f("payload", s("string", True)),
        f("tenant", s("string", True)),
        f("part", s("int32", True)),
        f("created_us", s("int64", True, name="io.debezium.time.MicroTimestamp", version=1)),
    ],
    True,
    name="dbz.public.outbox.Value",
)
OUTBOX_ENVELOPE = copy.deepcopy(ENVELOPE)
OUTBOX_ENVELOPE["fields"][0] = f("before", OUTBOX_ROW)
OUTBOX_ENVELOPE["fields"][1] = f("after", OUTBOX_ROW)
OUTBOX_ENVELOPE["name"] = "dbz.public.outbox.Envelope"
OUTBOX_EVENT_ROW = {
    "id": "4f3c1a2e-0000-4000-8000-000000000001",
    "aggregatetype": "Order",
    "aggregateid": "o-17",
    "type": "OrderCreated",
    "payload": '{"order": 17, "lines": [{"sku": "a", "qty": 2}, {"sku": "b", "qty": 1, "note": "gift"}], "total": 12.5}',
    "tenant": "acme",
    "part": 2,
    "created_us": 1764547200123456,
}


def outbox(op: str, row: dict[str, Any] | None) -> dict[str, Any]:
    message = event(op, row if op in ("u", "d") else None, row if op != "d" else None)
    message["schema"] = OUTBOX_ENVELOPE
    return message


def case(
    id_: str,
    type_: str,
    props: dict[str, str],
    value: Any = None,
    key: Any = None,
    schemas: bool = True,
    topic: str = "shop.users",
    headers: list[list[Any]] | None = None,
    timestamp: int | None = 1709647629123,
    partition: int | None = 0,
    source: bool = False,
    predicate: bool = False,
) -> dict[str, Any]:
    c: dict[str, Any] = {
        "id": id_,
        "props": props,
        "schemas": schemas,
        "topic": topic,
        "partition": partition,
        "offset": 42,
        "timestamp": timestamp,
        "key": key,
        "value": value,
        "headers": headers or [],
        "source": source,
    }
    c["predicate_type" if predicate else "type"] = type_
    if type_.startswith(DBZ):  # Debezium's SMTs run on the source side (a SinkRecord needs a partition)
        c["source"] = True
    return c


CASES: list[dict[str, Any]] = [
    # InsertField
    case(
        "insert-schema",
        K + "InsertField$Value",
        {
            "topic.field": "t",
            "partition.field": "p!",
            "offset.field": "o",
            "timestamp.field": "ts",
            "static.field": "s",
            "static.value": "v",
        },
        USER_VALUE,
    ),
    case(
        "insert-schemaless",
        K + "InsertField$Value",
        {
            "topic.field": "t",
            "partition.field": "p",
            "offset.field": "o",
            "timestamp.field": "ts",
            "static.field": "s",
            "static.value": "v",
        },
        PLAIN,
        schemas=False,
    ),
    case("insert-null-value", K + "InsertField$Value", {"topic.field": "t"}, None),
    case("insert-key", K + "InsertField$Key", {"topic.field": "t"}, USER_VALUE, key=USER_KEY),
    case("insert-source-offset", K + "InsertField$Value", {"offset.field": "o"}, USER_VALUE, source=True),
    case("insert-no-timestamp", K + "InsertField$Value", {"timestamp.field": "ts"}, USER_VALUE, timestamp=None),
    case("insert-not-struct", K + "InsertField$Value", {"topic.field": "t"}, {"schema": s("string"), "payload": "x"}),
    case("insert-schemaless-not-map", K + "InsertField$Value", {"topic.field": "t"}, "x", schemas=False),
    case("insert-config-none", K + "InsertField$Value", {}, USER_VALUE),
    case("insert-config-static", K + "InsertField$Value", {"static.field": "s"}, USER_VALUE),
    # ReplaceField
    case("replace-include", K + "ReplaceField$Value", {"include": "id,name,age,price"}, USER_VALUE),
    case(
        "replace-exclude-renames",
        K + "ReplaceField$Value",
        {"exclude": "data,address", "renames": "name:full_name,id:user_id"},
        USER_VALUE,
    ),
    case(
        "replace-no-default",
        K + "ReplaceField$Value",
        {"include": "id,age", "replace.null.with.default": "false"},
        USER_VALUE,
    ),
    case(
        "replace-schemaless",
        K + "ReplaceField$Value",
        {"exclude": "address", "renames": "name:full_name"},
        PLAIN,
        schemas=False,
    ),
    case("replace-key", K + "ReplaceField$Key", {"renames": "id:key_id"}, USER_VALUE, key=USER_KEY),
    case("replace-null", K + "ReplaceField$Value", {"exclude": "a"}, None),
    case("replace-config-bad-rename", K + "ReplaceField$Value", {"renames": "a:b:c"}, USER_VALUE),
    # MaskField
    case(
        "mask-schema",
        K + "MaskField$Value",
        {"fields": "name,age,price,created,birthday,active,score,tags,email"},
        USER_VALUE,
    ),
    case("mask-replacement-string", K + "MaskField$Value", {"fields": "name,email", "replacement": "***"}, USER_VALUE),
    case(
        "mask-replacement-number", K + "MaskField$Value", {"fields": "id,score,price", "replacement": "42"}, USER_VALUE
    ),
    case("mask-bytes-error", K + "MaskField$Value", {"fields": "data"}, USER_VALUE),
    case("mask-struct-error", K + "MaskField$Value", {"fields": "address"}, USER_VALUE),
    case("mask-bool-replacement-error", K + "MaskField$Value", {"fields": "active", "replacement": "x"}, USER_VALUE),
    case("mask-number-bad-replacement", K + "MaskField$Value", {"fields": "id", "replacement": "abc"}, USER_VALUE),
    case(
        "mask-schemaless",
        K + "MaskField$Value",
        {"fields": "name,score,active,tags,address,missing"},
        PLAIN,
        schemas=False,
    ),
    case("mask-tombstone", K + "MaskField$Value", {"fields": "name"}, None),
    case("mask-config-empty", K + "MaskField$Value", {"fields": ""}, USER_VALUE),
    # ValueToKey
    case("v2k-schema", K + "ValueToKey", {"fields": "id,age"}, USER_VALUE),
    case("v2k-schemaless", K + "ValueToKey", {"fields": "id,missing"}, PLAIN, schemas=False),
    case("v2k-missing", K + "ValueToKey", {"fields": "id,nope"}, USER_VALUE),
    case("v2k-tombstone", K + "ValueToKey", {"fields": "id"}, None),
    case("v2k-config-missing", K + "ValueToKey", {}, USER_VALUE),
    # ExtractField
    case("extract-schema", K + "ExtractField$Value", {"field": "address"}, USER_VALUE),
    case("extract-default", K + "ExtractField$Value", {"field": "age"}, USER_VALUE),
    case(
        "extract-no-default",
        K + "ExtractField$Value",
        {"field": "age", "replace.null.with.default": "false"},
        USER_VALUE,
    ),
    case("extract-unknown", K + "ExtractField$Value", {"field": "nope"}, USER_VALUE),
    case("extract-schemaless", K + "ExtractField$Value", {"field": "address"}, PLAIN, schemas=False),
    case("extract-schemaless-missing", K + "ExtractField$Value", {"field": "nope"}, PLAIN, schemas=False),
    case("extract-null", K + "ExtractField$Value", {"field": "x"}, None),
    case(
        "extract-nested-v2",
        K + "ExtractField$Value",
        {"field": "address.city", "field.syntax.version": "V2"},
        USER_VALUE,
    ),
    case(
        "extract-nested-v2-schemaless",
        K + "ExtractField$Value",
        {"field": "address.geo.lat", "field.syntax.version": "V2"},
        PLAIN,
        schemas=False,
    ),
    case("extract-key", K + "ExtractField$Key", {"field": "id"}, USER_VALUE, key=USER_KEY),
    case("extract-config-missing", K + "ExtractField$Value", {}, USER_VALUE),
    # HoistField
    case("hoist-schema", K + "HoistField$Value", {"field": "wrapped"}, USER_VALUE),
    case("hoist-primitive", K + "HoistField$Value", {"field": "v"}, {"schema": s("string", True), "payload": "x"}),
    case("hoist-schemaless", K + "HoistField$Value", {"field": "v"}, PLAIN, schemas=False),
    case("hoist-key", K + "HoistField$Key", {"field": "k"}, USER_VALUE, key={"schema": s("int64"), "payload": 5}),
    # Cast
    case(
        "cast-fields",
        K + "Cast$Value",
        {
            "spec": "id:string,age:int64,score:int8,active:int32,name:boolean,price:float64,created:int64,birthday:string,data:string"
        },
        USER_VALUE,
    ),
    case(
        "cast-fields-2",
        K + "Cast$Value",
        {"spec": "score:float32,id:float64,active:string,created:string,ts_unix:int32"},
        USER_VALUE,
    ),
    case("cast-whole", K + "Cast$Value", {"spec": "string"}, {"schema": s("int64"), "payload": 12345678901}),
    case(
        "cast-whole-logical",
        K + "Cast$Value",
        {"spec": "int64"},
        {"schema": s("int32", name="org.apache.kafka.connect.data.Date", version=1), "payload": 19000},
    ),
    case("cast-string-number-error", K + "Cast$Value", {"spec": "name:int32"}, USER_VALUE),
    case("cast-struct-error", K + "Cast$Value", {"spec": "address:string"}, USER_VALUE),
    case(
        "cast-schemaless",
        K + "Cast$Value",
        {"spec": "id:string,score:int32,active:int8,ts_text:boolean"},
        PLAIN,
        schemas=False,
    ),
    case(
        "cast-schemaless-string-to-number",
        K + "Cast$Value",
        {"spec": "n:float64,i:int16"},
        {"n": "1.5e3", "i": "-12"},
        schemas=False,
    ),
    case("cast-schemaless-array-error", K + "Cast$Value", {"spec": "tags:string"}, PLAIN, schemas=False),
    case(
        "cast-wrap",
        K + "Cast$Value",
        {"spec": "big:int8,neg:int16,f:int32,huge:int32"},
        {"big": 300, "neg": -40000, "f": -2.9, "huge": 1e20},
        schemas=False,
    ),
    case("cast-key", K + "Cast$Key", {"spec": "string"}, USER_VALUE, key={"schema": s("int64"), "payload": 5}),
    case("cast-config-bad-type", K + "Cast$Value", {"spec": "a:array"}, USER_VALUE),
    case("cast-config-mixed", K + "Cast$Value", {"spec": "string,a:int32"}, USER_VALUE),
    # Flatten
    case("flatten-schema", K + "Flatten$Value", {}, USER_VALUE),
    case(
        "flatten-delimiter",
        K + "Flatten$Value",
        {"delimiter": "_"},
        {
            "schema": struct(
                [
                    f("a", struct([f("b", s("int32", default=5)), f("c", struct([f("d", s("string"))], True))], True)),
                    f("e", s("string")),
                ]
            ),
            "payload": {"a": {"b": 1, "c": None}, "e": "x"},
        },
    ),
    case(
        "flatten-null-parent",
        K + "Flatten$Value",
        {},
        {
            "schema": struct([f("a", struct([f("b", s("int32"))], True)), f("e", s("string"))]),
            "payload": {"a": None, "e": "x"},
        },
    ),
    case("flatten-schemaless", K + "Flatten$Value", {}, PLAIN, schemas=False),
    case(
        "flatten-map-error",
        K + "Flatten$Value",
        {},
        {"schema": struct([f("m", s("map", keys=s("string"), values=s("int32")))]), "payload": {"m": {"a": 1}}},
    ),
    case(
        "flatten-key",
        K + "Flatten$Key",
        {},
        USER_VALUE,
        key={"schema": struct([f("k", struct([f("id", s("int32"))]))]), "payload": {"k": {"id": 1}}},
    ),
    # TimestampConverter
    case(
        "tsconv-to-string",
        K + "TimestampConverter$Value",
        {"field": "created", "target.type": "string", "format": "yyyy-MM-dd'T'HH:mm:ss.SSSX"},
        USER_VALUE,
    ),
    case(
        "tsconv-to-unix",
        K + "TimestampConverter$Value",
        {"field": "created", "target.type": "unix", "unix.precision": "seconds"},
        USER_VALUE,
    ),
    case(
        "tsconv-string-to-ts",
        K + "TimestampConverter$Value",
        {"field": "ts_text", "target.type": "Timestamp", "format": "yyyy-MM-dd HH:mm:ss"},
        USER_VALUE,
    ),
    case(
        "tsconv-unix-to-date", K + "TimestampConverter$Value", {"field": "ts_unix", "target.type": "Date"}, USER_VALUE
    ),
    case(
        "tsconv-unix-to-time", K + "TimestampConverter$Value", {"field": "ts_unix", "target.type": "Time"}, USER_VALUE
    ),
    case(
        "tsconv-date-to-string",
        K + "TimestampConverter$Value",
        {"field": "birthday", "target.type": "string", "format": "dd/MM/yyyy"},
        USER_VALUE,
    ),
    case(
        "tsconv-micro",
        K + "TimestampConverter$Value",
        {"field": "ts_unix", "target.type": "unix", "unix.precision": "microseconds"},
        USER_VALUE,
    ),
    case(
        "tsconv-bad-string",
        K + "TimestampConverter$Value",
        {"field": "name", "target.type": "unix", "format": "yyyy-MM-dd"},
        USER_VALUE,
    ),
    case(
        "tsconv-schemaless-string",
        K + "TimestampConverter$Value",
        {"field": "ts_text", "target.type": "unix", "format": "yyyy-MM-dd HH:mm:ss"},
        PLAIN,
        schemas=False,
    ),
    case(
        "tsconv-schemaless-unix",
        K + "TimestampConverter$Value",
        {"field": "ts_unix", "target.type": "string", "format": "yyyyMMdd HHmm"},
        PLAIN,
        schemas=False,
    ),
    case(
        "tsconv-whole",
        K + "TimestampConverter$Value",
        {"target.type": "string", "format": "yyyy-MM-dd"},
        {"schema": s("int64"), "payload": 1709647629000},
    ),
    case(
        "tsconv-null-field",
        K + "TimestampConverter$Value",
        {"field": "created", "target.type": "unix"},
        {"schema": USER, "payload": {**USER_PAYLOAD, "created": None}},
    ),
    case("tsconv-wrong-schema", K + "TimestampConverter$Value", {"field": "score", "target.type": "unix"}, USER_VALUE),
    case(
        "tsconv-config-no-format", K + "TimestampConverter$Value", {"field": "x", "target.type": "string"}, USER_VALUE
    ),
    case("tsconv-config-bad-type", K + "TimestampConverter$Value", {"field": "x", "target.type": "epoch"}, USER_VALUE),
    # Routers, Filter
    case("regex-router", K + "RegexRouter", {"regex": "shop\\.(.*)", "replacement": "copy_$1"}, USER_VALUE),
    case("regex-router-no-match", K + "RegexRouter", {"regex": "other\\.(.*)", "replacement": "x"}, USER_VALUE),
    case("regex-router-partial", K + "RegexRouter", {"regex": "shop", "replacement": "x"}, USER_VALUE),
    case("ts-router-default", K + "TimestampRouter", {}, USER_VALUE),
    case(
        "ts-router-format",
        K + "TimestampRouter",
        {"topic.format": "${timestamp}_${topic}_${topic}", "timestamp.format": "yyyy-MM-dd'T'HH"},
        USER_VALUE,
    ),
    case("ts-router-no-ts", K + "TimestampRouter", {}, USER_VALUE, timestamp=None),
    case("filter", K + "Filter", {}, USER_VALUE),
    # Headers
    case(
        "header-from-copy",
        K + "HeaderFrom$Value",
        {
            "fields": "id,name,address,price,created,tags,score,data,active,age",
            "headers": "h_id,h_name,h_addr,h_price,h_created,h_tags,h_score,h_data,h_active,h_age",
            "operation": "copy",
        },
        USER_VALUE,
        headers=[["existing", "1"]],
    ),
    case(
        "header-from-move",
        K + "HeaderFrom$Value",
        {"fields": "id,email", "headers": "h_id,h_email", "operation": "move"},
        USER_VALUE,
    ),
    case(
        "header-from-schemaless",
        K + "HeaderFrom$Value",
        {"fields": "id,address,nothing,missing", "headers": "a,b,c,d", "operation": "move"},
        PLAIN,
        schemas=False,
    ),
    case(
        "header-from-key",
        K + "HeaderFrom$Key",
        {"fields": "id", "headers": "kid", "operation": "copy"},
        USER_VALUE,
        key=USER_KEY,
    ),
    case(
        "header-from-config",
        K + "HeaderFrom$Value",
        {"fields": "a,b", "headers": "x", "operation": "steal"},
        USER_VALUE,
    ),
    case(
        "insert-header",
        K + "InsertHeader",
        {"header": "source", "value.literal": "cdc-engine"},
        USER_VALUE,
        headers=[["source", "old"]],
    ),
    case("insert-header-number", K + "InsertHeader", {"header": "n", "value.literal": "0042"}, USER_VALUE),
    case(
        "drop-headers",
        K + "DropHeaders",
        {"headers": "a,c"},
        USER_VALUE,
        headers=[["a", "1"], ["b", "2"], ["c", None], ["a", "3"]],
    ),
    case("drop-headers-config", K + "DropHeaders", {"headers": ""}, USER_VALUE),
    # SetSchemaMetadata
    case(
        "set-schema",
        K + "SetSchemaMetadata$Value",
        {"schema.name": "com.example.User", "schema.version": "7"},
        USER_VALUE,
    ),
    case("set-schema-name-only", K + "SetSchemaMetadata$Value", {"schema.name": "x.Y"}, USER_VALUE),
    case("set-schema-key", K + "SetSchemaMetadata$Key", {"schema.version": "2"}, USER_VALUE, key=USER_KEY),
    case("set-schema-schemaless", K + "SetSchemaMetadata$Value", {"schema.name": "x"}, PLAIN, schemas=False),
    case("set-schema-schemaless-null", K + "SetSchemaMetadata$Value", {"schema.name": "x"}, None, schemas=False),
    case("set-schema-config", K + "SetSchemaMetadata$Value", {}, USER_VALUE),
    # Predicates
    case("p-topic-match", P + "TopicNameMatches", {"pattern": "shop\\..*"}, USER_VALUE, predicate=True),
    case("p-topic-partial", P + "TopicNameMatches", {"pattern": "shop"}, USER_VALUE, predicate=True),
    case("p-topic-config", P + "TopicNameMatches", {"pattern": "(unclosed"}, USER_VALUE, predicate=True),
    case("p-header-yes", P + "HasHeaderKey", {"name": "h"}, USER_VALUE, headers=[["h", None]], predicate=True),
    case("p-header-no", P + "HasHeaderKey", {"name": "h"}, USER_VALUE, headers=[["x", "1"]], predicate=True),
    case("p-tombstone-yes", P + "RecordIsTombstone", {}, None, key=USER_KEY, predicate=True),
    case("p-tombstone-no", P + "RecordIsTombstone", {}, USER_VALUE, predicate=True),
    # Debezium ExtractNewRecordState
    *[
        case(
            f"unwrap-{name}-{mode}",
            DBZ + "ExtractNewRecordState",
            {"delete.tombstone.handling.mode": mode},
            message,
            key=ITEMS_KEY,
            topic="dbz.public.items",
        )
        for mode in ("tombstone", "drop", "rewrite", "rewrite-with-tombstone", "delete-to-tombstone")
        for name, message in (
            ("create", CREATE),
            ("update", UPDATE),
            ("delete", DELETE),
            ("tombstone", None),
            ("truncate", TRUNCATE),
        )
    ],
    case(
        "unwrap-add-fields",
        DBZ + "ExtractNewRecordState",
        {"add.fields": "op,table,source.ts_ms,lsn:LSN,ts_ms,transaction.id,db,nope"},
        UPDATE,
        key=ITEMS_KEY,
        topic="dbz.public.items",
    ),
    case(
        "unwrap-add-fields-prefix-rewrite",
        DBZ + "ExtractNewRecordState",
        {"add.fields": "op,source.lsn", "add.fields.prefix": "meta_", "delete.tombstone.handling.mode": "rewrite"},
        DELETE,
        key=ITEMS_KEY,
        topic="dbz.public.items",
    ),
    case(
        "unwrap-add-headers",
        DBZ + "ExtractNewRecordState",
        {"add.headers": "op,db,source.ts_ms,lsn:LSN,txId,source,name", "add.headers.prefix": "dbz."},
        CREATE,
        key=ITEMS_KEY,
        topic="dbz.public.items",
    ),
    case(
        "unwrap-add-headers-tombstone",
        DBZ + "ExtractNewRecordState",
        {"add.headers": "op,db", "delete.tombstone.handling.mode": "rewrite-with-tombstone"},
        None,
        key=ITEMS_KEY,
        topic="dbz.public.items",
    ),
    case(
        "unwrap-route",
        DBZ + "ExtractNewRecordState",
        {"route.by.field": "route"},
        CREATE,
        key=ITEMS_KEY,
        topic="dbz.public.items",
    ),
    case(
        "unwrap-route-delete",
        DBZ + "ExtractNewRecordState",
        {"route.by.field": "route", "delete.tombstone.handling.mode": "rewrite"},
        DELETE,
        key=ITEMS_KEY,
        topic="dbz.public.items",
    ),
    case(
        "unwrap-route-missing",
        DBZ + "ExtractNewRecordState",
        {"route.by.field": "nope"},
        CREATE,
        key=ITEMS_KEY,
        topic="dbz.public.items",
    ),
    case("unwrap-read", DBZ + "ExtractNewRecordState", {}, READ, key=ITEMS_KEY, topic="dbz.public.items"),
    case(
        "unwrap-heartbeat",
        DBZ + "ExtractNewRecordState",
        {"add.headers": "op"},
        HEARTBEAT,
        topic="__debezium-heartbeat.dbz",
    ),
    case(
        "unwrap-schemaless",
        DBZ + "ExtractNewRecordState",
        {},
        {"before": None, "after": ROW1, "op": "c"},
        schemas=False,
        topic="dbz.public.items",
    ),
    case(
        "unwrap-drop-fields",
        DBZ + "ExtractNewRecordState",
        {"drop.fields.header.name": "drop"},
        UPDATE,
        key=ITEMS_KEY,
        topic="dbz.public.items",
        headers=[["drop", '["name","id"]']],
    ),
    case(
        "unwrap-drop-fields-unquoted",
        DBZ + "ExtractNewRecordState",
        {"drop.fields.header.name": "drop"},
        UPDATE,
        key=ITEMS_KEY,
        topic="dbz.public.items",
        headers=[["drop", "[name,id]"]],
    ),
    case(
        "unwrap-drop-fields-strict",
        DBZ + "ExtractNewRecordState",
        {
            "drop.fields.header.name": "drop",
            "drop.fields.keep.schema.compatible": "false",
            "drop.fields.from.key": "true",
        },
        UPDATE,
        key=ITEMS_KEY,
        topic="dbz.public.items",
        headers=[["drop", '["name","id"]']],
    ),
    case(
        "unwrap-no-default",
        DBZ + "ExtractNewRecordState",
        {"replace.null.with.default": "false", "delete.tombstone.handling.mode": "rewrite"},
        UPDATE,
        key=ITEMS_KEY,
        topic="dbz.public.items",
    ),
    case(
        "unwrap-config-bad-mode",
        DBZ + "ExtractNewRecordState",
        {"delete.tombstone.handling.mode": "nope"},
        CREATE,
        key=ITEMS_KEY,
        topic="dbz.public.items",
    ),
    # Debezium ByLogicalTableRouter
    case(
        "logical-router",
        DBZ + "ByLogicalTableRouter",
        {"topic.regex": "dbz\\.public\\.(item)s", "topic.replacement": "dbz.all_$1"},
        UPDATE,
        key=ITEMS_KEY,
        topic="dbz.public.items",
    ),
    case(
        "logical-router-keyregex",
        DBZ + "ByLogicalTableRouter",
        {
            "topic.regex": "(.*)items",
            "topic.replacement": "$1all",
            "key.field.regex": "dbz\\.(.*)\\.items",
            "key.field.replacement": "$1",
            "key.field.name": "shard",
        },
        DELETE,
        key=ITEMS_KEY,
        topic="dbz.public.items",
    ),
    case(
        "logical-router-no-unique",
        DBZ + "ByLogicalTableRouter",
        {"topic.regex": ".*", "topic.replacement": "all", "key.enforce.uniqueness": "false"},
        None,
        key=ITEMS_KEY,
        topic="dbz.public.items",
    ),
    case(
        "logical-router-no-match",
        DBZ + "ByLogicalTableRouter",
        {"topic.regex": "x", "topic.replacement": "all"},
        CREATE,
        key=ITEMS_KEY,
        topic="dbz.public.items",
    ),
    case(
        "logical-router-keyless",
        DBZ + "ByLogicalTableRouter",
        {"topic.regex": ".*", "topic.replacement": "all"},
        CREATE,
        topic="dbz.public.items",
    ),
    # Debezium outbox EventRouter
    case(
        "outbox-default",
        DBZ + "outbox.EventRouter",
        {},
        outbox("c", OUTBOX_EVENT_ROW),
        key=ITEMS_KEY,
        topic="dbz.public.outbox",
    ),
    case(
        "outbox-envelope",
        DBZ + "outbox.EventRouter",
        {
            "table.fields.additional.placement": "type:envelope:eventType,tenant:header,part:partition",
            "route.topic.replacement": "events.${routedByValue}",
        },
        outbox("c", OUTBOX_EVENT_ROW),
        topic="dbz.public.outbox",
    ),
    case(
        "outbox-expand-json",
        DBZ + "outbox.EventRouter",
        {"table.expand.json.payload": "true", "table.field.event.timestamp": "created_us"},
        outbox("r", OUTBOX_EVENT_ROW),
        topic="dbz.public.outbox",
    ),
    case("outbox-delete", DBZ + "outbox.EventRouter", {}, outbox("d", OUTBOX_EVENT_ROW), topic="dbz.public.outbox"),
    case("outbox-update", DBZ + "outbox.EventRouter", {}, outbox("u", OUTBOX_EVENT_ROW), topic="dbz.public.outbox"),
    case(
        "outbox-update-fatal",
        DBZ + "outbox.EventRouter",
        {"table.op.invalid.behavior": "fatal"},
        outbox("u", OUTBOX_EVENT_ROW),
        topic="dbz.public.outbox",
    ),
    case("outbox-tombstone", DBZ + "outbox.EventRouter", {}, None, topic="dbz.public.outbox"),
    case(
        "outbox-empty-payload",
        DBZ + "outbox.EventRouter",
        {"route.tombstone.on.empty.payload": "true"},
        outbox("c", {**OUTBOX_EVENT_ROW, "payload": None}),
        topic="dbz.public.outbox",
    ),
    case(
        "outbox-missing-extra",
        DBZ + "outbox.EventRouter",
        {"table.fields.additional.placement": "nope:header"},
        outbox("c", OUTBOX_EVENT_ROW),
        topic="dbz.public.outbox",
    ),
    # More corners
    case(
        "insert-key-schemaless",
        K + "InsertField$Key",
        {"static.field": "s", "static.value": "v"},
        PLAIN,
        key={"id": 1},
        schemas=False,
    ),
    case(
        "insert-no-partition",
        K + "InsertField$Value",
        {"partition.field": "p"},
        PLAIN,
        schemas=False,
        source=True,
        partition=None,
    ),
    case(
        "insert-required-no-timestamp", K + "InsertField$Value", {"timestamp.field": "ts!"}, USER_VALUE, timestamp=None
    ),
    case(
        "replace-renames-only-schemaless",
        K + "ReplaceField$Value",
        {"renames": "a:b,b:a"},
        {"a": 1, "b": 2, "c": 3},
        schemas=False,
    ),
    case("replace-rename-duplicate", K + "ReplaceField$Value", {"renames": "name:email"}, USER_VALUE),
    case(
        "mask-schemaless-replacement",
        K + "MaskField$Value",
        {"fields": "id,score,name", "replacement": "5"},
        PLAIN,
        schemas=False,
    ),
    case("mask-key", K + "MaskField$Key", {"fields": "id"}, USER_VALUE, key=USER_KEY),
    case(
        "cast-float32",
        K + "Cast$Value",
        {"spec": "a:float32,b:string,c:float64,d:boolean,e:string"},
        {
            "schema": struct(
                [f("a", s("double")), f("b", s("float")), f("c", s("float")), f("d", s("string")), f("e", s("double"))]
            ),
            "payload": {"a": 1.1, "b": 1.1, "c": 0.1, "d": "TRUE", "e": 1e21},
        },
    ),
    case("cast-int-to-string-schemaless", K + "Cast$Value", {"spec": "string"}, 12.5, schemas=False),
    case(
        "cast-bool-schemaless",
        K + "Cast$Value",
        {"spec": "a:boolean,b:boolean,c:int64"},
        {"a": 0, "b": 2.5, "c": True},
        schemas=False,
    ),
    case("cast-out-of-range-string", K + "Cast$Value", {"spec": "a:int8"}, {"a": "300"}, schemas=False),
    case("cast-default", K + "Cast$Value", {"spec": "age:string"}, USER_VALUE),
    case(
        "flatten-arrays-and-logical",
        K + "Flatten$Value",
        {"delimiter": "__"},
        {
            "schema": struct(
                [
                    f(
                        "outer",
                        struct(
                            [
                                f("when", s("int64", True, name="org.apache.kafka.connect.data.Timestamp", version=1)),
                                f("list", s("array", True, items=s("int32"))),
                            ],
                            True,
                            name="Outer",
                            doc="o",
                        ),
                    )
                ],
                name="Top",
            ),
            "payload": {"outer": {"when": 5, "list": [1, 2]}},
        },
    ),
    case(
        "tsconv-to-time-string", K + "TimestampConverter$Value", {"field": "created", "target.type": "Time"}, USER_VALUE
    ),
    case(
        "tsconv-timestamp-to-date",
        K + "TimestampConverter$Value",
        {"field": "created", "target.type": "Date"},
        USER_VALUE,
    ),
    case(
        "tsconv-nanos",
        K + "TimestampConverter$Value",
        {"field": "ts_unix", "target.type": "Timestamp", "unix.precision": "nanoseconds"},
        {"schema": USER, "payload": {**USER_PAYLOAD, "ts_unix": 1709647629123456789}},
    ),
    case(
        "tsconv-negative-seconds",
        K + "TimestampConverter$Value",
        {"target.type": "unix", "unix.precision": "seconds"},
        {"schema": s("int64", name="org.apache.kafka.connect.data.Timestamp", version=1), "payload": -1500},
    ),
    case(
        "tsconv-key",
        K + "TimestampConverter$Key",
        {"target.type": "string", "format": "yyyy"},
        USER_VALUE,
        key={"schema": s("int64"), "payload": 1709647629000},
    ),
    case(
        "tsconv-schemaless-whole-string",
        K + "TimestampConverter$Value",
        {"target.type": "Timestamp", "format": "yyyy-MM-dd"},
        "2024-03-05",
        schemas=False,
    ),
    case(
        "tsconv-schemaless-bad",
        K + "TimestampConverter$Value",
        {"field": "score", "target.type": "unix"},
        PLAIN,
        schemas=False,
    ),
    case(
        "header-from-bytes-key-struct",
        K + "HeaderFrom$Value",
        {"fields": "data,birthday,tags", "headers": "d,b,t", "operation": "copy"},
        USER_VALUE,
    ),
    case(
        "header-from-missing",
        K + "HeaderFrom$Value",
        {"fields": "nope", "headers": "n", "operation": "copy"},
        USER_VALUE,
    ),
    case("insert-header-bool", K + "InsertHeader", {"header": "b", "value.literal": "true"}, None),
    case(
        "set-schema-array",
        K + "SetSchemaMetadata$Value",
        {"schema.name": "arr", "schema.version": "2"},
        {"schema": s("array", items=s("string")), "payload": ["a"]},
    ),
    case(
        "set-schema-map",
        K + "SetSchemaMetadata$Value",
        {"schema.name": "m"},
        {"schema": s("map", keys=s("string"), values=s("int32")), "payload": {"a": 1}},
    ),
    case(
        "set-schema-primitive",
        K + "SetSchemaMetadata$Value",
        {"schema.name": "s"},
        {"schema": s("string"), "payload": "x"},
    ),
    case(
        "set-schema-default",
        K + "SetSchemaMetadata$Value",
        {"schema.name": "x", "replace.null.with.default": "false"},
        USER_VALUE,
    ),
    case("hoist-null-schema", K + "HoistField$Value", {"field": "v"}, None),
    case(
        "extract-v2-missing-parent",
        K + "ExtractField$Value",
        {"field": "nope.city", "field.syntax.version": "V2"},
        USER_VALUE,
    ),
    case(
        "extract-v2-null-parent",
        K + "ExtractField$Value",
        {"field": "address.city", "field.syntax.version": "V2"},
        {"schema": USER, "payload": {**USER_PAYLOAD, "address": None}},
    ),
    case("v2k-default", K + "ValueToKey", {"fields": "age", "replace.null.with.default": "false"}, USER_VALUE),
    case("p-topic-null-value", P + "TopicNameMatches", {"pattern": ".*users"}, None, predicate=True),
    case("p-header-config", P + "HasHeaderKey", {}, USER_VALUE, predicate=True),
    case(
        "regex-router-groups",
        K + "RegexRouter",
        {"regex": "(?<db>[^.]+)\\.(?<t>.*)", "replacement": "${t}_from_${db}"},
        USER_VALUE,
    ),
    case("regex-router-config", K + "RegexRouter", {"regex": "(", "replacement": "x"}, USER_VALUE),
    case(
        "unwrap-update-description",
        DBZ + "ExtractNewRecordState",
        {"add.fields": "updateDescription"},
        UPDATE,
        key=ITEMS_KEY,
        topic="dbz.public.items",
    ),
    case(
        "unwrap-add-fields-ts",
        DBZ + "ExtractNewRecordState",
        {"add.fields": "ts_ms,ts_us,ts_ns,source.snapshot,sequence,xmin", "delete.tombstone.handling.mode": "rewrite"},
        DELETE,
        key=ITEMS_KEY,
        topic="dbz.public.items",
    ),
    case(
        "unwrap-route-null",
        DBZ + "ExtractNewRecordState",
        {"route.by.field": "route"},
        event("c", None, {**ROW1, "route": None}),
        key=ITEMS_KEY,
        topic="dbz.public.items",
    ),
    case(
        "logical-router-avro",
        DBZ + "ByLogicalTableRouter",
        {"topic.regex": "(.*)", "topic.replacement": "9all-$1", "schema.name.adjustment.mode": "avro"},
        CREATE,
        key=ITEMS_KEY,
        topic="dbz.public.items",
    ),
    case(
        "logical-router-config",
        DBZ + "ByLogicalTableRouter",
        {"topic.regex": "x", "topic.replacement": "y", "key.field.regex": "z"},
        CREATE,
        key=ITEMS_KEY,
        topic="dbz.public.items",
    ),
    case(
        "outbox-schema-version",
        DBZ + "outbox.EventRouter",
        {"table.field.event.schema.version": "part", "table.fields.additional.placement": "type:envelope"},
        outbox("c", OUTBOX_EVENT_ROW),
        topic="dbz.public.outbox",
    ),
    case(
        "outbox-route-by",
        DBZ + "outbox.EventRouter",
        {
            "route.by.field": "tenant",
            "route.topic.regex": "(.*)",
            "route.topic.replacement": "t_$1",
            "table.field.event.key": "type",
        },
        outbox("c", OUTBOX_EVENT_ROW),
        topic="dbz.public.outbox",
    ),
    case("outbox-non-envelope", DBZ + "outbox.EventRouter", {}, HEARTBEAT, topic="dbz.public.outbox"),
    *[
        case(f"insert-header-literal-{i}", K + "InsertHeader", {"header": "h", "value.literal": literal}, None)
        for i, literal in enumerate(
            [
                "1.50",
                "-0",
                "1e3",
                "[1, 2,3]",
                '["a","b"]',
                "{a:1}",
                '{"k": "v"}',
                "2024-03-05",
                "12:30:00.000Z",
                "2024-03-05T12:30:00.000Z",
                " spaced ",
                "TRUE",
                "null",
                "99999999999999999999",
                "3.4028236E38",
                '"quoted"',
                "",
            ]
        )
    ],
    case(
        "p-topic-java-regex",
        P + "TopicNameMatches",
        {"pattern": "\\p{Lower}+\\.\\Qusers\\E"},
        USER_VALUE,
        predicate=True,
    ),
    case(
        "regex-router-possessive", K + "RegexRouter", {"regex": "(\\w++)\\.(.*+)", "replacement": "$2-$1"}, USER_VALUE
    ),
]

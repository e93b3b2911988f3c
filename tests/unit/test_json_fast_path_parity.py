"""The sources' JSON fast path (rows spliced into pre-serialized schema bytes) against the structured path (the same
record through an SMT chain and Connect's JsonConverter.from_connect): byte-identical for every combination of
``replace.null.with.default`` and ``decimal.format``, including Decimals longer than 28 digits."""

from __future__ import annotations

import base64
from decimal import Decimal
from typing import Any

import orjson
import pytest

from cdc.capture.columns import ColumnDescriptor, ColumnType, identity
from cdc.capture.converters import worker_converters
from cdc.capture.emit import ChangeEmitter
from cdc.capture.table import CapturedTable, TableBuilder, TransformedTable
from cdc.config import WorkerConfig
from cdc.events import SourceRecord
from cdc.filters import TableFilter
from schemas import logical
from schemas.connect import OPTIONAL_INT64, STRING, Field, Schema, struct
from schemas.converters.logical import bytes_to_decimal

SOURCE = struct("fake.Source", [Field("name", STRING), Field("table", STRING), Field("pos", OPTIONAL_INT64)])
INT = ColumnType(Schema("int64"), identity)
TEXT = ColumnType(Schema("string"), identity)
PRICE = ColumnType(logical.decimal_schema("precise", 2, 10), lambda d: logical.decimal_bytes(d, 2))
BIG = ColumnType(logical.decimal_schema("precise", 10, 38), lambda d: logical.decimal_bytes(d, 10))
HUGE = ColumnType(logical.decimal_schema("precise", 20, 60), lambda d: logical.decimal_bytes(d, 20))
COLUMNS = [
    ColumnDescriptor("id", INT, optional=False),
    ColumnDescriptor("price", PRICE, default=logical.decimal_bytes(Decimal("9.99"), 2)),
    ColumnDescriptor("note", TEXT, default="n/a"),
    ColumnDescriptor("big", BIG),
    ColumnDescriptor("huge", HUGE),
    ColumnDescriptor("tiny", PRICE),
]
ROW = (
    1,
    None,  # null in a column with a default
    None,
    Decimal("1234567890123456789012345678.0123456789"),  # NUMERIC(38,10): 38 significant digits
    Decimal("-1234567890123456789012345678901234567890.12345678901234567890"),  # precision 60
    Decimal("0.01"),
)
SRC = {"name": "srv", "table": "items", "pos": 7}
# A chain that lets every record through unchanged: the record takes the structured path.
PASS_THROUGH = {
    "transforms": "keep",
    "transforms.keep.type": "org.apache.kafka.connect.transforms.Filter",
    "transforms.keep.predicate": "never",
    "predicates": "never",
    "predicates.never.type": "org.apache.kafka.connect.transforms.predicates.TopicNameMatches",
    "predicates.never.pattern": "no-such-topic",
}


def _emit(worker: WorkerConfig, transforms: dict[str, str] | None) -> SourceRecord:
    builder = TableBuilder("srv", TableFilter(), worker_converters(worker, transforms), SOURCE, "__unavailable")
    table = builder.build("db1.items", "db1", "items", COLUMNS, ["id"])
    assert type(table) is (CapturedTable if transforms is None else TransformedTable)
    out: list[SourceRecord] = []
    ChangeEmitter(frozenset(), True).create(table, table.row(ROW), SRC, 0, out)
    return out[0]


@pytest.mark.parametrize("replace_null", ["true", "false", "FALSE"])
@pytest.mark.parametrize("decimal_format", ["BASE64", "NUMERIC", "numeric"])
def test_fast_path_writes_what_the_structured_path_writes(replace_null: str, decimal_format: str) -> None:
    worker = WorkerConfig.model_validate(
        {
            "bootstrap.servers": "x:1",
            "value.converter.replace.null.with.default": replace_null,
            "value.converter.decimal.format": decimal_format,
        }
    )
    fast, structured = _emit(worker, None), _emit(worker, PASS_THROUGH)
    assert fast.value == structured.value
    assert fast.key == structured.key
    assert fast.value is not None
    payload: dict[str, Any] = orjson.loads(fast.value)["payload"]["after"]
    if replace_null == "true":
        assert payload["note"] == "n/a"
    else:
        assert payload["note"] is None and payload["price"] is None
    if decimal_format.upper() == "NUMERIC":
        # Exact numbers in the JSON text (no float on the way), digits as Java's BigDecimal.toString writes them.
        text = fast.value.decode()
        assert '"big":1234567890123456789012345678.0123456789' in text
        assert '"huge":-1234567890123456789012345678901234567890.12345678901234567890' in text
        assert '"tiny":0.01' in text
        if replace_null == "true":
            assert '"price":9.99' in text
    else:
        assert bytes_to_decimal(base64.b64decode(payload["big"]), 10) == ROW[3]
        assert bytes_to_decimal(base64.b64decode(payload["huge"]), 20) == ROW[4]

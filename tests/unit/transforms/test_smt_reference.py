"""Every SMT and predicate against the real Kafka Connect 4.3 / Debezium 3.6.3 on the same records.

``reference/connect_reference.jsonl`` holds what the real Java SMTs produced for each case of
``smt_reference_cases.CASES`` (recorded by ``reference/record_reference.py`` through ``reference/SmtHarness.java``:
JsonConverter in, the SMT, JsonConverter and SimpleHeaderConverter out). Here our SMTs run on the same input and must
give the same topic, partition, timestamp, key and value JSON (schema and payload) and headers, drop the same
records, and fail (configuration or record error) where Connect fails.
"""

from __future__ import annotations

import decimal
import json
from pathlib import Path
from typing import Any

import pytest
from smt_connect_json import from_json, to_json
from smt_reference_cases import CASES

from cdc.errors import ConfigError
from schemas.record import ConnectRecord
from sinks.transforms import registry
from sinks.transforms.base import Predicate, Transformation, TransformError

REFERENCE = {
    r["id"]: r
    for r in map(json.loads, (Path(__file__).parent / "reference" / "connect_reference.jsonl").read_text().splitlines())
}


def _record(c: dict[str, Any]) -> ConnectRecord:
    key_schema, key = from_json(c["key"], c["schemas"])
    value_schema, value = from_json(c["value"], c["schemas"])
    headers = [(k, None if v is None else v.encode()) for k, v in c["headers"]]
    return ConnectRecord(
        c["topic"],
        key_schema,
        key,
        value_schema,
        value,
        partition=c["partition"],
        timestamp=c["timestamp"],
        headers=headers,
        kafka_offset=None if c["source"] else c["offset"],
    )


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_same_as_kafka_connect(case: dict[str, Any]) -> None:
    expected = REFERENCE[case["id"]]
    is_predicate = "predicate_type" in case
    canonical = registry.resolve(case["predicate_type"] if is_predicate else case["type"], is_predicate)
    assert canonical is not None
    instance = registry.instantiate(canonical, is_predicate)
    if "config_error" in expected:
        with pytest.raises(ConfigError):
            instance.configure(case["props"])
        return
    instance.configure(case["props"])
    record = _record(case)
    if is_predicate:
        assert isinstance(instance, Predicate)
        assert instance.test(record) == expected["test"]
        return
    assert isinstance(instance, Transformation)
    if "error_class" in expected:
        # Connect failed in the SMT or, for a few cases, in JsonConverter on the SMT's output (a masked Decimal
        # with scale 0, a Date-named int64 after Cast): then our SMT gives the same value and rendering fails.
        try:
            out = instance.apply(record)
        except TransformError:
            return
        assert out is not None, expected
        with pytest.raises((TypeError, ValueError, decimal.InvalidOperation)):
            to_json(out.value_schema, out.value, case["schemas"])
        return
    out = instance.apply(record)
    if expected.get("dropped"):
        assert out is None
        return
    assert out is not None
    actual = {
        "topic": out.topic,
        "partition": out.partition if out.partition is not None or case["source"] else 0,
        "timestamp": out.timestamp,
        "key": to_json(out.key_schema, out.key, case["schemas"]),
        "value": to_json(out.value_schema, out.value, case["schemas"]),
        "headers": [[k, None if v is None else v.decode()] for k, v in out.headers],
    }
    wanted = {k: expected[k] for k in actual}
    assert actual == wanted

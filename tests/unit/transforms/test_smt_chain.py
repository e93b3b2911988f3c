"""The chain builder: property parsing, every config problem at once, predicates with negate, drop semantics."""

from __future__ import annotations

import pytest

from cdc.errors import ConfigError
from schemas.record import ConnectRecord
from sinks.transforms.base import TransformError
from sinks.transforms.chain import ChainTransformError, TransformChain


def _rec(
    topic: str = "t", value: object = None, headers: list[tuple[str, bytes | None]] | None = None
) -> ConnectRecord:
    return ConnectRecord(topic, None, None, None, value, headers=headers or [])


def test_empty_chain() -> None:
    chain = TransformChain.from_properties({"name": "x", "connector.class": "postgres"})
    assert chain.empty
    record = _rec(value={"a": 1})
    assert chain.apply(record) is record


def test_full_and_short_class_names() -> None:
    chain = TransformChain.from_properties(
        {
            "transforms": "a, b",
            "transforms.a.type": "org.apache.kafka.connect.transforms.ReplaceField$Value",
            "transforms.a.exclude": "x",
            "transforms.b.type": "HoistField$Value",
            "transforms.b.field": "wrapped",
        }
    )
    assert not chain.empty
    out = chain.apply(_rec(value={"x": 1, "y": 2}))
    assert out is not None and out.value == {"wrapped": {"y": 2}}


def test_every_problem_reported_at_once() -> None:
    with pytest.raises(ConfigError) as info:
        TransformChain.from_properties(
            {
                "transforms": "a,b,c,c,d",
                "transforms.a.type": "org.apache.kafka.connect.transforms.NoSuchThing",
                "transforms.b.type": "org.apache.kafka.connect.transforms.InsertField",
                "transforms.c.type": "ExtractField$Value",
                "transforms.d.type": "ValueToKey",
                "transforms.d.fields": "id",
                "transforms.d.negate": "true",
                "transforms.zz.type": "Filter",
                "predicates": "p",
                "predicates.p.type": "TopicNameMatches",
            }
        )
    problems = info.value.problems
    text = "\n".join(problems)
    assert "transforms: duplicate alias provided: c" in text
    assert (
        "transforms.a.type='org.apache.kafka.connect.transforms.NoSuchThing' is not a supported transformation" in text
    )
    assert "needs a $Key or $Value suffix" in text
    assert "transforms.c.field is required" in text
    assert "transforms.d.negate was provided but there is no transforms.d.predicate" in text
    assert "transforms.zz.* properties are set but 'zz' is not listed" in text
    assert "predicates.p.pattern is required" in text
    assert len(problems) == 7


def test_undeclared_predicate() -> None:
    with pytest.raises(ConfigError, match=r"transforms.f.predicate='p' is not declared in predicates"):
        TransformChain.from_properties(
            {"transforms": "f", "transforms.f.type": "Filter", "transforms.f.predicate": "p"}
        )


def test_predicate_and_negate_select_records() -> None:
    props = {
        "transforms": "drop",
        "transforms.drop.type": "org.apache.kafka.connect.transforms.Filter",
        "transforms.drop.predicate": "isFoo",
        "predicates": "isFoo",
        "predicates.isFoo.type": "org.apache.kafka.connect.transforms.predicates.TopicNameMatches",
        "predicates.isFoo.pattern": "foo.*",
    }
    chain = TransformChain.from_properties(props)
    assert chain.apply(_rec("foo1", {"a": 1})) is None
    assert chain.apply(_rec("bar", {"a": 1})) is not None
    negated = TransformChain.from_properties({**props, "transforms.drop.negate": "true"})
    assert negated.apply(_rec("foo1", {"a": 1})) is not None
    assert negated.apply(_rec("bar", {"a": 1})) is None


def test_drop_ends_chain_and_errors_name_the_stage() -> None:
    chain = TransformChain.from_properties(
        {
            "transforms": "x,f",
            "transforms.x.type": "ExtractField$Value",
            "transforms.x.field": "inner",
            "transforms.f.type": "Filter",
        }
    )
    assert chain.apply(_rec(value={"inner": {"a": 1}})) is None
    with pytest.raises(ChainTransformError) as info:
        chain.apply(_rec(value="not a map"))
    assert isinstance(info.value, TransformError)
    assert info.value.alias == "x"
    assert info.value.class_name == "org.apache.kafka.connect.transforms.ExtractField$Value"
    assert "Only Map objects supported in absence of schema for [field extraction], found: java.lang.String" in str(
        info.value
    )

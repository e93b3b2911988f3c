"""The known SMT and predicate types, by their Kafka Connect / Debezium class names.

``transforms.<alias>.type`` accepts the full Java class name (``org.apache.kafka.connect.transforms.InsertField$Value``)
or the short name Connect also accepts as a plugin alias (``InsertField$Value``). The table maps each full name to the
Python class implementing it (``module:Class``); modules are imported only when a chain uses them.
"""

from __future__ import annotations

import importlib

from sinks.transforms.base import Predicate, Transformation

_KAFKA = "org.apache.kafka.connect.transforms."
_DBZ = "io.debezium.transforms."

# Kafka Connect transforms that come in $Key / $Value variants: name → module.
_KEY_VALUE = {
    "InsertField": "fields",
    "ReplaceField": "fields",
    "MaskField": "fields",
    "ExtractField": "fields",
    "HoistField": "fields",
    "Flatten": "fields",
    "SetSchemaMetadata": "fields",
    "Cast": "cast",
    "TimestampConverter": "timestamp",
    "HeaderFrom": "headers",
}

TRANSFORMS: dict[str, str] = {
    **{
        f"{_KAFKA}{name}${part}": f"sinks.transforms.{module}:{name}{part}"
        for name, module in _KEY_VALUE.items()
        for part in ("Key", "Value")
    },
    f"{_KAFKA}ValueToKey": "sinks.transforms.fields:ValueToKey",
    f"{_KAFKA}RegexRouter": "sinks.transforms.routing:RegexRouter",
    f"{_KAFKA}TimestampRouter": "sinks.transforms.routing:TimestampRouter",
    f"{_KAFKA}Filter": "sinks.transforms.routing:Filter",
    f"{_KAFKA}InsertHeader": "sinks.transforms.headers:InsertHeader",
    f"{_KAFKA}DropHeaders": "sinks.transforms.headers:DropHeaders",
    f"{_DBZ}ExtractNewRecordState": "sinks.transforms.debezium.unwrap:ExtractNewRecordState",
    f"{_DBZ}outbox.EventRouter": "sinks.transforms.debezium.outbox:EventRouter",
    f"{_DBZ}ByLogicalTableRouter": "sinks.transforms.debezium.logical_table_router:ByLogicalTableRouter",
}

PREDICATES: dict[str, str] = {
    f"{_KAFKA}predicates.TopicNameMatches": "sinks.transforms.predicates:TopicNameMatches",
    f"{_KAFKA}predicates.HasHeaderKey": "sinks.transforms.predicates:HasHeaderKey",
    f"{_KAFKA}predicates.RecordIsTombstone": "sinks.transforms.predicates:RecordIsTombstone",
}

# Transforms Connect cannot instantiate without a $Key/$Value suffix: named so the error can say which to use.
ABSTRACT = frozenset(f"{_KAFKA}{name}" for name in _KEY_VALUE) | frozenset(_KEY_VALUE)


def _aliases(table: dict[str, str]) -> dict[str, str]:
    """Full names plus short names (the part after the last dot, as Connect's plugin aliases)."""
    out = dict(table)
    for full, target in table.items():
        out.setdefault(full.rsplit(".", 1)[-1], target)
    return out


_TRANSFORM_NAMES = _aliases(TRANSFORMS)
_PREDICATE_NAMES = _aliases(PREDICATES)


def resolve(type_name: str, predicate: bool) -> str | None:
    """The canonical Java class name for ``type_name`` (full or short), or None if unknown."""
    table, names = (PREDICATES, _PREDICATE_NAMES) if predicate else (TRANSFORMS, _TRANSFORM_NAMES)
    target = names.get(type_name.strip())
    if target is None:
        return None
    return next(full for full, t in table.items() if t == target)


def instantiate(canonical: str, predicate: bool) -> Transformation | Predicate:
    """A new, unconfigured instance of the class registered for ``canonical`` (a name :func:`resolve` returned)."""
    table = PREDICATES if predicate else TRANSFORMS
    module_name, class_name = table[canonical].split(":")
    instance = getattr(importlib.import_module(module_name), class_name)()
    assert isinstance(instance, Predicate if predicate else Transformation)
    return instance


def known_names(predicate: bool) -> list[str]:
    """Every accepted full name, for error messages and the README."""
    return sorted(PREDICATES if predicate else TRANSFORMS)

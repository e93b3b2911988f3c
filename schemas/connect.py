"""The Kafka Connect schema model, as far as change events need it.

A :class:`Schema` is immutable and renders itself in exactly the JSON form Kafka Connect's ``JsonConverter``
writes into the ``schema`` part of a ``{"schema": ..., "payload": ...}`` message (same key order, so output is
byte-comparable with a Connect worker's). Schemas are built once per table version by the connectors; nothing
here runs per row.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

# Connect's FLOAT32/FLOAT64 are spelled "float"/"double" in JsonConverter's schema JSON (JsonSchema.java).
_JSON_TYPE_NAMES = {"float32": "float", "float64": "double"}


@dataclass(frozen=True)
class Field:
    """A named member of a struct schema."""

    name: str
    schema: Schema


@dataclass(frozen=True)
class Schema:
    """A Connect schema: a type plus the optional name/version/parameters that make it a logical type."""

    type: str
    optional: bool = False
    name: str | None = None
    version: int | None = None
    parameters: dict[str, str] | None = None
    default: Any = None
    fields: tuple[Field, ...] = ()
    items: Schema | None = None  # array: the element schema; map: the value schema
    doc: str | None = None
    keys: Schema | None = None  # map: the key schema

    def __hash__(self) -> int:
        # ``parameters`` is a dict, so the generated hash would fail; schemas are compared by value.
        return hash((self.type, self.optional, self.name, self.version, self.fields, self.items, self.keys))

    def with_optional(self, optional: bool) -> Schema:
        """The same schema with a different ``optional`` flag (column nullability is decided per table)."""
        return Schema(
            self.type,
            optional,
            self.name,
            self.version,
            self.parameters,
            self.default,
            self.fields,
            self.items,
            self.doc,
            self.keys,
        )

    def to_json(self) -> dict[str, Any]:
        """The schema as Connect's JsonConverter renders it (key order matters for byte equality)."""
        out: dict[str, Any] = {"type": _JSON_TYPE_NAMES.get(self.type, self.type)}
        if self.type == "struct":
            out["fields"] = [{**f.schema.to_json(), "field": f.name} for f in self.fields]
        elif self.type == "array":
            assert self.items is not None
            out["items"] = self.items.to_json()
        elif self.type == "map":
            assert self.keys is not None and self.items is not None
            out["keys"] = self.keys.to_json()
            out["values"] = self.items.to_json()
        out["optional"] = self.optional
        if self.name is not None:
            out["name"] = self.name
        if self.version is not None:
            out["version"] = self.version
        if self.doc is not None:
            out["doc"] = self.doc
        if self.parameters is not None:
            out["parameters"] = self.parameters
        if self.default is not None:
            # bytes defaults (Decimal, bytea) are written base64, like bytes values
            is_bytes = isinstance(self.default, bytes)
            out["default"] = base64.b64encode(self.default).decode("ascii") if is_bytes else self.default
        return out

    def field(self, name: str) -> Field | None:
        """The struct field called ``name``, or None (Connect's ``Schema.field``); used by the SMTs."""
        for f in self.fields:
            if f.name == name:
                return f
        return None


def struct(name: str | None, fields: list[Field], optional: bool = False, version: int | None = None) -> Schema:
    """Shorthand for a struct schema."""
    return Schema("struct", optional=optional, name=name, version=version, fields=tuple(fields))


# Frequently used primitives.
STRING = Schema("string")
OPTIONAL_STRING = Schema("string", optional=True)
INT64 = Schema("int64")
OPTIONAL_INT64 = Schema("int64", optional=True)

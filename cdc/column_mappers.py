"""Debezium's column mappers and message key columns, connector-neutral.

Properties (Debezium names; the column lists are comma-separated regular expressions matched, case-insensitively,
against the whole ``<schema>.<table>.<column>``; datatype lists against ``<schema>.<table>.<type name>``):

* ``column.truncate.to.<N>.chars``: string values cut to N characters; field parameter ``truncateLength``;
* ``column.mask.with.<N>.chars``: every value, null included, becomes N ``*``; parameter ``masked``;
* ``column.mask.hash.<algorithm>.with.salt.<salt>``: the hex digest of salt + the Java-serialized string (Debezium's
  default V1 hashing); nulls stay null; parameter ``masked``;
* ``column.propagate.source.type`` / ``datatype.propagate.source.type``: parameters
  ``__debezium.source.column.type``/``length``/``scale``/``name``;
* ``message.key.columns``: ``<table regex>:<column>[,<column>…]`` entries separated by ``;``: the record key is
  made of these columns instead of the primary key.

As in Debezium, one mapper applies per column: the first of truncate, mask, hash, propagate (by column, then by
datatype) that matches. Checked against Debezium 3.6.3 by tests/conformance. Built once per connector; applied
when a table version is built (nothing runs per row except the value functions).
"""

from __future__ import annotations

import hashlib
import re
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

_TRUNCATE = re.compile(r"^column\.truncate\.to\.(\d+)\.chars$")
_MASK = re.compile(r"^column\.mask\.with\.(\d+)\.chars$")
_HASH = re.compile(r"^column\.mask\.hash\.(?P<algorithm>[^.]+(?:-[^.]+)?)\.with\.salt\.(?P<salt>.+)$")
_JAVA_DIGESTS = {"MD5": "md5", "SHA-1": "sha1", "SHA-224": "sha224", "SHA-256": "sha256"}
_JAVA_DIGESTS.update({"SHA-384": "sha384", "SHA-512": "sha512", "SHA3-256": "sha3_256", "SHA3-512": "sha3_512"})


def _patterns(value: str) -> list[re.Pattern[str]]:
    return [re.compile(p.strip(), re.IGNORECASE) for p in value.split(",") if p.strip()]


def _matches(patterns: list[re.Pattern[str]], name: str) -> bool:
    return any(p.fullmatch(name) for p in patterns)


def java_serialized_string(text: str) -> bytes:
    """java.io.ObjectOutputStream.writeObject(String): stream header, TC_STRING, modified UTF-8 with its length."""
    data = text.replace("\x00", "\ud800").encode("utf-8", "surrogatepass").replace(b"\xed\xa0\x80", b"\xc0\x80")
    if len(data) <= 0xFFFF:
        return b"\xac\xed\x00\x05t" + struct.pack(">H", len(data)) + data
    return b"\xac\xed\x00\x05|" + struct.pack(">Q", len(data)) + data


@dataclass(frozen=True)
class ColumnMapping:
    """What a mapper does to one column: new field parameters, a value function, the value for a null."""

    parameters: dict[str, str]
    convert: Callable[[Any], Any] | None  # applied to the converted (non-null) value
    null_value: Any = None  # what a null becomes (the mask), None: stays null


class ColumnMappers:
    """The mappers configured for one connector."""

    def __init__(self, props: Mapping[str, Any]) -> None:
        self.truncate: list[tuple[list[re.Pattern[str]], int]] = []
        self.mask: list[tuple[list[re.Pattern[str]], int]] = []
        self.hash: list[tuple[list[re.Pattern[str]], str, bytes]] = []
        self.propagate_columns: list[re.Pattern[str]] = []
        self.propagate_types: list[re.Pattern[str]] = []
        self.key_columns: list[tuple[re.Pattern[str], tuple[str, ...]]] = []
        for key, value in props.items():
            if not isinstance(value, str) or not value.strip():
                continue
            if m := _TRUNCATE.match(key):
                self.truncate.append((_patterns(value), int(m.group(1))))
            elif m := _MASK.match(key):
                self.mask.append((_patterns(value), int(m.group(1))))
            elif m := _HASH.match(key):
                self.hash.append((_patterns(value), m.group("algorithm"), m.group("salt").encode()))
            elif key == "column.propagate.source.type":
                self.propagate_columns = _patterns(value)
            elif key == "datatype.propagate.source.type":
                self.propagate_types = _patterns(value)
            elif key == "message.key.columns":
                for entry in value.split(";"):
                    table, _, columns = entry.strip().rpartition(":")
                    if table and columns:
                        names = tuple(c.strip() for c in columns.split(",") if c.strip())
                        self.key_columns.append((re.compile(table.strip(), re.IGNORECASE), names))

    @staticmethod
    def problems(props: Mapping[str, Any]) -> list[str]:
        """Configuration problems: unknown hash algorithms, bad regular expressions, malformed key columns."""
        out = []
        for key, value in props.items():
            m = _HASH.match(key)
            if m and m.group("algorithm").upper() not in _JAVA_DIGESTS:
                out.append(f"config.{key}: unknown hash algorithm {m.group('algorithm')!r}; use e.g. SHA-256")
            if (_TRUNCATE.match(key) or _MASK.match(key) or m or key.endswith("propagate.source.type")) and isinstance(
                value, str
            ):
                for part in value.split(","):
                    try:
                        re.compile(part.strip())
                    except re.error as exc:
                        out.append(f"config.{key}: invalid regular expression {part.strip()!r}: {exc}")
            if key == "message.key.columns" and isinstance(value, str):
                for entry in value.split(";"):
                    if entry.strip() and ":" not in entry:
                        out.append(f"config.message.key.columns: {entry.strip()!r} is not <table regex>:<columns>")
        return out

    @property
    def empty(self) -> bool:
        """No column mapper configured (message.key.columns aside)."""
        return not (self.truncate or self.mask or self.hash or self.propagate_columns or self.propagate_types)

    @property
    def empty_for_tables(self) -> bool:
        """Nothing here changes how tables are built."""
        return self.empty and not self.key_columns

    def key_columns_for(self, schema: str, table: str) -> tuple[str, ...] | None:
        """The message.key.columns of ``schema.table``, or None (the primary key is the key)."""
        for pattern, names in self.key_columns:
            if pattern.fullmatch(f"{schema}.{table}"):
                return names
        return None

    def mapping(
        self,
        schema: str,
        table: str,
        column: str,
        type_name: str,
        length: int | None,
        source_type: Callable[[], dict[str, str]],
    ) -> ColumnMapping | None:
        """The mapping of one column, or None. ``length`` is the column's declared length (varchar(n)), if any;
        ``source_type`` gives the propagate parameters when needed."""
        full = f"{schema}.{table}.{column}"
        for patterns, max_chars in self.truncate:
            if _matches(patterns, full):
                return ColumnMapping({"truncateLength": str(max_chars)}, _truncator(max_chars))
        for patterns, mask_chars in self.mask:
            if _matches(patterns, full):
                mask = "*" * mask_chars
                return ColumnMapping({"masked": "true"}, _constant(mask), null_value=mask)
        for patterns, algorithm, salt in self.hash:
            if _matches(patterns, full):
                # Debezium shortens the hash to the column's declared length
                return ColumnMapping({"masked": "true"}, _hasher(algorithm, salt, length))
        if self.empty:
            return None
        if _matches(self.propagate_columns, full) or _matches(self.propagate_types, f"{schema}.{table}.{type_name}"):
            return ColumnMapping(source_type(), None)
        return None


def _constant(value: str) -> Callable[[Any], Any]:
    def mask(_value: Any) -> Any:
        return value

    return mask


def _truncator(length: int) -> Callable[[Any], Any]:
    def truncate(value: Any) -> Any:
        return value[:length] if isinstance(value, str) and len(value) > length else value

    return truncate


def _hasher(algorithm: str, salt: bytes, length: int | None) -> Callable[[Any], Any]:
    name = _JAVA_DIGESTS.get(algorithm.upper(), algorithm.lower().replace("-", ""))

    def hash_value(value: Any) -> Any:
        if not isinstance(value, str):
            return value
        digest = hashlib.new(name)
        digest.update(salt)
        digest.update(java_serialized_string(value))
        return digest.hexdigest()[:length] if length else digest.hexdigest()

    return hash_value

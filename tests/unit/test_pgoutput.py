"""pgoutput decoder: messages built byte by byte per "Logical Replication Message Formats" (protocol version 1)."""

from __future__ import annotations

import struct

import pytest

from cdc.errors import FatalError
from cdc.postgres.pgoutput import (
    UNCHANGED_TOAST,
    Begin,
    Commit,
    Delete,
    Insert,
    LogicalMessage,
    Origin,
    Relation,
    RelationColumn,
    Truncate,
    TypeInfo,
    Update,
    decode,
)

# ---------------------------------------------------------------------------------------------------------------
# message builders (Int8/16/32/64 are big-endian; String is NUL-terminated)


def i8(v: int) -> bytes:
    return struct.pack(">b", v)


def i16(v: int) -> bytes:
    return struct.pack(">h", v)


def i32(v: int) -> bytes:
    return struct.pack(">i", v)


def u32(v: int) -> bytes:
    return struct.pack(">I", v)


def i64(v: int) -> bytes:
    return struct.pack(">q", v)


def cstr(s: str) -> bytes:
    return s.encode() + b"\x00"


def tuple_data(*columns: object) -> bytes:
    """TupleData: Int16 count, then per column 'n' (null), 'u' (unchanged TOAST) or 't' Int32 len + text."""
    out = i16(len(columns))
    for col in columns:
        if col is None:
            out += b"n"
        elif col is UNCHANGED_TOAST:
            out += b"u"
        else:
            assert isinstance(col, str)
            data = col.encode()
            out += b"t" + i32(len(data)) + data
    return out


# ---------------------------------------------------------------------------------------------------------------


def test_begin() -> None:
    msg = b"B" + i64(0x16B374D848) + i64(757_382_400_123_456) + i32(7_654_321)
    assert decode(msg) == Begin(final_lsn=0x16B374D848, commit_ts=757_382_400_123_456, xid=7_654_321)


def test_begin_xid_above_int32_range() -> None:
    # xid is an unsigned 32-bit value on the wire (TransactionId); 3_000_000_000 does not fit a signed Int32.
    msg = b"B" + i64(1) + i64(2) + u32(3_000_000_000)
    assert decode(msg).xid == 3_000_000_000  # type: ignore[union-attr]


def test_commit() -> None:
    msg = b"C" + i8(0) + i64(0x100) + i64(0x138) + i64(12345)
    assert decode(msg) == Commit(flags=0, commit_lsn=0x100, end_lsn=0x138, commit_ts=12345)


def test_relation() -> None:
    msg = (
        b"R"
        + u32(16385)
        + cstr("public")
        + cstr("orders")
        + b"d"
        + i16(3)
        + i8(1)
        + cstr("id")
        + u32(23)
        + i32(-1)
        + i8(0)
        + cstr("amount")
        + u32(1700)
        + i32((10 << 16 | 2) + 4)
        + i8(0)
        + cstr("naïve")
        + u32(25)
        + i32(-1)
    )
    assert decode(msg) == Relation(
        relid=16385,
        namespace="public",
        name="orders",
        replica_identity="d",
        columns=(
            RelationColumn(True, "id", 23, -1),
            RelationColumn(False, "amount", 1700, (10 << 16 | 2) + 4),
            RelationColumn(False, "naïve", 25, -1),
        ),
    )


def test_relation_in_pg_catalog_has_empty_namespace() -> None:
    msg = b"R" + u32(1) + cstr("") + cstr("t") + b"f" + i16(0)
    rel = decode(msg)
    assert isinstance(rel, Relation)
    assert rel.namespace == "pg_catalog" and rel.replica_identity == "f" and rel.columns == ()


def test_insert_with_text_null_and_unicode() -> None:
    msg = b"I" + u32(16385) + b"N" + tuple_data("42", None, "héllo wörld ✓", "")
    assert decode(msg) == Insert(relid=16385, new=["42", None, "héllo wörld ✓", ""])


def test_insert_value_containing_nul_free_binary_like_text() -> None:
    # Lengths count bytes, not characters; a value may contain anything but NUL (text format).
    value = "a\tb\nc\\d" + "€" * 100
    msg = b"I" + u32(5) + b"N" + tuple_data(value, "x")
    assert decode(msg) == Insert(relid=5, new=[value, "x"])


def test_update_without_old_tuple() -> None:
    msg = b"U" + u32(7) + b"N" + tuple_data("1", "new", UNCHANGED_TOAST)
    decoded = decode(msg)
    assert decoded == Update(relid=7, old_kind=None, old=None, new=["1", "new", UNCHANGED_TOAST])
    assert isinstance(decoded, Update) and decoded.new[2] is UNCHANGED_TOAST


def test_update_with_old_key() -> None:
    msg = b"U" + u32(7) + b"K" + tuple_data("1", None, None) + b"N" + tuple_data("2", "b", None)
    assert decode(msg) == Update(relid=7, old_kind="K", old=["1", None, None], new=["2", "b", None])


def test_update_with_old_full_row() -> None:
    msg = b"U" + u32(7) + b"O" + tuple_data("1", "a", "x" * 300) + b"N" + tuple_data("1", "b", UNCHANGED_TOAST)
    assert decode(msg) == Update(relid=7, old_kind="O", old=["1", "a", "x" * 300], new=["1", "b", UNCHANGED_TOAST])


def test_delete_with_key_and_full_row() -> None:
    assert decode(b"D" + u32(9) + b"K" + tuple_data("5", None)) == Delete(relid=9, old_kind="K", old=["5", None])
    assert decode(b"D" + u32(9) + b"O" + tuple_data("5", "v")) == Delete(relid=9, old_kind="O", old=["5", "v"])


def test_truncate() -> None:
    msg = b"T" + i32(3) + i8(3) + u32(16385) + u32(16390) + u32(4_000_000_000)
    assert decode(msg) == Truncate(options=3, relids=(16385, 16390, 4_000_000_000))


def test_type_origin_and_logical_message() -> None:
    assert decode(b"Y" + u32(16400) + cstr("public") + cstr("mood")) == TypeInfo(16400, "public", "mood")
    assert decode(b"O" + i64(0xABC) + cstr("upstream")) == Origin(0xABC, "upstream")
    content = b"\x00\x01payload"
    msg = b"M" + i8(1) + i64(0x200) + cstr("audit") + i32(len(content)) + content
    assert decode(msg) == LogicalMessage(transactional=True, lsn=0x200, prefix="audit", content=content)


def test_binary_tuple_value_is_fatal() -> None:
    msg = b"I" + u32(1) + b"N" + i16(1) + b"b" + i32(1) + b"\x01"
    with pytest.raises(FatalError, match="binary"):
        decode(msg)


def test_unknown_tuple_kind_is_fatal() -> None:
    with pytest.raises(FatalError, match="unknown tuple column kind"):
        decode(b"I" + u32(1) + b"N" + i16(1) + b"z")


def test_unknown_message_type_is_fatal() -> None:
    # 'S' (stream start) is only sent with protocol version 2 + streaming, which the engine never requests.
    with pytest.raises(FatalError, match="unsupported message type 'S'"):
        decode(b"S" + i32(1) + i8(1))

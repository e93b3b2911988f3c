"""Decoder for PostgreSQL's ``pgoutput`` logical replication messages (protocol version 1).

Message formats: PostgreSQL docs, "Logical Replication Message Formats". Every XLogData payload the replication
stream delivers (see ``cdc.postgres.replication``) is exactly one of these messages. :func:`decode` is called by
``cdc.postgres.reader.StreamReader`` once per message; it raises :class:`~cdc.errors.FatalError` on a message
it does not understand, because skipping one could silently lose changes.

Tuple values come back as ``str`` (text format), ``None`` (SQL NULL) or :data:`UNCHANGED_TOAST` (a TOASTed
value the UPDATE did not change, which pgoutput does not resend).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any, NamedTuple

from cdc.capture.columns import UNAVAILABLE
from cdc.errors import FatalError

# An unchanged TOAST value (pgoutput's 'u' tuple column) is the capture core's "value not sent" marker, which
# CapturedTable.row replaces with unavailable.value.placeholder.
UNCHANGED_TOAST: Any = UNAVAILABLE

# NamedTuple(...) runs a Python-level __new__; the hot path builds its messages with tuple.__new__ directly.
_new = tuple.__new__

_I16 = struct.Struct(">h").unpack_from
_I32 = struct.Struct(">i").unpack_from
_U32 = struct.Struct(">I").unpack_from
_I64 = struct.Struct(">q").unpack_from
_BEGIN = struct.Struct(">QqI").unpack_from
_COMMIT = struct.Struct(">bQQq").unpack_from


class Begin(NamedTuple):
    final_lsn: int  # LSN of the transaction's commit record
    commit_ts: int  # microseconds since 2000-01-01
    xid: int


class Commit(NamedTuple):
    flags: int
    commit_lsn: int
    end_lsn: int  # end of the commit record: where a restart must resume after this transaction
    commit_ts: int


class Origin(NamedTuple):
    origin_lsn: int
    name: str


class RelationColumn(NamedTuple):
    is_key: bool  # part of the replica identity (not necessarily the primary key)
    name: str
    type_oid: int
    typmod: int


class Relation(NamedTuple):
    relid: int
    namespace: str
    name: str
    replica_identity: str  # d=default, n=nothing, f=full, i=index
    columns: tuple[RelationColumn, ...]


class TypeInfo(NamedTuple):
    oid: int
    namespace: str
    name: str


class Insert(NamedTuple):
    relid: int
    new: list[Any]


class Update(NamedTuple):
    relid: int
    old_kind: str | None  # 'K' = old key only, 'O' = old full row (REPLICA IDENTITY FULL), None = not sent
    old: list[Any] | None
    new: list[Any]


class Delete(NamedTuple):
    relid: int
    old_kind: str
    old: list[Any]


class Truncate(NamedTuple):
    options: int  # bit 1 = CASCADE, bit 2 = RESTART IDENTITY
    relids: tuple[int, ...]


class LogicalMessage(NamedTuple):
    transactional: bool
    lsn: int
    prefix: str
    content: bytes


Message = Begin | Commit | Origin | Relation | TypeInfo | Insert | Update | Delete | Truncate | LogicalMessage


def _cstring(buf: bytes, pos: int) -> tuple[str, int]:
    end = buf.index(0, pos)
    return buf[pos:end].decode(), end + 1


def _tuple(buf: bytes, pos: int) -> tuple[list[Any], int]:
    """Decode TupleData at ``pos``; returns the values and the position after them. Hot path."""
    (count,) = _I16(buf, pos)
    unrolled = _UNROLLED.get(count)
    if unrolled is None:
        unrolled = _UNROLLED[count] = _unroll(count)
    decoded = unrolled(buf, pos + 2)
    if decoded is not None:
        return decoded
    return _tuple_generic(buf, pos)


def _tuple_generic(buf: bytes, pos: int) -> tuple[list[Any], int]:
    """The reference TupleData decoder; also handles unchanged TOAST values and reports unexpected kinds."""
    (count,) = _I16(buf, pos)
    pos += 2
    values: list[Any] = []
    append = values.append
    for _ in range(count):
        kind = buf[pos]
        pos += 1
        if kind == 116:  # 't' text
            (length,) = _I32(buf, pos)
            pos += 4
            append(buf[pos : pos + length].decode())
            pos += length
        elif kind == 110:  # 'n' null
            append(None)
        elif kind == 117:  # 'u' unchanged toast
            append(UNCHANGED_TOAST)
        elif kind == 98:  # 'b' binary: only sent when the binary option is requested, which we never do
            raise FatalError("pgoutput sent a binary tuple value, but binary mode was not requested")
        else:
            raise FatalError(f"pgoutput: unknown tuple column kind {kind!r}")
    return values, pos


_UNROLLED: dict[int, Callable[[bytes, int], tuple[list[Any], int] | None]] = {}


def _unroll(count: int) -> Callable[[bytes, int], tuple[list[Any], int] | None]:
    """A decoder for tuples of ``count`` columns with the column loop unrolled (text and null values only).

    It returns None when a column is anything else (unchanged TOAST, binary, unknown), and _tuple then decodes
    the tuple again with the generic loop. Without the loop and the list appends a six-column tuple decodes in
    ~0.8 µs instead of ~1 µs (docs/performance.md).
    """
    lines = ["def decode_tuple(buf, pos):"]
    for j in range(count):
        lines += [
            "    kind = buf[pos]",
            "    if kind == 116:",
            "        end = pos + 5 + _I32(buf, pos + 1)[0]",
            f"        v{j} = buf[pos + 5 : end].decode()",
            "        pos = end",
            "    elif kind == 110:",
            f"        v{j} = None",
            "        pos += 1",
            "    else:",
            "        return None",
        ]
    lines.append(f"    return [{', '.join(f'v{j}' for j in range(count))}], pos")
    namespace: dict[str, Any] = {"_I32": _I32}
    exec(compile("\n".join(lines), f"<pgoutput tuple of {count}>", "exec"), namespace)
    decoder: Callable[[bytes, int], tuple[list[Any], int] | None] = namespace["decode_tuple"]
    return decoder


def decode(buf: bytes) -> Message:
    """Decode one pgoutput message. Raises FatalError for unknown message types."""
    tag = buf[0]
    if tag == 73:  # 'I'
        (relid,) = _U32(buf, 1)
        # buf[5] == 'N'
        new, _ = _tuple(buf, 6)
        return _new(Insert, (relid, new))
    if tag == 85:  # 'U'
        (relid,) = _U32(buf, 1)
        kind = chr(buf[5])
        old: list[Any] | None = None
        old_kind: str | None = None
        pos = 6
        if kind in ("K", "O"):
            old_kind = kind
            old, pos = _tuple(buf, 6)
            pos += 1  # the 'N' that follows
        new, _ = _tuple(buf, pos)
        return _new(Update, (relid, old_kind, old, new))
    if tag == 68:  # 'D'
        (relid,) = _U32(buf, 1)
        old_kind_d = chr(buf[5])
        old_d, _ = _tuple(buf, 6)
        return _new(Delete, (relid, old_kind_d, old_d))
    if tag == 66:  # 'B'
        final_lsn, commit_ts, xid = _BEGIN(buf, 1)
        return Begin(final_lsn, commit_ts, xid)
    if tag == 67:  # 'C'
        flags, commit_lsn, end_lsn, commit_ts = _COMMIT(buf, 1)
        return Commit(flags, commit_lsn, end_lsn, commit_ts)
    if tag == 82:  # 'R'
        return _relation(buf)
    if tag == 89:  # 'Y'
        (oid,) = _U32(buf, 1)
        namespace, pos = _cstring(buf, 5)
        name, _ = _cstring(buf, pos)
        return TypeInfo(oid, namespace, name)
    if tag == 84:  # 'T'
        (count,) = _I32(buf, 1)
        options = buf[5]
        relids = tuple(_U32(buf, 6 + 4 * i)[0] for i in range(count))
        return Truncate(options, relids)
    if tag == 79:  # 'O'
        (origin_lsn,) = _I64(buf, 1)
        name, _ = _cstring(buf, 9)
        return Origin(origin_lsn, name)
    if tag == 77:  # 'M'
        flags = buf[1]
        (lsn,) = _I64(buf, 2)
        prefix, pos = _cstring(buf, 10)
        (length,) = _I32(buf, pos)
        return LogicalMessage(bool(flags & 1), lsn, prefix, bytes(buf[pos + 4 : pos + 4 + length]))
    raise FatalError(f"pgoutput: unsupported message type {chr(tag)!r}; is the server newer than protocol 1?")


def _relation(buf: bytes) -> Relation:
    (relid,) = _U32(buf, 1)
    namespace, pos = _cstring(buf, 5)
    name, pos = _cstring(buf, pos)
    replica_identity = chr(buf[pos])
    (ncols,) = _I16(buf, pos + 1)
    pos += 3
    columns = []
    for _ in range(ncols):
        flags = buf[pos]
        col_name, pos = _cstring(buf, pos + 1)
        type_oid, typmod = struct.unpack_from(">Ii", buf, pos)
        pos += 8
        columns.append(RelationColumn(bool(flags & 1), col_name, type_oid, typmod))
    return Relation(relid, namespace or "pg_catalog", name, replica_identity, tuple(columns))

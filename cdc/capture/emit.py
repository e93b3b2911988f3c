"""Debezium's per-operation emit rules (``RelationalChangeRecordEmitter``), shared by every connector.

A connector's stream reader decodes one row change, converts its rows with the table's ``row`` / ``old_row`` and
builds the event's ``source`` block; :class:`ChangeEmitter` then decides which records that change becomes:

- ``skipped.operations``: ops listed there produce nothing (``t`` is the connector's to check before truncates);
- an update that changes the primary key becomes delete(old key) + tombstone + create(new key);
- a delete is followed by a tombstone (null value) when ``tombstones.on.delete`` is true and the table has a key;
- an update whose old row is key only (PostgreSQL REPLICA IDENTITY DEFAULT) and whose key did not change has a
  null ``before``.
"""

from __future__ import annotations

from typing import Any

from cdc.capture.table import CapturedTable
from cdc.events import SourceRecord


class ChangeEmitter:
    """Turns row changes into records; one per connector instance, called on the hot path."""

    __slots__ = ("creates", "deletes", "skipped_ops", "tombstones", "truncates", "updates")

    def __init__(self, skipped_ops: frozenset[str], tombstones: bool) -> None:
        self.skipped_ops = skipped_ops
        self.tombstones = tombstones
        self.creates = "c" not in skipped_ops
        self.updates = "u" not in skipped_ops
        self.deletes = "d" not in skipped_ops
        self.truncates = "t" not in skipped_ops

    def create(
        self, table: CapturedTable, after: dict[str, Any], source: dict[str, Any], now_ns: int, out: list[SourceRecord]
    ) -> None:
        """An inserted row (op ``c``)."""
        if self.creates:
            out.append(table.record(None, after, source, "c", now_ns, after))

    def update(
        self,
        table: CapturedTable,
        before: dict[str, Any] | None,
        after: dict[str, Any],
        source: dict[str, Any],
        now_ns: int,
        out: list[SourceRecord],
        before_key_only: bool = False,
    ) -> None:
        """An updated row (op ``u``, or d + tombstone + c when the primary key changed).

        ``before`` is None when the source sent no old row; ``before_key_only`` when it sent only the key columns
        (then ``before`` serves only to detect a key change and the ``u`` event carries a null ``before``).
        ``source`` is used for the first record; a second record (the create of a key change) gets a copy.
        """
        if before is not None and table.has_key and table.key(before) != table.key(after):
            # Primary key changed: Debezium emits delete(old key) + tombstone + create(new key).
            if self.deletes:
                out.append(table.record(before, None, source, "d", now_ns, before))
                if self.tombstones:
                    out.append(table.tombstone(before))
                source = source.copy()
            if self.creates:
                out.append(table.record(None, after, source, "c", now_ns, after))
            return
        if not self.updates:
            return
        if before_key_only:
            before = None
        out.append(table.record(before, after, source, "u", now_ns, after))

    def delete(
        self, table: CapturedTable, before: dict[str, Any], source: dict[str, Any], now_ns: int, out: list[SourceRecord]
    ) -> None:
        """A deleted row (op ``d``), then its tombstone."""
        if not self.deletes:
            return
        out.append(table.record(before, None, source, "d", now_ns, before))
        if self.tombstones and table.has_key:
            out.append(table.tombstone(before))

    def truncate(self, table: CapturedTable, source: dict[str, Any], now_ns: int, out: list[SourceRecord]) -> None:
        """A truncated table (op ``t``, null key); only when ``t`` is not in ``skipped.operations``."""
        if self.truncates:
            out.append(table.record(None, None, source, "t", now_ns, None))

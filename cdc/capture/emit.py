"""Debezium's per-operation emit rules (``RelationalChangeRecordEmitter``), shared by every connector.

A connector's stream reader decodes one row change, converts its rows with the table's ``row`` / ``old_row`` and
builds the event's ``source`` block; :class:`ChangeEmitter` then decides which records that change becomes:

- ``skipped.operations``: ops listed there produce nothing (``t`` is the connector's to check before truncates);
- an update that changes the primary key becomes delete(old key) + tombstone + create(new key);
- a delete is followed by a tombstone (null value) when ``tombstones.on.delete`` is true; a table without a key
  gets one with a null key (Debezium 3.6);
- the delete and create of a key change carry the other key in ``__debezium.newkey`` / ``__debezium.oldkey``;
- with ``provide.transaction.metadata``, ``tx`` gives each emitted change event its transaction block;
- an update whose old row is key only (PostgreSQL REPLICA IDENTITY DEFAULT) and whose key did not change has a
  null ``before``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cdc.capture.table import CapturedTable
from cdc.events import SourceRecord

# Gives the next change event's transaction block (provide.transaction.metadata); called once per emitted event.
TxBlock = Callable[[], dict[str, Any] | None]


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
        self,
        table: CapturedTable,
        after: dict[str, Any],
        source: dict[str, Any],
        now_ns: int,
        out: list[SourceRecord],
        tx: TxBlock | None = None,
    ) -> None:
        """An inserted row (op ``c``)."""
        if self.creates:
            out.append(table.record(None, after, source, "c", now_ns, after, None, tx and tx()))

    def update(
        self,
        table: CapturedTable,
        before: dict[str, Any] | None,
        after: dict[str, Any],
        source: dict[str, Any],
        now_ns: int,
        out: list[SourceRecord],
        before_key_only: bool = False,
        tx: TxBlock | None = None,
    ) -> None:
        """An updated row (op ``u``, or d + tombstone + c when the primary key changed).

        ``before`` is None when the source sent no old row; ``before_key_only`` when it sent only the key columns
        (then ``before`` serves only to detect a key change and the ``u`` event carries a null ``before``).
        ``source`` is used for the first record; a second record (the create of a key change) gets a copy.
        """
        if before is not None and table.has_key and table.key(before) != table.key(after):
            # Primary key changed: Debezium emits delete(old key) + tombstone + create(new key).
            # Each carries the other key in a header (__debezium.newkey / __debezium.oldkey), as Debezium 3.x.
            if self.deletes:
                newkey = table.key_header("__debezium.newkey", after)
                out.append(table.record(before, None, source, "d", now_ns, before, newkey, tx and tx()))
                if self.tombstones:
                    out.append(table.tombstone(before, newkey))
                source = source.copy()
            if self.creates:
                oldkey = table.key_header("__debezium.oldkey", before)
                out.append(table.record(None, after, source, "c", now_ns, after, oldkey, tx and tx()))
            return
        if not self.updates:
            return
        if before_key_only:
            before = None
        out.append(table.record(before, after, source, "u", now_ns, after, None, tx and tx()))

    def delete(
        self,
        table: CapturedTable,
        before: dict[str, Any],
        source: dict[str, Any],
        now_ns: int,
        out: list[SourceRecord],
        tx: TxBlock | None = None,
    ) -> None:
        """A deleted row (op ``d``), then its tombstone (with a null key for a table without one)."""
        if not self.deletes:
            return
        out.append(table.record(before, None, source, "d", now_ns, before, None, tx and tx()))
        if self.tombstones:
            out.append(table.tombstone(before))

    def truncate(
        self,
        table: CapturedTable,
        source: dict[str, Any],
        now_ns: int,
        out: list[SourceRecord],
        tx: TxBlock | None = None,
    ) -> None:
        """A truncated table (op ``t``, null key); only when ``t`` is not in ``skipped.operations``."""
        if self.truncates:
            out.append(table.record(None, None, source, "t", now_ns, None, None, tx and tx()))

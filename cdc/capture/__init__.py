"""The connector-neutral capture core shared by every source connector (Debezium's debezium-core half).

- ``columns``: the neutral column descriptor (:class:`~cdc.capture.columns.ColumnDescriptor`,
  :class:`~cdc.capture.columns.ColumnType`) connectors describe their tables with;
- ``table``: :class:`~cdc.capture.table.CapturedTable` (compiled row/key functions, zero-fill, placeholders,
  schemas, records) and :class:`~cdc.capture.table.TableBuilder` (topic naming, column filters);
- ``emit``: Debezium's per-operation rules (skipped ops, key change, tombstones);
- ``heartbeat``: heartbeat records and their timing;
- ``snapshot`` / ``source``: snapshot row marking, the ``snapshot.mode`` policy and the snapshot → stream phase
  coordinator (:class:`~cdc.capture.source.CaptureSource`) around a connector's I/O half;
- ``converters``: the worker's converters as sources see them.

Logical types (Decimal, dates and times, Json …) live in ``schemas.logical``.
"""

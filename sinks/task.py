"""The sink connector contract: what a sink implements and when the sink runtime calls it.

Kafka Connect's ``SinkTask`` in Python. A sink connector implements only the write side; the runtime owns the
consumer group, the converters, the SMT chain, batching, backpressure, retries, the dead-letter queue and the offset
commits. Call order, always from the runtime's one worker thread:

1. ``start(context)`` once, before anything else;
2. ``open(partitions)`` when partitions are assigned (at start-up and after every rebalance);
3. ``put(records)`` with each batch of converted, transformed records, in partition offset order (per-key order);
   also with an empty list when a poll brought nothing (as in Connect), so a task can resume partitions or
   flush time-based buffers;
4. ``flush()`` before the runtime commits consumer offsets: everything given to ``put`` so far must be durable
   when it returns; offsets are committed only after it returned;
5. ``close(partitions)`` when partitions are revoked (after a final ``flush``);
6. ``stop()`` once, at shutdown.

Errors: raise ``cdc.errors.RetriableError`` for transient failures (server unreachable, timeouts): the runtime
retries the same batch with backoff, within ``errors.retry.timeout``. Report a record the target rejects for its
content (malformed document, constraint violation) with ``context.report(record, exc)``: it goes to the
dead-letter topic when ``errors.tolerance=all`` and stops the task otherwise. Any other exception stops the task.
Writes must be idempotent: a replay of the same records after a crash must leave the same final state.

Background puts (opt-in, ``put_in_background = True``): the runtime then runs ``put`` on a helper thread while its
worker thread consumes and converts the next batch, so a sink whose driver releases the GIL during I/O (psycopg,
pymongo) overlaps its writes with the conversion. The guarantees stay: hooks are never called concurrently (the
runtime waits for the running ``put`` before any other hook, including ``open``/``close`` in a rebalance), at
most one ``put`` runs at a time and batches arrive in order, and offsets of a batch are committed only after its
``put`` returned (and ``flush`` after it). A background ``put`` may call the context's ``report``/``pause``/
``resume`` from that helper thread. Tasks that keep the default (False) are called from the worker thread only.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import ClassVar, Protocol

from schemas.record import ConnectRecord


class SinkContext(Protocol):
    """What the runtime offers a running sink task."""

    @property
    def connector_name(self) -> str:
        """The connector's ``name``."""
        ...

    def report(self, record: ConnectRecord, error: BaseException) -> None:
        """Report a record the target rejected (Connect's ``ErrantRecordReporter``); see the module docstring."""
        ...

    def pause(self, topic: str, partition: int) -> None:
        """Stop delivering records of one partition until ``resume`` (the task is saturated)."""
        ...

    def resume(self, topic: str, partition: int) -> None:
        """Deliver records of a paused partition again."""
        ...


class SinkTask(ABC):
    """Base class of sink connectors. Subclasses are built by their package's ``SPEC.factory(name, config)``."""

    # True: ``put`` may run on the runtime's helper thread, overlapping the next batch's conversion (see the module
    # docstring). Only for tasks whose ``put`` is safe to run off the worker thread.
    put_in_background: ClassVar[bool] = False

    # True: when no transform is configured and both converters can (``to_wire``: JsonConverter), ``put`` gets
    # ``WireRecord``s (``schemas.record``): key and value still in the converter's wire form, for a task with a
    # fast path of its own; it calls ``record.decoded()`` for the rest. Records the runtime had to convert
    # carefully (after a converter error) still arrive as plain ``ConnectRecord``s, so a batch may mix both.
    accepts_wire_records: ClassVar[bool] = False

    def start(self, context: SinkContext) -> None:  # noqa: B027 - optional hook
        """Called once before the first ``open``: connect to the target, check it, prepare statements."""

    def open(self, partitions: Sequence[tuple[str, int]]) -> None:  # noqa: B027 - optional hook
        """Called when ``partitions`` ((topic, partition) pairs) are assigned to this worker."""

    @abstractmethod
    def put(self, records: Sequence[ConnectRecord]) -> None:
        """Write (or buffer) a batch. Records of one partition arrive in offset order."""

    def flush(self) -> None:  # noqa: B027 - optional hook
        """Make everything given to ``put`` durable; offsets are committed only after this returns."""

    def close(self, partitions: Sequence[tuple[str, int]]) -> None:  # noqa: B027 - optional hook
        """Called when ``partitions`` are revoked, after a final ``flush``: drop per-partition state."""

    def stop(self) -> None:  # noqa: B027 - optional hook
        """Called once at shutdown: release connections."""

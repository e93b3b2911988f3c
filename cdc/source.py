"""The interface between the runtime and a source connector.

``cdc.runtime.ConnectorRuntime`` drives a :class:`Source` in one thread: ``start`` with the stored offset, then
``poll`` for record batches; after Kafka acknowledged everything polled so far it stores ``position()`` in the
offsets topic and calls ``committed`` with it. The runtime never imports a concrete connector (see
``cdc.connectors``).
"""

from __future__ import annotations

from typing import Any, Protocol

from cdc.events import SourceRecord


class Source(Protocol):
    def start(self, stored_offset: dict[str, Any] | None) -> None:
        """Connect, check prerequisites and decide snapshot vs. stream. Raises Retriable/FatalError."""

    def poll(self, max_records: int, timeout: float) -> list[SourceRecord]:
        """Next records (possibly none) within ``timeout`` seconds."""

    def position(self) -> dict[str, Any] | None:
        """Offset covering every record returned by ``poll`` so far; None before the first one."""

    def committed(self, offset: dict[str, Any]) -> None:
        """``offset`` is durably stored: the source may release resources up to it (PG: flush LSN)."""

    def keepalive(self) -> None:
        """Keep the source connection alive while the runtime is blocked on Kafka."""

    @property
    def commit_due(self) -> bool:
        """True when the source wants its position stored and confirmed now instead of at the next periodic
        commit: the snapshot just ended, the server waits for a confirmation (PG fast shutdown), or an idle or
        filtered stream holds a position the server could release."""

    @property
    def finished(self) -> bool:
        """True when there is nothing more to read (snapshot.mode=initial_only after the snapshot)."""

    def stop(self, final: bool) -> None:
        """Release connections; called once per pipeline run, also after errors. ``final`` is False when the
        runtime will restart the pipeline (retriable error), True on a requested stop or a fatal error."""

"""What a source reader hands to the runtime.

Readers do the source-specific work (decoding, type conversion, envelope assembly) and yield
:class:`SourceRecord` objects whose key and value are already serialized bytes: serialization happens once, in
the reader's hot loop, so the runtime only routes bytes to the producer. Positions travel separately (see
``cdc.runtime``): the runtime asks the reader for its current position when it commits offsets, which is correct
because the reader's position always describes "everything yielded so far".
"""

from __future__ import annotations

from typing import NamedTuple


class SourceRecord(NamedTuple):
    """One Kafka record to produce: ``value`` is ``None`` for tombstones, ``key`` is ``None`` for keyless tables."""

    topic: str
    key: bytes | None
    value: bytes | None

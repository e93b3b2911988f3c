"""Debezium's transaction metadata (``provide.transaction.metadata=true``), connector-neutral.

Two parts, as Debezium 3.6 writes them (checked by tests/conformance):

* a BEGIN and an END record per transaction on ``<topic.prefix>.transaction`` (key ``{id}``,
  ``io.debezium.connector.common.TransactionMetadataKey``; value ``{status, id, event_count, data_collections,
  ts_ms}``, ``io.debezium.connector.common.TransactionMetadataValue``), without headers. BEGIN has null counts;
  END counts the transaction's captured change events per table (``<schema>.<table>``). Transactions without a
  captured event get them too;
* a ``transaction`` block ``{id, total_order, data_collection_order}`` in every change event of the transaction.

:class:`TransactionTracker` is driven by a connector's stream reader: ``begin`` / ``event`` / ``end``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cdc.events import SourceRecord
from schemas.connect import INT64, OPTIONAL_INT64, STRING, Field, Schema, struct
from schemas.javacompat import java_hashmap_order
from schemas.record import ConnectRecord

if TYPE_CHECKING:
    from cdc.capture.converters import SourceConverters

KEY_SCHEMA = struct("io.debezium.connector.common.TransactionMetadataKey", [Field("id", STRING)], version=1)
_COLLECTION = struct(
    "event.collection", [Field("data_collection", STRING), Field("event_count", INT64)], optional=True, version=1
)
VALUE_SCHEMA = struct(
    "io.debezium.connector.common.TransactionMetadataValue",
    [
        Field("status", STRING),
        Field("id", STRING),
        Field("event_count", OPTIONAL_INT64),
        Field("data_collections", Schema("array", optional=True, items=_COLLECTION)),
        Field("ts_ms", INT64),
    ],
    version=1,
)


class TransactionTracker:
    """Counts one transaction's events and builds its BEGIN/END records and per-event blocks.

    Single-threaded, owned by a stream reader. ``topic`` is ``<topic.prefix>.transaction``.
    """

    def __init__(self, topic: str, converters: SourceConverters) -> None:
        self.topic = topic
        self._key = converters.key.serializer(KEY_SCHEMA, topic)
        self._value = converters.value.serializer(VALUE_SCHEMA, topic)
        self._transform = converters.transform
        self.id = ""
        self.total = 0
        self.per_collection: dict[str, int] = {}

    def begin(self, tx_id: str, ts_ms: int) -> SourceRecord:
        """A transaction starts: reset the counters; the BEGIN record."""
        self.id = tx_id
        self.total = 0
        self.per_collection = {}
        payload = {"status": "BEGIN", "id": tx_id, "event_count": None, "data_collections": None, "ts_ms": ts_ms}
        return self._record(payload)

    def event(self, collection: str, event_id: str) -> dict[str, Any]:
        """One change event of ``collection`` (``schema.table``): its ``transaction`` block, with ``event_id`` as
        its id (the connector's form of the transaction id at that event)."""
        self.total += 1
        order = self.per_collection.get(collection, 0) + 1
        self.per_collection[collection] = order
        return {"id": event_id, "total_order": self.total, "data_collection_order": order}

    def end(self, tx_id: str, ts_ms: int) -> SourceRecord:
        """The transaction committed: the END record with the counts."""
        # Debezium keeps the counts in a HashMap keyed by table id (whose hash is that of "schema.table"): its order.
        collections = [
            {"data_collection": c, "event_count": self.per_collection[c]}
            for c in java_hashmap_order(list(self.per_collection))
        ]
        payload = {
            "status": "END",
            "id": tx_id,
            "event_count": self.total,
            "data_collections": collections,
            "ts_ms": ts_ms,
        }
        return self._record(payload)

    def _record(self, payload: dict[str, Any]) -> SourceRecord:
        key = {"id": payload["id"]}
        if self._transform is not None:  # through the connector's transforms, as any source record in Connect
            return self._transform(ConnectRecord(self.topic, KEY_SCHEMA, key, VALUE_SCHEMA, payload))
        return SourceRecord(self.topic, self._key(key), self._value(payload))

"""Records → pymongo write operations: mongo-kafka's write model strategies and Debezium RDBMS CDC handler.

The MongoDB sink task calls :func:`write_model` (after the post-processor chain) or :func:`rdbms_change` (when
``change.data.capture.handler`` is set) once per record. ``None`` means "nothing to write" (a skipped tombstone).
:class:`WriteModelError` means the record cannot be written as configured; the task reports it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from bson import ObjectId
from pymongo import DeleteOne, InsertOne, ReplaceOne, UpdateOne

from cdc.errors import SkippableRecordError
from sinks.mongodb.documents import SinkDocument
from sinks.mongodb.processors import ID, IdStrategy
from sinks.source_position import source_version

WriteOp = ReplaceOne[Any] | UpdateOne | DeleteOne | InsertOne[Any]

MODIFIED_TS = "_modifiedTS"
INSERTED_TS = "_insertedTS"
_KEY_ID_STRATEGIES = {"FullKeyStrategy", "PartialKeyStrategy", "ProvidedInKeyStrategy", "UuidProvidedInKeyStrategy"}


class GuardedReplaceOne(ReplaceOne[Any]):
    """A ReplaceOne that applies only to an older document; its duplicate-key failure means "already newer"."""


def _version(value: dict[str, Any], version_field: str) -> int | None:
    if not version_field:
        return None
    source = value.get("source")
    if not isinstance(source, dict):
        raise WriteModelError("change.data.capture.version.field needs the event's source block")
    version = source_version(source)
    if version is None:
        raise WriteModelError("the event's source block has no position (lsn, or binlog file/pos)")
    return version


class WriteModelError(SkippableRecordError):
    """The record lacks what the write model needs (mongo-kafka's ``DataException``)."""


def _value_with_id(doc: SinkDocument, strategy: str) -> dict[str, Any]:
    if doc.value_doc is None:
        raise WriteModelError(f"{strategy}: the record has no value document")
    if ID not in doc.value_doc:
        raise WriteModelError(f"{strategy}: the value document has no _id (check document.id.strategy)")
    return doc.value_doc


def _business_key(value: dict[str, Any], strategy: str) -> tuple[dict[str, Any], dict[str, Any]]:
    key = value.get(ID)
    if not isinstance(key, dict) or not key:
        raise WriteModelError(f"{strategy}: the _id must be a document of business key fields (PartialValueStrategy)")
    return dict(key), {k: v for k, v in value.items() if k != ID}


def delete_by_key(doc: SinkDocument, id_name: str, id_of: IdStrategy, record: Any) -> DeleteOne:
    """mongo-kafka's ``DeleteOneDefaultStrategy``: delete the document whose ``_id`` the key gives."""
    if id_name in _KEY_ID_STRATEGIES:
        return DeleteOne({ID: id_of(doc, record)})
    if doc.key_doc is None:
        raise WriteModelError("a delete needs a key that is a struct, map or JSON document")
    if ID in doc.key_doc:
        return DeleteOne({ID: doc.key_doc[ID]})
    return DeleteOne({ID: doc.key_doc})


def write_model(strategy: str, doc: SinkDocument, id_name: str, id_of: IdStrategy, record: Any) -> WriteOp:
    """The write operation that ``writemodel.strategy`` makes for a processed record with a value."""
    if strategy in ("DefaultWriteModelStrategy", "ReplaceOneDefaultStrategy"):
        value = _value_with_id(doc, strategy)
        return ReplaceOne({ID: value[ID]}, value, upsert=True)
    if strategy == "ReplaceOneBusinessKeyStrategy":
        key, rest = _business_key(_value_with_id(doc, strategy), strategy)
        return ReplaceOne(key, rest, upsert=True)
    if strategy == "UpdateOneDefaultStrategy":
        value = _value_with_id(doc, strategy)
        return UpdateOne({ID: value[ID]}, {"$set": {k: v for k, v in value.items() if k != ID}}, upsert=True)
    if strategy in ("UpdateOneTimestampsStrategy", "UpdateOneBusinessKeyTimestampStrategy"):
        value = _value_with_id(doc, strategy)
        now = dt.datetime.now(dt.UTC)
        if strategy == "UpdateOneTimestampsStrategy":
            filter_doc: dict[str, Any] = {ID: value[ID]}
            fields = {k: v for k, v in value.items() if k != ID}
        else:
            filter_doc, fields = _business_key(value, strategy)
        return UpdateOne(
            filter_doc,
            {"$set": {**fields, MODIFIED_TS: now}, "$setOnInsert": {INSERTED_TS: now}},
            upsert=True,
        )
    if strategy == "DeleteOneDefaultStrategy":
        return delete_by_key(doc, id_name, id_of, record)
    if strategy == "DeleteOneBusinessKeyStrategy":
        key, _ = _business_key(_value_with_id(doc, strategy), strategy)
        return DeleteOne(key)
    if strategy == "InsertOneDefaultStrategy":
        return InsertOne(_value_with_id(doc, strategy))
    raise AssertionError(strategy)


# -- Debezium RDBMS change events (RdbmsHandler, PostgresHandler, MysqlHandler) --------------------------------


def _filter(key: dict[str, Any], value: dict[str, Any], op: str) -> dict[str, Any]:
    """mongo-kafka's ``RdbmsHandler.generateFilterDoc``: ``{_id: {<pk columns>}}`` from the key."""
    if key:
        return {ID: dict(key)}
    if op in ("c", "r"):
        return {ID: ObjectId()}
    before = value.get("before")
    if not isinstance(before, dict) or not before:
        raise WriteModelError("a change without key columns needs a non-empty 'before' to find the document")
    return dict(before)


def rdbms_change(doc: SinkDocument, version_field: str = "") -> WriteOp | None:
    """The write for one Debezium change event: c/r/u → ReplaceOne(upsert) with ``_id`` = key document,
    d → DeleteOne, tombstone → None (skipped).

    With ``version_field`` (``change.data.capture.version.field``, a cdc-engine extension) the change's source
    position is stored in that field and the write only applies to an older (or unversioned) document: a stale
    ReplaceOne finds no match and its upsert fails with a duplicate key (11000), which the task counts as
    "already newer"; a stale DeleteOne matches nothing."""
    value = doc.value_doc
    if not value:
        return None  # tombstone: nothing to do, the delete event before it removed the document
    key = doc.key_doc
    if key is None:
        raise WriteModelError("a Debezium change event needs a key document (the primary key struct)")
    op = value.get("op")
    if op in ("c", "r", "u"):
        filter_doc = _filter(key, value, op)
        after = value.get("after")
        if not isinstance(after, dict) or not after:
            raise WriteModelError("value document must contain a non-empty 'after' field of type document")
        replacement = {ID: filter_doc[ID]} if ID in filter_doc else {}
        replacement.update(after)
        version = _version(value, version_field)
        if version is not None and ID in filter_doc:
            replacement[version_field] = version
            filter_doc = {
                **filter_doc,
                "$or": [{version_field: {"$lt": version}}, {version_field: {"$exists": False}}],
            }
            return GuardedReplaceOne(filter_doc, replacement, upsert=True)
        return ReplaceOne(filter_doc, replacement, upsert=True)
    if op == "d":
        filter_doc = _filter(key, value, op)
        version = _version(value, version_field)
        if version is not None and ID in filter_doc:
            filter_doc = {
                **filter_doc,
                "$or": [{version_field: {"$lte": version}}, {version_field: {"$exists": False}}],
            }
        return DeleteOne(filter_doc)
    raise WriteModelError(f"unknown Debezium operation {op!r} (expected c, r, u or d)")

"""Document id strategies and post processors (mongo-kafka's ``processor`` package).

The MongoDB sink task builds one :class:`PostProcessorChain` per topic configuration and runs it on each record's
:class:`SinkDocument` before the write model strategy (never when a change-data-capture handler is configured, as
in mongo-kafka). Errors are :class:`IdStrategyError`: the record cannot get an ``_id``; the task reports it.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

import orjson
from bson import ObjectId
from bson.binary import Binary, UuidRepresentation

from cdc.errors import SkippableRecordError
from schemas.record import ConnectRecord
from sinks.mongodb.config import MongoSinkConfig
from sinks.mongodb.documents import SinkDocument

ID = "_id"


class IdStrategyError(SkippableRecordError):
    """The configured strategy cannot make an ``_id`` for this record (mongo-kafka's ``DataException``)."""


# -- field projection -----------------------------------------------------------------------------------------


def _field_list(text: str) -> list[str]:
    return [f.strip() for f in text.split(",") if f.strip()]


def _matches(path: str, patterns: list[str]) -> bool:
    """True when dotted ``path`` is named by a pattern (``*`` one level, ``**`` everything below)."""
    parts = path.split(".")
    for pattern in patterns:
        pp = pattern.split(".")
        if (pp[-1] == "**" and parts[: len(pp) - 1] == pp[:-1]) or (pp[-1] == "**" and len(pp) == 1):
            return True
        if len(pp) == len(parts) and all(a == "*" or a == b for a, b in zip(pp, parts, strict=True)):
            return True
    return False


def _is_prefix(path: str, patterns: list[str]) -> bool:
    """True when some pattern names a field below ``path`` (the parent must be kept by an allow list)."""
    parts = path.split(".")
    for pattern in patterns:
        pp = pattern.split(".")
        if len(pp) > len(parts) and all(a in ("*", "**") or a == b for a, b in zip(pp, parts, strict=False)):
            return True
    return False


def project(doc: dict[str, Any], patterns: list[str], allow: bool, prefix: str = "") -> dict[str, Any]:
    """``doc`` with only (allow) or without (block) the fields ``patterns`` name; ``_id`` is kept by allow lists."""
    out: dict[str, Any] = {}
    for name, value in doc.items():
        path = f"{prefix}{name}"
        named = _matches(path, patterns)
        if allow:
            if named or (not prefix and name == ID):
                out[name] = value
            elif isinstance(value, dict) and _is_prefix(path, patterns):
                out[name] = project(value, patterns, allow, path + ".")
        else:
            if named:
                continue
            out[name] = project(value, patterns, allow, path + ".") if isinstance(value, dict) else value
    return out


# -- id strategies --------------------------------------------------------------------------------------------


IdStrategy = Callable[[SinkDocument, ConnectRecord], Any]


def _uuid_value(value: uuid.UUID, fmt: str) -> Any:
    return Binary.from_uuid(value, UuidRepresentation.STANDARD) if fmt == "binary" else str(value)


def _parse_uuid(value: Any, fmt: str) -> Any:
    try:
        return _uuid_value(uuid.UUID(str(value)), fmt)
    except ValueError:
        raise IdStrategyError(f"_id {value!r} is not a UUID") from None


def id_strategy(config: MongoSinkConfig) -> IdStrategy:
    """The ``document.id.strategy`` function of ``config``: ``(document, record) -> _id``."""
    name = config.document_id_strategy
    fmt = config.document_id_strategy_uuid_format

    def key_doc(doc: SinkDocument) -> dict[str, Any]:
        if doc.key_doc is None:
            raise IdStrategyError(f"{name} needs a key that is a struct, map or JSON document")
        return doc.key_doc

    def value_doc(doc: SinkDocument) -> dict[str, Any]:
        if doc.value_doc is None:
            raise IdStrategyError(f"{name} needs a value document")
        return doc.value_doc

    def provided(doc: dict[str, Any], where: str) -> Any:
        if ID not in doc:
            raise IdStrategyError(f"{name}: the {where} document has no _id field")
        return doc[ID]

    if name == "BsonOidStrategy":
        return lambda doc, record: ObjectId()
    if name == "KafkaMetaDataStrategy":
        return lambda doc, record: f"{record.original_topic or record.topic}-{record.partition}-{record.kafka_offset}"
    if name == "FullKeyStrategy":
        return lambda doc, record: dict(key_doc(doc))
    if name == "ProvidedInKeyStrategy":
        return lambda doc, record: provided(key_doc(doc), "key")
    if name == "ProvidedInValueStrategy":
        return lambda doc, record: provided(value_doc(doc), "value")
    if name == "UuidStrategy":
        return lambda doc, record: _uuid_value(uuid.uuid4(), fmt)
    if name == "UuidProvidedInKeyStrategy":
        return lambda doc, record: _parse_uuid(provided(key_doc(doc), "key"), fmt)
    if name == "UuidProvidedInValueStrategy":
        return lambda doc, record: _parse_uuid(provided(value_doc(doc), "value"), fmt)
    if name == "PartialKeyStrategy":
        fields = _field_list(config.partial_key_projection_list)
        allow = config.partial_key_projection_type == "allowlist"
        blocked = config.partial_key_projection_type == "blocklist"
        return lambda doc, record: project(key_doc(doc), fields, allow) if allow or blocked else dict(key_doc(doc))
    if name == "PartialValueStrategy":
        fields = _field_list(config.partial_value_projection_list)
        allow = config.partial_value_projection_type == "allowlist"
        blocked = config.partial_value_projection_type == "blocklist"

        def partial_value(doc: SinkDocument, record: ConnectRecord) -> Any:
            source = {k: v for k, v in value_doc(doc).items() if k != ID}
            return project(source, fields, allow) if allow or blocked else source

        return partial_value
    raise AssertionError(name)


# -- post processors ------------------------------------------------------------------------------------------


PostProcessor = Callable[[SinkDocument, ConnectRecord], None]


class PostProcessorChain:
    """The configured post processors of one topic, run in order on each record."""

    def __init__(self, config: MongoSinkConfig) -> None:
        self.id_strategy = id_strategy(config)
        self._overwrite = config.document_id_strategy_overwrite_existing
        self._steps: list[PostProcessor] = [self._build(name, config) for name in config.post_processors]

    def run(self, doc: SinkDocument, record: ConnectRecord) -> None:
        """Apply every post processor; :class:`IdStrategyError` when no ``_id`` can be made."""
        for step in self._steps:
            step(doc, record)

    def _build(self, name: str, config: MongoSinkConfig) -> PostProcessor:
        if name == "DocumentIdAdder":
            return self._add_id
        if name in ("BlockListKeyProjector", "AllowListKeyProjector"):
            return self._projector("key", config.key_projection_list, name.startswith("Allow"))
        if name in ("BlockListValueProjector", "AllowListValueProjector"):
            return self._projector("value", config.value_projection_list, name.startswith("Allow"))
        if name == "KafkaMetaAdder":
            return self._kafka_meta
        if name == "RenameByMapping":
            mapping = {m["oldName"]: m["newName"] for m in orjson.loads(config.field_renamer_mapping)}
            return lambda doc, record: self._rename(doc, lambda path, field: mapping.get(path, field))
        if name == "RenameByRegExp":
            rules = [
                (re.compile(r["regexp"]), re.compile(r["pattern"]), r["replace"])
                for r in orjson.loads(config.field_renamer_regexp)
            ]

            def by_regexp(path: str, field: str) -> str:
                for matcher, pattern, replace in rules:
                    if matcher.fullmatch(path):
                        field = pattern.sub(replace, field)
                return field

            return lambda doc, record: self._rename(doc, by_regexp)
        raise AssertionError(name)

    def _add_id(self, doc: SinkDocument, record: ConnectRecord) -> None:
        if doc.value_doc is None:
            return
        if ID in doc.value_doc and not self._overwrite:
            # mongo-kafka keeps an _id the value already has unless overwrite.existing (ProvidedInValue too).
            return
        new_id = self.id_strategy(doc, record)
        doc.value_doc = {ID: new_id, **{k: v for k, v in doc.value_doc.items() if k != ID}}

    @staticmethod
    def _projector(side: str, fields_text: str, allow: bool) -> PostProcessor:
        fields = _field_list(fields_text)

        def run(doc: SinkDocument, record: ConnectRecord) -> None:
            if side == "key" and doc.key_doc is not None:
                doc.key_doc = project(doc.key_doc, fields, allow)
            elif side == "value" and doc.value_doc is not None:
                doc.value_doc = project(doc.value_doc, fields, allow)

        return run

    @staticmethod
    def _kafka_meta(doc: SinkDocument, record: ConnectRecord) -> None:
        if doc.value_doc is None:
            return
        doc.value_doc["topic-partition-offset"] = (
            f"{record.original_topic or record.topic}-{record.partition}-{record.kafka_offset}"
        )
        if record.timestamp is not None:
            doc.value_doc["CreateTime"] = record.timestamp

    @staticmethod
    def _rename(doc: SinkDocument, rename: Callable[[str, str], str]) -> None:
        def walk(d: dict[str, Any], prefix: str) -> dict[str, Any]:
            out: dict[str, Any] = {}
            for field, value in d.items():
                path = f"{prefix}.{field}"
                new = field if field == ID and prefix in ("key", "value") else rename(path, field)
                out[new] = walk(value, path) if isinstance(value, dict) else value
            return out

        if doc.key_doc is not None:
            doc.key_doc = walk(doc.key_doc, "key")
        if doc.value_doc is not None:
            doc.value_doc = walk(doc.value_doc, "value")

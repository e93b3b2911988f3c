"""Properties of the MongoDB sink: mongo-kafka's names, defaults and meanings (``MongoSinkConfig``/``TopicConfig``).

Class-valued properties (``document.id.strategy``, ``post.processor.chain``, ``writemodel.strategy``,
``change.data.capture.handler``, ``namespace.mapper``) accept mongo-kafka's fully-qualified Java class names or
their simple names (``ProvidedInKeyStrategy``, ``RdbmsHandler``). ``topic.override.<topic>.<property>`` replaces a
topic-level property for one topic (the topic name may contain dots).
"""

from __future__ import annotations

import json
from functools import cached_property
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator

from sinks.config_base import SinkConnectorConfig

_ID = "com.mongodb.kafka.connect.sink.processor.id.strategy."
_PROC = "com.mongodb.kafka.connect.sink.processor."
_WM = "com.mongodb.kafka.connect.sink.writemodel.strategy."
_CDC = "com.mongodb.kafka.connect.sink.cdc."
_NS = "com.mongodb.kafka.connect.sink.namespace.mapping."

ID_STRATEGIES = {
    "BsonOidStrategy",
    "KafkaMetaDataStrategy",
    "FullKeyStrategy",
    "ProvidedInKeyStrategy",
    "ProvidedInValueStrategy",
    "PartialKeyStrategy",
    "PartialValueStrategy",
    "UuidStrategy",
    "UuidProvidedInKeyStrategy",
    "UuidProvidedInValueStrategy",
}
POST_PROCESSORS = {
    "DocumentIdAdder",
    "BlockListKeyProjector",
    "BlockListValueProjector",
    "AllowListKeyProjector",
    "AllowListValueProjector",
    "KafkaMetaAdder",
    "RenameByMapping",
    "RenameByRegExp",
}
# mongo-kafka < 1.5 spelled the projectors Blacklist/Whitelist; old configs still use them.
_POST_PROCESSOR_ALIASES = {
    "BlacklistKeyProjector": "BlockListKeyProjector",
    "BlacklistValueProjector": "BlockListValueProjector",
    "WhitelistKeyProjector": "AllowListKeyProjector",
    "WhitelistValueProjector": "AllowListValueProjector",
}
WRITE_MODELS = {
    "DefaultWriteModelStrategy",
    "ReplaceOneDefaultStrategy",
    "ReplaceOneBusinessKeyStrategy",
    "UpdateOneDefaultStrategy",
    "UpdateOneTimestampsStrategy",
    "UpdateOneBusinessKeyTimestampStrategy",
    "DeleteOneDefaultStrategy",
    "DeleteOneBusinessKeyStrategy",
    "InsertOneDefaultStrategy",
}
CDC_HANDLERS = {"RdbmsHandler", "PostgresHandler", "MysqlHandler"}
NAMESPACE_MAPPERS = {"DefaultNamespaceMapper", "FieldPathNamespaceMapper"}

#: Properties that ``topic.override.<topic>.`` may replace (every topic-level property).
TOPIC_PROPERTIES = (
    "database",
    "collection",
    "document.id.strategy",
    "document.id.strategy.overwrite.existing",
    "document.id.strategy.uuid.format",
    "document.id.strategy.partial.key.projection.type",
    "document.id.strategy.partial.key.projection.list",
    "document.id.strategy.partial.value.projection.type",
    "document.id.strategy.partial.value.projection.list",
    "post.processor.chain",
    "key.projection.type",
    "key.projection.list",
    "value.projection.type",
    "value.projection.list",
    "field.renamer.mapping",
    "field.renamer.regexp",
    "writemodel.strategy",
    "change.data.capture.handler",
    "change.data.capture.version.field",
    "delete.on.null.values",
    "max.batch.size",
    "bulk.write.ordered",
    "max.num.retries",
    "retries.defer.timeout",
    "namespace.mapper",
    "namespace.mapper.key.database.field",
    "namespace.mapper.key.collection.field",
    "namespace.mapper.value.database.field",
    "namespace.mapper.value.collection.field",
    "namespace.mapper.error.if.invalid",
    "debezium.temporal.mode",
    "mongo.errors.tolerance",
)

ProjectionType = Literal["none", "blocklist", "allowlist"]


def _simple_name(value: str, known: set[str], what: str, aliases: dict[str, str] | None = None) -> str:
    """``com.mongodb…ProvidedInKeyStrategy`` or ``ProvidedInKeyStrategy`` (or ``ProvidedInKey``) → simple name."""
    name = value.strip().rsplit(".", 1)[-1]
    name = (aliases or {}).get(name, name)
    for candidate in (name, name + "Strategy"):
        if candidate in known:
            return candidate
    raise ValueError(f"unknown {what} {value!r}; known: {', '.join(sorted(known))}")


def _projection(value: Any) -> str:
    v = str(value).strip().lower()
    return {"": "none", "blacklist": "blocklist", "whitelist": "allowlist"}.get(v, v)


class MongoSinkConfig(SinkConnectorConfig):
    """``connector.class: mongodb`` / ``com.mongodb.kafka.connect.MongoSinkConnector``."""

    connection_uri: SecretStr = Field(
        SecretStr("mongodb://localhost:27017"),
        alias="connection.uri",
        description="MongoDB connection string (may hold credentials: never logged)",
    )
    database: str = Field(
        alias="database", description="Database written to (unless namespace.mapper takes it from the record)"
    )
    collection: str | None = Field(
        None, alias="collection", description="Collection written to; default: the topic name"
    )
    document_id_strategy: str = Field(
        "BsonOidStrategy",
        alias="document.id.strategy",
        description="How _id is made: BsonOid, KafkaMetaData, FullKey, ProvidedInKey, ProvidedInValue, PartialKey, "
        "PartialValue, Uuid, UuidProvidedInKey, UuidProvidedInValue (Java class names accepted)",
    )
    document_id_strategy_overwrite_existing: bool = Field(
        False, alias="document.id.strategy.overwrite.existing", description="Replace an _id the value already has"
    )
    document_id_strategy_uuid_format: Literal["string", "binary"] = Field(
        "string", alias="document.id.strategy.uuid.format", description="UUID ids as strings or BSON binary subtype 4"
    )
    partial_key_projection_type: ProjectionType = Field(
        "none", alias="document.id.strategy.partial.key.projection.type", description="PartialKey: allowlist/blocklist"
    )
    partial_key_projection_list: str = Field(
        "", alias="document.id.strategy.partial.key.projection.list", description="PartialKey: comma-separated fields"
    )
    partial_value_projection_type: ProjectionType = Field(
        "none",
        alias="document.id.strategy.partial.value.projection.type",
        description="PartialValue: allowlist/blocklist",
    )
    partial_value_projection_list: str = Field(
        "",
        alias="document.id.strategy.partial.value.projection.list",
        description="PartialValue: comma-separated fields",
    )
    post_processor_chain: str = Field(
        "DocumentIdAdder",
        alias="post.processor.chain",
        description="Comma-separated post processors; DocumentIdAdder always runs first",
    )
    key_projection_type: ProjectionType = Field(
        "none", alias="key.projection.type", description="Key projector: allowlist/blocklist"
    )
    key_projection_list: str = Field("", alias="key.projection.list", description="Key projector fields")
    value_projection_type: ProjectionType = Field(
        "none", alias="value.projection.type", description="Value projector: allowlist/blocklist"
    )
    value_projection_list: str = Field("", alias="value.projection.list", description="Value projector fields")
    field_renamer_mapping: str = Field(
        "[]", alias="field.renamer.mapping", description='RenameByMapping: [{"oldName":"value.a","newName":"b"}]'
    )
    field_renamer_regexp: str = Field(
        "[]", alias="field.renamer.regexp", description='RenameByRegExp: [{"regexp":…,"pattern":…,"replace":…}]'
    )
    writemodel_strategy: str = Field(
        "DefaultWriteModelStrategy",
        alias="writemodel.strategy",
        description="ReplaceOneDefault, ReplaceOneBusinessKey, UpdateOneDefault, UpdateOneTimestamps, "
        "UpdateOneBusinessKeyTimestamp, DeleteOneDefault, DeleteOneBusinessKey, InsertOneDefault",
    )
    change_data_capture_handler: str = Field(
        "",
        alias="change.data.capture.handler",
        description="Debezium change events: RdbmsHandler (or PostgresHandler, MysqlHandler); empty: none",
    )
    change_data_capture_version_field: str = Field(
        "",
        alias="change.data.capture.version.field",
        description="cdc-engine extension: store the change's source position (LSN, binlog file/pos) in this "
        "field and never replace a document with an older change (replays, keys in two partitions); empty: off",
    )
    delete_on_null_values: bool = Field(
        False, alias="delete.on.null.values", description="A null value deletes the document whose _id the key gives"
    )
    max_batch_size: int = Field(0, alias="max.batch.size", ge=0, description="Records per bulk write; 0: no limit")
    bulk_write_ordered: bool = Field(
        True, alias="bulk.write.ordered", description="Ordered bulk writes (stop at the first failing write)"
    )
    max_num_retries: int = Field(
        1, alias="max.num.retries", ge=0, description="Retries of a bulk write after a transient error"
    )
    retries_defer_timeout: int = Field(
        5000, alias="retries.defer.timeout", ge=0, description="Milliseconds between those retries"
    )
    namespace_mapper: str = Field(
        "DefaultNamespaceMapper",
        alias="namespace.mapper",
        description="DefaultNamespaceMapper (database/collection properties) or FieldPathNamespaceMapper",
    )
    namespace_mapper_key_database_field: str = Field(
        "", alias="namespace.mapper.key.database.field", description="Key field naming the database"
    )
    namespace_mapper_key_collection_field: str = Field(
        "", alias="namespace.mapper.key.collection.field", description="Key field naming the collection"
    )
    namespace_mapper_value_database_field: str = Field(
        "", alias="namespace.mapper.value.database.field", description="Value field naming the database"
    )
    namespace_mapper_value_collection_field: str = Field(
        "", alias="namespace.mapper.value.collection.field", description="Value field naming the collection"
    )
    namespace_mapper_error_if_invalid: bool = Field(
        False,
        alias="namespace.mapper.error.if.invalid",
        description="A missing or non-string namespace field is an error (else the configured namespace is used)",
    )
    debezium_temporal_mode: Literal["date", "number"] = Field(
        "date",
        alias="debezium.temporal.mode",
        description="cdc-engine extension: Debezium Date/Timestamp/MicroTimestamp/NanoTimestamp/ZonedTimestamp "
        "values become BSON dates (date; millisecond precision) or stay numbers/strings as in mongo-kafka (number)",
    )
    mongo_errors_tolerance: Literal["none", "all"] | None = Field(
        None, alias="mongo.errors.tolerance", description="Accepted for compatibility; errors.tolerance decides"
    )

    @field_validator("document_id_strategy")
    @classmethod
    def _id_strategy(cls, value: str) -> str:
        return _simple_name(value, ID_STRATEGIES, "document.id.strategy")

    @field_validator("writemodel_strategy")
    @classmethod
    def _write_model(cls, value: str) -> str:
        return _simple_name(value, WRITE_MODELS, "writemodel.strategy")

    @field_validator("change_data_capture_handler")
    @classmethod
    def _cdc_handler(cls, value: str) -> str:
        if not value.strip():
            return ""
        return _simple_name(value, CDC_HANDLERS, "change.data.capture.handler (only the Debezium RDBMS handlers)")

    @field_validator("namespace_mapper")
    @classmethod
    def _namespace_mapper(cls, value: str) -> str:
        return _simple_name(value, NAMESPACE_MAPPERS, "namespace.mapper")

    @field_validator("post_processor_chain")
    @classmethod
    def _chain(cls, value: str) -> str:
        names = [
            _simple_name(p, POST_PROCESSORS, "post processor", _POST_PROCESSOR_ALIASES)
            for p in value.split(",")
            if p.strip()
        ]
        # mongo-kafka puts DocumentIdAdder first whatever the configured order.
        names = ["DocumentIdAdder"] + [n for n in names if n != "DocumentIdAdder"]
        return ",".join(names)

    @field_validator(
        "partial_key_projection_type",
        "partial_value_projection_type",
        "key_projection_type",
        "value_projection_type",
        mode="before",
    )
    @classmethod
    def _projection_type(cls, value: Any) -> str:
        return _projection(value)

    @field_validator("field_renamer_mapping", "field_renamer_regexp")
    @classmethod
    def _json_list(cls, value: str) -> str:
        try:
            parsed = json.loads(value or "[]")
        except ValueError as exc:
            raise ValueError(f"not a JSON array: {exc}") from None
        if not isinstance(parsed, list) or not all(isinstance(p, dict) for p in parsed):
            raise ValueError("must be a JSON array of objects")
        return value

    # -- derived views -----------------------------------------------------------------------------------------

    @property
    def post_processors(self) -> list[str]:
        """The post-processor chain, DocumentIdAdder first."""
        return self.post_processor_chain.split(",")

    @cached_property
    def topic_overrides(self) -> dict[str, dict[str, Any]]:
        """``{topic: {property: value}}`` from the ``topic.override.<topic>.<property>`` entries."""
        out: dict[str, dict[str, Any]] = {}
        for key, value in (self.model_extra or {}).items():
            if not key.startswith("topic.override."):
                continue
            rest = key[len("topic.override.") :]
            # The longest known property that ends the key wins: topic names may contain dots.
            for prop in sorted(TOPIC_PROPERTIES, key=len, reverse=True):
                if rest.endswith("." + prop) and len(rest) > len(prop) + 1:
                    out.setdefault(rest[: -len(prop) - 1], {})[prop] = value
                    break
        return out

    def for_topic(self, topic: str) -> MongoSinkConfig:
        """This config with ``topic``'s overrides applied (validated like the connector config)."""
        overrides = self.topic_overrides.get(topic)
        if not overrides:
            return self
        raw = self.model_dump(by_alias=True, exclude_unset=True)
        raw["connection.uri"] = self.connection_uri.get_secret_value()
        raw.update(overrides)
        return MongoSinkConfig.model_validate(raw)

    def known_extra(self, key: str) -> bool:
        return super().known_extra(key) or (key.startswith("topic.override.") and self._is_override(key))

    def _is_override(self, key: str) -> bool:
        return any(key.endswith("." + p) for p in TOPIC_PROPERTIES)

    @classmethod
    def cross_field_problems(cls, raw: dict[str, Any]) -> list[str]:
        problems = super().cross_field_problems(raw)
        for key, value in raw.items():
            if not key.startswith("topic.override."):
                continue
            rest = key[len("topic.override.") :]
            prop = next((p for p in sorted(TOPIC_PROPERTIES, key=len, reverse=True) if rest.endswith("." + p)), None)
            if prop is None:
                problems.append(f"config.{key}: not a topic-level property of the MongoDB sink")
                continue
            try:
                MongoSinkConfig.model_validate({**raw, prop: value})
            except ValueError as exc:
                problems.append(f"config.{key}: {' '.join(str(exc).split())[:300]}")
        mapper = str(raw.get("namespace.mapper", ""))
        if mapper.endswith("FieldPathNamespaceMapper") and not any(
            raw.get(f"namespace.mapper.{side}.{what}.field")
            for side in ("key", "value")
            for what in ("database", "collection")
        ):
            problems.append("config.namespace.mapper: FieldPathNamespaceMapper needs a namespace.mapper.*.field")
        return problems

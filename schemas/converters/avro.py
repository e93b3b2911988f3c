"""Confluent's ``io.confluent.connect.avro.AvroConverter`` (short name ``avro``), both directions.

Wire format: magic byte ``0``, the schema id as a 4-byte big-endian integer, then the Avro binary encoding
(fastavro). Schemas are registered in / fetched from a Confluent Schema Registry with confluent-kafka's
``SchemaRegistryClient``; the Connect ↔ Avro schema mapping is ``schemas.converters.avro_data`` (Confluent's
AvroData conventions).

Properties (``key.converter.*`` / ``value.converter.*`` with the prefix removed):

- ``schema.registry.url`` (required): one or more comma-separated URLs; ``mock://<scope>`` uses confluent-kafka's
  in-process mock registry, one per scope and process (as Confluent's Java ``mock://`` does);
- ``basic.auth.credentials.source`` (``USER_INFO`` or ``URL``) and ``basic.auth.user.info`` (``user:password``;
  also read as ``schema.registry.basic.auth.user.info``);
- ``auto.register.schemas`` (default true): register the writer schema under the subject; false: look it up;
- ``use.latest.version`` (default false): write with the subject's latest registered schema id;
- ``key.subject.name.strategy`` / ``value.subject.name.strategy``: ``TopicNameStrategy`` (default,
  ``<topic>-key``/``<topic>-value``), ``RecordNameStrategy``, ``TopicRecordNameStrategy``.

Errors: unreadable bytes, an unknown schema id or a registry failure while reading raise ``ConversionError``
(dead-letter topic under ``errors.tolerance=all``); a registry that cannot be reached while writing raises
``RetriableError``.
"""

from __future__ import annotations

import io
import json
import struct
import threading
from collections.abc import Mapping
from typing import Any

import fastavro

from cdc.errors import ConfigError, RetriableError
from schemas.connect import Schema
from schemas.converters.avro_data import avro_to_connect, connect_to_avro, from_avro_value, to_avro_value
from schemas.converters.base import ConversionError
from schemas.converters.connect_json import parse_bool
from schemas.record import Header

JAVA_CLASS = "io.confluent.connect.avro.AvroConverter"
MAGIC = 0
_HEADER = struct.Struct(">bI")

_MOCK_CLIENTS: dict[str, Any] = {}
_MOCK_LOCK = threading.Lock()


def registry_client(conf: Mapping[str, str]) -> Any:
    """A SchemaRegistryClient for ``conf``; ``mock://`` URLs share one in-process mock per URL (tests use this to
    read what a converter registered)."""
    from confluent_kafka.schema_registry import SchemaRegistryClient

    url = str(conf.get("url", ""))
    if url.startswith("mock://"):
        with _MOCK_LOCK:
            client = _MOCK_CLIENTS.get(url)
            if client is None:
                client = SchemaRegistryClient.new_client(dict(conf))
                _MOCK_CLIENTS[url] = client
            return client
    return SchemaRegistryClient(dict(conf))


class AvroConverter:
    """The ``Converter`` for Confluent Avro (see the module docstring)."""

    java_class = JAVA_CLASS

    def __init__(self) -> None:
        self.client: Any = None
        self.is_key = False
        self.auto_register = True
        self.use_latest = False
        self.strategy = "TopicNameStrategy"
        # Writer side: Connect schema identity → (schema, subject, id, parsed Avro schema).
        self._writers: dict[int, tuple[Schema, int, Any]] = {}
        # Reader side: schema id → (Connect schema, parsed Avro schema).
        self._readers: dict[int, tuple[Schema, Any]] = {}

    def configure(self, properties: Mapping[str, str], is_key: bool) -> None:
        """Read the registry settings (see the module docstring); ``ConfigError`` for missing/invalid ones."""
        self.is_key = is_key
        url = str(properties.get("schema.registry.url", "")).strip()
        which = "key.converter" if is_key else "value.converter"
        if not url:
            raise ConfigError([f"{which}.schema.registry.url: required by the Avro converter"])
        conf: dict[str, str] = {"url": url}
        source = str(properties.get("basic.auth.credentials.source", "")).strip().upper()
        user_info = properties.get("basic.auth.user.info") or properties.get("schema.registry.basic.auth.user.info")
        if source in ("USER_INFO", "") and user_info:
            conf["basic.auth.credentials.source"] = "USER_INFO"
            conf["basic.auth.user.info"] = str(user_info)
        elif source == "URL":
            conf["basic.auth.credentials.source"] = "URL"
        elif source not in ("", "USER_INFO"):
            raise ConfigError([f"{which}.basic.auth.credentials.source: {source!r} is not supported (USER_INFO, URL)"])
        self.auto_register = parse_bool(properties.get("auto.register.schemas", "true"), "auto.register.schemas")
        self.use_latest = parse_bool(properties.get("use.latest.version", "false"), "use.latest.version")
        strategy_prop = "key.subject.name.strategy" if is_key else "value.subject.name.strategy"
        strategy = str(properties.get(strategy_prop, "TopicNameStrategy")).rsplit(".", 1)[-1]
        if strategy not in ("TopicNameStrategy", "RecordNameStrategy", "TopicRecordNameStrategy"):
            raise ConfigError([f"{which}.{strategy_prop}: unknown strategy {strategy!r}"])
        self.strategy = strategy
        try:
            self.client = registry_client(conf)
        except Exception as exc:  # noqa: BLE001 - the client validates its settings with its own exception types
            raise ConfigError([f"{which}.schema.registry.url: {exc}"]) from None

    # -- subjects ---------------------------------------------------------------------------------------------

    def subject(self, topic: str, schema: Schema) -> str:
        """The registry subject for ``topic`` and the record schema (subject name strategy)."""
        suffix = "-key" if self.is_key else "-value"
        if self.strategy == "TopicNameStrategy":
            return topic + suffix
        record_name = schema.name or "io.confluent.connect.avro.ConnectDefault"
        if self.strategy == "RecordNameStrategy":
            return record_name
        return f"{topic}-{record_name}"

    # -- Connect → bytes ----------------------------------------------------------------------------------------

    def from_connect(self, topic: str, schema: Schema | None, value: Any, headers: list[Header]) -> bytes | None:
        """Serialize with the registered schema; ``None`` stays ``None`` (tombstones)."""
        if value is None and (schema is None or schema.optional):
            return None
        if schema is None:
            raise ConversionError("the Avro converter needs a schema (schemaless values cannot be written as Avro)")
        entry = self._writers.get(id(schema))
        if entry is None or entry[0] is not schema:
            entry = self._register(topic, schema)
        _, schema_id, parsed = entry
        out = io.BytesIO()
        out.write(_HEADER.pack(MAGIC, schema_id))
        try:
            fastavro.schemaless_writer(out, parsed, to_avro_value(schema, value))
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise ConversionError(f"cannot encode value as Avro for {topic}: {exc}") from None
        return out.getvalue()

    def _register(self, topic: str, schema: Schema) -> tuple[Schema, int, Any]:
        from confluent_kafka.schema_registry import Schema as RegistrySchema
        from confluent_kafka.schema_registry.error import SchemaRegistryError

        avro = connect_to_avro(schema)
        subject = self.subject(topic, schema)
        text = json.dumps(avro, separators=(",", ":"))
        try:
            if self.use_latest:
                latest = self.client.get_latest_version(subject)
                schema_id = latest.schema_id
                parsed = fastavro.parse_schema(json.loads(latest.schema.schema_str))
            elif self.auto_register:
                schema_id = self.client.register_schema(subject, RegistrySchema(text, "AVRO"))
                parsed = fastavro.parse_schema(avro)
            else:
                schema_id = self.client.lookup_schema(subject, RegistrySchema(text, "AVRO")).schema_id
                parsed = fastavro.parse_schema(avro)
        except SchemaRegistryError as exc:
            raise ConversionError(f"schema registry rejected the schema for subject {subject}: {exc}") from None
        except (OSError, ConnectionError) as exc:
            raise RetriableError(f"schema registry unreachable: {exc}") from None
        except Exception as exc:  # noqa: BLE001 - httpx/requests transport errors vary by client version
            raise RetriableError(f"schema registry request failed: {type(exc).__name__}: {exc}") from None
        if len(self._writers) > 4096:
            self._writers.clear()
        entry = (schema, int(schema_id), parsed)
        self._writers[id(schema)] = entry
        return entry

    # -- bytes → Connect ----------------------------------------------------------------------------------------

    def to_connect(self, topic: str, data: bytes | None, headers: list[Header]) -> tuple[Schema | None, Any]:
        """Deserialize Confluent wire-format bytes; ``ConversionError`` for anything else."""
        if data is None:
            return None, None
        if len(data) < 5 or data[0] != MAGIC:
            raise ConversionError("Unknown magic byte: not Confluent Avro wire format")
        schema_id = _HEADER.unpack_from(data)[1]
        reader = self._readers.get(schema_id)
        if reader is None:
            reader = self._fetch(schema_id)
        schema, parsed = reader
        try:
            datum = fastavro.schemaless_reader(io.BytesIO(data[5:]), parsed, None)
        except (ValueError, TypeError, EOFError, IndexError, KeyError, UnicodeDecodeError) as exc:
            raise ConversionError(f"cannot decode Avro data with schema id {schema_id}: {exc}") from None
        return schema, from_avro_value(schema, datum)

    def _fetch(self, schema_id: int) -> tuple[Schema, Any]:
        from confluent_kafka.schema_registry.error import SchemaRegistryError

        try:
            registered = self.client.get_schema(schema_id)
            avro = json.loads(registered.schema_str)
        except (SchemaRegistryError, ValueError) as exc:  # unknown id, unreadable schema: this record is bad
            raise ConversionError(f"cannot fetch Avro schema id {schema_id}: {exc}") from None
        except Exception as exc:  # noqa: BLE001 - transport errors vary by client version: retry (errors.retry.*)
            raise RetriableError(f"schema registry unreachable fetching id {schema_id}: {exc}") from None
        entry = (avro_to_connect(avro), fastavro.parse_schema(avro))
        self._readers[schema_id] = entry
        return entry

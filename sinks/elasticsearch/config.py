"""Properties of the Elasticsearch / OpenSearch sink: the Confluent Elasticsearch sink's names and defaults.

Enumerated values are case-insensitive as in Connect (``behavior.on.null.values=IGNORE`` and ``ignore`` both
work). TLS: Python's ssl module reads PEM files, so ``elastic.https.ssl.*store.type`` must be ``PEM`` (Kafka's PEM
store type); JKS/PKCS12 stores are a configuration error that says how to convert them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator

from sinks.config_base import SinkConnectorConfig

_LOWER_ENUMS = (
    "behavior_on_null_values",
    "behavior_on_malformed_documents",
    "write_method",
    "data_stream_type",
    "elastic_security_protocol",
    "debezium_envelope",
    "external_version_mode",
)


class ElasticsearchSinkConfig(SinkConnectorConfig):
    """``connector.class: elasticsearch`` / ``io.confluent.connect.elasticsearch.ElasticsearchSinkConnector``."""

    connection_url: str = Field(
        alias="connection.url", description="Comma-separated http(s):// URLs of the cluster's nodes"
    )
    connection_username: str | None = Field(None, alias="connection.username", description="Basic auth user")
    connection_password: SecretStr | None = Field(
        None, alias="connection.password", description="Basic auth password (never logged)"
    )
    connection_timeout_ms: int = Field(1000, alias="connection.timeout.ms", ge=0, description="Connect timeout")
    read_timeout_ms: int = Field(3000, alias="read.timeout.ms", ge=0, description="Request (read) timeout")
    connection_compression: bool = Field(False, alias="connection.compression", description="gzip request bodies")
    elastic_security_protocol: Literal["plaintext", "ssl"] = Field(
        "plaintext", alias="elastic.security.protocol", description="PLAINTEXT or SSL (TLS with the options below)"
    )
    ssl_truststore_location: str | None = Field(
        None, alias="elastic.https.ssl.truststore.location", description="PEM file of trusted CA certificates"
    )
    ssl_truststore_type: str = Field("PEM", alias="elastic.https.ssl.truststore.type", description="Only PEM")
    ssl_truststore_password: SecretStr | None = Field(
        None, alias="elastic.https.ssl.truststore.password", description="Unused for PEM (accepted)"
    )
    ssl_keystore_location: str | None = Field(
        None,
        alias="elastic.https.ssl.keystore.location",
        description="PEM file with the client certificate and its private key (mutual TLS)",
    )
    ssl_keystore_type: str = Field("PEM", alias="elastic.https.ssl.keystore.type", description="Only PEM")
    ssl_keystore_password: SecretStr | None = Field(
        None, alias="elastic.https.ssl.keystore.password", description="Unused for PEM (accepted)"
    )
    ssl_key_password: SecretStr | None = Field(
        None, alias="elastic.https.ssl.key.password", description="Password of an encrypted private key"
    )
    ssl_endpoint_identification_algorithm: str = Field(
        "https",
        alias="elastic.https.ssl.endpoint.identification.algorithm",
        description="https checks the server's host name; empty disables that check",
    )
    key_ignore: bool = Field(
        False, alias="key.ignore", description="Ignore keys: document id = topic+partition+offset (an append log)"
    )
    topic_key_ignore: str = Field("", alias="topic.key.ignore", description="Topics for which key.ignore=true")
    schema_ignore: bool = Field(
        False, alias="schema.ignore", description="Do not create indices with a mapping from the record schema"
    )
    topic_schema_ignore: str = Field("", alias="topic.schema.ignore", description="Topics for which schema.ignore=true")
    compact_map_entries: bool = Field(
        True,
        alias="compact.map.entries",
        description="Maps with string keys become objects (else arrays of {key, value} entries)",
    )
    drop_invalid_message: bool = Field(
        False, alias="drop.invalid.message", description="Drop records that cannot be converted instead of failing"
    )
    behavior_on_null_values: Literal["ignore", "delete", "fail"] = Field(
        "fail", alias="behavior.on.null.values", description="Null values (tombstones): ignore, delete by id, fail"
    )
    behavior_on_malformed_documents: Literal["ignore", "warn", "fail"] = Field(
        "fail",
        alias="behavior.on.malformed.documents",
        description="Documents the cluster rejects: ignore, warn (log), fail (report: dead-letter topic or stop)",
    )
    write_method: Literal["insert", "upsert"] = Field(
        "insert", alias="write.method", description="insert (index) or upsert (partial update, doc_as_upsert)"
    )
    batch_size: int = Field(2000, alias="batch.size", ge=1, description="Records per bulk request")
    bulk_size_bytes: int = Field(5 * 1024 * 1024, alias="bulk.size.bytes", ge=-1, description="Bytes per bulk request")
    max_in_flight_requests: int = Field(
        5, alias="max.in.flight.requests", ge=1, description="Bulk requests in flight at once"
    )
    max_buffered_records: int = Field(
        20000, alias="max.buffered.records", ge=1, description="Records buffered before put blocks (backpressure)"
    )
    linger_ms: int = Field(1, alias="linger.ms", ge=0, description="Longest wait for a batch to fill")
    flush_timeout_ms: int = Field(
        180000, alias="flush.timeout.ms", ge=1, description="Longest flush; then the batch is retried"
    )
    max_retries: int = Field(5, alias="max.retries", ge=0, description="Retries of a failed bulk request")
    retry_backoff_ms: int = Field(
        100, alias="retry.backoff.ms", ge=0, description="First retry backoff; doubles up to 2^max.retries"
    )
    data_stream_type: Literal["none", "logs", "metrics"] = Field(
        "none", alias="data.stream.type", description="Write to the data stream <type>-<dataset>-<topic>"
    )
    data_stream_dataset: str | None = Field(
        None, alias="data.stream.dataset", description="Dataset part of the data stream name"
    )
    data_stream_namespace: str = Field(
        "${topic}", alias="data.stream.namespace", description="Namespace part of the data stream name"
    )
    external_version_header: str | None = Field(
        None, alias="external.version.header", description="Header whose long value is the document version"
    )
    debezium_envelope: Literal["unwrap", "raw"] = Field(
        "unwrap",
        alias="debezium.envelope",
        description="cdc-engine: index Debezium envelopes' after state and delete on op=d (unwrap), or index "
        "envelopes as they are (raw, the Confluent connector's behaviour)",
    )
    external_version_mode: Literal["source", "offset", "none"] = Field(
        "source",
        alias="external.version.mode",
        description="cdc-engine: version documents with the change's source position (LSN, binlog file/pos), "
        "falling back to the Kafka offset (source); the Kafka offset only (offset, Confluent); or not at all",
    )

    @field_validator(*_LOWER_ENUMS, mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("connection_url")
    @classmethod
    def _urls(cls, value: str) -> str:
        urls = [u.strip() for u in value.split(",") if u.strip()]
        if not urls:
            raise ValueError("at least one URL is required")
        for url in urls:
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"{url!r} must start with http:// or https://")
        return ",".join(urls)

    @field_validator("ssl_truststore_type", "ssl_keystore_type")
    @classmethod
    def _pem_only(cls, value: str) -> str:
        if value.strip().upper() != "PEM":
            raise ValueError(
                f"store type {value!r} is not supported: use PEM files (e.g. `keytool -exportcert -rfc` or "
                "`openssl pkcs12 -nodes` to convert) and set the type to PEM"
            )
        return "PEM"

    @property
    def urls(self) -> list[str]:
        """The node URLs."""
        return self.connection_url.split(",")

    def ignores_key(self, topic: str) -> bool:
        """``key.ignore`` for ``topic`` (``topic.key.ignore`` lists topics that ignore keys)."""
        return self.key_ignore or topic in _csv(self.topic_key_ignore)

    def ignores_schema(self, topic: str) -> bool:
        """``schema.ignore`` for ``topic``."""
        return self.schema_ignore or topic in _csv(self.topic_schema_ignore)

    def known_extra(self, key: str) -> bool:
        # Properties of the Confluent connector that have no meaning here: accepted silently.
        return super().known_extra(key) or key in {
            "type.name",
            "proxy.host",
            "proxy.port",
            "proxy.username",
            "proxy.password",
            "max.connection.idle.time.ms",
            "log.sensitive.data",
            "elastic.https.ssl.protocol",
            "elastic.https.ssl.enabled.protocols",
            "elastic.https.ssl.cipher.suites",
            "use.autogenerated.ids",
        }

    @classmethod
    def cross_field_problems(cls, raw: dict[str, Any]) -> list[str]:
        problems = super().cross_field_problems(raw)
        dtype = str(raw.get("data.stream.type", "none")).lower()
        if dtype != "none" and not raw.get("data.stream.dataset"):
            problems.append("config.data.stream.dataset: required when data.stream.type is set")
        if dtype != "none" and str(raw.get("write.method", "insert")).lower() == "upsert":
            problems.append("config.write.method: upsert cannot write to a data stream (append only)")
        if bool(raw.get("connection.username")) != bool(raw.get("connection.password")):
            problems.append("config.connection.username/connection.password: give both or neither")
        tls = str(raw.get("elastic.security.protocol", "plaintext")).lower() == "ssl"
        urls = [u.strip() for u in str(raw.get("connection.url", "")).split(",") if u.strip()]
        if tls and any(u.startswith("http://") for u in urls):
            # The Python clients would silently talk plaintext to an http:// URL.
            problems.append("config.connection.url: elastic.security.protocol=SSL needs https:// URLs")
        for store in ("truststore", "keystore"):
            location = raw.get(f"elastic.https.ssl.{store}.location")
            if location and not Path(str(location)).is_file():
                problems.append(f"config.elastic.https.ssl.{store}.location: no such file: {location}")
            elif location and not (tls or any(u.startswith("https://") for u in urls)):
                # Confluent's validator: SSL configs need elastic.security.protocol=SSL.
                problems.append(
                    f"config.elastic.https.ssl.{store}.location: needs elastic.security.protocol=SSL (or https:// URLs)"
                )
        return problems


def _csv(text: str) -> set[str]:
    return {t.strip() for t in text.split(",") if t.strip()}

"""Properties of the MySQL / MariaDB connector (Debezium 3.6 names and defaults).

``connector.class`` is ``mysql``, ``mariadb``, ``io.debezium.connector.mysql.MySqlConnector`` or
``io.debezium.connector.mariadb.MariaDbConnector``; the flavour actually spoken is detected from the server.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator

from cdc.source_config import CommonSourceConfig

SnapshotMode = Literal["initial", "initial_only", "no_data", "always", "when_needed", "never", "recovery"]


class MySqlConnectorConfig(CommonSourceConfig):
    """``connector.class: mysql`` / ``mariadb`` / Debezium's MySqlConnector and MariaDbConnector."""

    database_port: int = Field(3306, alias="database.port", ge=1, le=65535, description="Server port")
    database_server_id: int = Field(
        alias="database.server.id",
        ge=1,
        le=2**32 - 1,
        description="Replica server_id this connector registers with; unique among the server's replicas",
    )
    database_ssl_mode: Literal["disabled", "preferred", "required", "verify_ca", "verify_identity"] = Field(
        "disabled",
        alias="database.ssl.mode",
        description="TLS to the server: disabled (plain TCP; caching_sha2_password then uses the server's RSA key), "
        "preferred (TLS if offered, unverified), required (TLS, unverified), verify_ca (certificate chains to a "
        "trusted CA), verify_identity (and names database.hostname)",
    )
    database_ssl_truststore: str | None = Field(
        None,
        alias="database.ssl.truststore",
        description="CA certificates trusted by verify_ca/verify_identity: a PEM file or a PKCS#12 keystore "
        "(keytool -storetype PKCS12); default: the system's CAs",
    )
    database_ssl_truststore_password: SecretStr = Field(
        SecretStr(""), alias="database.ssl.truststore.password", description="Password of a PKCS#12 truststore"
    )
    database_include_list: str | None = Field(None, alias="database.include.list", description="Databases to capture")
    database_exclude_list: str | None = Field(None, alias="database.exclude.list", description="Databases to skip")
    snapshot_mode: SnapshotMode = Field(
        "initial",
        alias="snapshot.mode",
        description="initial, initial_only, no_data, always, when_needed, never, recovery (schema_only_recovery)",
    )
    snapshot_locking_mode: Literal["minimal", "extended", "none"] = Field(
        "minimal",
        alias="snapshot.locking.mode",
        description="minimal: hold the global read lock only while reading the binlog position and schemas; "
        "extended: for the whole snapshot; none: take no lock (only safe without DDL during the snapshot)",
    )
    include_schema_changes: bool = Field(
        True, alias="include.schema.changes", description="Send schema change events to the <topic.prefix> topic"
    )
    include_query: bool = Field(
        False,
        alias="include.query",
        description="SQL statement in source.query (binlog_rows_query_log_events)",
    )
    bigint_unsigned_handling_mode: Literal["long", "precise"] = Field(
        "long",
        alias="bigint.unsigned.handling.mode",
        description="BIGINT UNSIGNED as int64 or Decimal",
    )
    binary_handling_mode: Literal["bytes", "base64", "base64-url-safe", "hex"] = Field(
        "bytes", alias="binary.handling.mode", description="How BINARY/VARBINARY/BLOB values are represented"
    )
    time_precision_mode: Literal["adaptive_time_microseconds", "connect", "adaptive"] = Field(
        "adaptive_time_microseconds",
        alias="time.precision.mode",
        description="adaptive_time_microseconds (default) or connect; adaptive is accepted as in Debezium 1.x",
    )
    schema_history_internal_kafka_topic: str | None = Field(
        None,
        alias="schema.history.internal.kafka.topic",
        description="Topic holding the DDL history (default: <topic.prefix>.schema-history)",
    )
    schema_history_internal_kafka_bootstrap_servers: str | None = Field(
        None,
        alias="schema.history.internal.kafka.bootstrap.servers",
        description="Brokers of the schema history topic (default: the worker's bootstrap.servers)",
    )
    gtid_source_includes: str | None = Field(
        None, alias="gtid.source.includes", description="GTID source UUIDs (regexes) kept in the offset's GTID set"
    )
    gtid_source_excludes: str | None = Field(
        None, alias="gtid.source.excludes", description="GTID source UUIDs (regexes) dropped from the offset's GTID set"
    )
    gtid_source_filter_dml_events: bool = Field(
        True,
        alias="gtid.source.filter.dml.events",
        description="with gtid.source.includes/excludes: drop the row changes of transactions from GTID sources "
        "they filter out (MySQL: server UUID; MariaDB: domain-server)",
    )
    connect_timeout_ms: int = Field(30000, alias="connect.timeout.ms", ge=1, description="Connection timeout")
    connect_keep_alive: bool = Field(
        True, alias="connect.keep.alive", description="Reconnect with backoff when the binlog connection is lost"
    )
    connect_keep_alive_interval_ms: int = Field(
        60000,
        alias="connect.keep.alive.interval.ms",
        ge=1,
        description="Accepted; backoff is capped at 30 s",
    )
    snapshot_fetch_size: int = Field(
        10240, alias="snapshot.fetch.size", ge=1, description="Rows fetched per round trip by the snapshot cursor"
    )

    @field_validator("snapshot_mode", mode="before")
    @classmethod
    def _legacy_snapshot_modes(cls, value: Any) -> Any:
        # Debezium 1.x/2.x names: schema_only → no_data, schema_only_recovery → recovery.
        aliases = {"schema_only": "no_data", "schema_only_recovery": "recovery"}
        return aliases.get(str(value), value)

    @classmethod
    def exclusive_pairs(cls) -> list[tuple[str, str]]:
        return [
            *super().exclusive_pairs(),
            ("database.include.list", "database.exclude.list"),
            ("gtid.source.includes", "gtid.source.excludes"),
        ]

    @classmethod
    def regex_lists(cls) -> list[str]:
        return [
            *super().regex_lists(),
            "database.include.list",
            "database.exclude.list",
            "gtid.source.includes",
            "gtid.source.excludes",
        ]

    def namespace_filter(self) -> tuple[str | None, str | None, tuple[str, ...]]:
        return (
            self.database_include_list,
            self.database_exclude_list,
            ("mysql", "sys", "information_schema", "performance_schema"),
        )

    def history_topic(self) -> str:
        """The schema history topic."""
        return self.schema_history_internal_kafka_topic or f"{self.topic_prefix}.schema-history"

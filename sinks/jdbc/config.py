"""JDBC sink properties, named and defaulted as in Debezium's JDBC sink (``io.debezium.connector.jdbc``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AliasChoices, Field, SecretStr

from sinks.config import SinkConnectorConfig

# Debezium JDBC properties that configure Hibernate or its connection pool: nothing to configure here.
_ACCEPTED_PREFIXES = ("hibernate.", "connection.pool.", "connection.provider")


class JdbcSinkConfig(SinkConnectorConfig):
    """Debezium JDBC sink connector properties."""

    connection_url: str = Field(
        alias="connection.url",
        description="jdbc:postgresql://host[:port]/db, jdbc:mysql://host[:port]/db or jdbc:mariadb://host[:port]/db "
        "(?user=&password=&sslmode= parameters accepted)",
    )
    connection_username: str | None = Field(
        None, alias="connection.username", description="Database user (or user= in the URL)"
    )
    connection_password: SecretStr = Field(
        SecretStr(""), alias="connection.password", description="Database password; never logged"
    )
    insert_mode: Literal["insert", "upsert", "update"] = Field(
        "insert",
        alias="insert.mode",
        description="insert: INSERT only; upsert: INSERT … ON CONFLICT / ON DUPLICATE KEY UPDATE (idempotent); "
        "update: UPDATE by primary key",
    )
    delete_enabled: bool = Field(
        False,
        alias="delete.enabled",
        description="Delete rows on delete events and tombstones (needs primary.key.mode=record_key)",
    )
    truncate_enabled: bool = Field(False, alias="truncate.enabled", description="Truncate the table on truncate events")
    primary_key_mode: Literal["none", "kafka", "record_key", "record_value"] = Field(
        "none",
        alias="primary.key.mode",
        description="none: no key; kafka: __connect_topic/__connect_partition/__connect_offset; record_key: the "
        "record key's fields; record_value: fields of the value",
    )
    primary_key_fields: str | None = Field(
        None,
        alias="primary.key.fields",
        description="Comma-separated key columns: a subset of the key (record_key), the value fields (record_value), "
        "or the column name of a primitive key",
    )
    schema_evolution: Literal["none", "basic"] = Field(
        "none",
        alias="schema.evolution",
        description="basic: create missing tables and add missing columns from the record schema",
    )
    table_name_format: str = Field(
        "${topic}",
        alias="table.name.format",
        validation_alias=AliasChoices("table.name.format", "collection.name.format"),
        description="Target table: ${topic}, ${source.db}, ${source.schema}, ${source.table} are replaced; dots "
        "become underscores (also accepted as collection.name.format)",
    )
    batch_size: int = Field(500, alias="batch.size", ge=1, description="Records written per statement batch")
    quote_identifiers: bool = Field(
        False, alias="quote.identifiers", description="Quote table and column names (keeps their case)"
    )
    database_time_zone: str = Field(
        "UTC", alias="database.time_zone", description="Session time zone for temporal values (only UTC is supported)"
    )

    def pk_fields(self) -> list[str]:
        """``primary.key.fields`` as a list."""
        return [f.strip() for f in (self.primary_key_fields or "").split(",") if f.strip()]

    @classmethod
    def cross_field_problems(cls, raw: dict[str, Any]) -> list[str]:
        """Topic/error checks of every sink, plus the JDBC combinations Debezium rejects."""
        problems = super().cross_field_problems(raw)
        url = str(raw.get("connection.url", ""))
        if url and not url.startswith(("jdbc:postgresql://", "jdbc:mysql://", "jdbc:mariadb://")):
            problems.append(
                "config.connection.url: only jdbc:postgresql://, jdbc:mysql:// and jdbc:mariadb:// URLs are supported"
            )
        pk_mode = str(raw.get("primary.key.mode", "none")).strip().lower()
        mode = str(raw.get("insert.mode", "insert")).strip().lower()
        if mode in ("upsert", "update") and pk_mode == "none":
            problems.append(f"config.insert.mode: {mode} needs a primary key; set primary.key.mode (e.g. record_key)")
        if str(raw.get("delete.enabled", "false")).strip().lower() == "true" and pk_mode != "record_key":
            problems.append("config.delete.enabled: true needs primary.key.mode=record_key")
        tz = str(raw.get("database.time_zone", "UTC")).strip().upper()
        if tz not in ("UTC", "Z", "GMT", "+00:00"):
            problems.append("config.database.time_zone: only UTC is supported")
        return problems

    def unused_property_warnings(self) -> list[str]:
        """As for every sink, minus the Hibernate / pool properties Debezium users carry along."""
        return [w for w in super().unused_property_warnings() if not any(f"'{p}" in w for p in _ACCEPTED_PREFIXES)]

"""Properties of the PostgreSQL connector (Debezium names and defaults, except ``plugin.name``: pgoutput)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from cdc.source_config import CommonSourceConfig


class PostgresConnectorConfig(CommonSourceConfig):
    """``connector.class: postgres`` / ``io.debezium.connector.postgresql.PostgresConnector``."""

    database_port: int = Field(5432, alias="database.port", ge=1, le=65535)
    database_dbname: str = Field(alias="database.dbname", description="Database to capture")
    database_sslmode: Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"] = Field(
        "prefer", alias="database.sslmode"
    )
    plugin_name: Literal["pgoutput"] = Field(
        "pgoutput", alias="plugin.name", description="Only pgoutput (built into PostgreSQL ≥ 10) is supported"
    )
    slot_name: str = Field("debezium", alias="slot.name", pattern=r"^[a-z0-9_]{1,63}$")
    slot_drop_on_stop: bool = Field(False, alias="slot.drop.on.stop")
    publication_name: str = Field("dbz_publication", alias="publication.name")
    publication_autocreate_mode: Literal["all_tables", "filtered", "disabled"] = Field(
        "all_tables", alias="publication.autocreate.mode"
    )
    schema_include_list: str | None = Field(None, alias="schema.include.list")
    schema_exclude_list: str | None = Field(None, alias="schema.exclude.list")
    snapshot_mode: Literal["initial", "initial_only", "no_data", "always", "when_needed", "never"] = Field(
        "initial", alias="snapshot.mode"
    )
    status_update_interval_ms: int = Field(10000, alias="status.update.interval.ms", ge=100)
    hstore_handling_mode: Literal["json", "map"] = Field(
        "json", alias="hstore.handling.mode", description="hstore as io.debezium.data.Json text or as a map"
    )
    interval_handling_mode: Literal["numeric", "string"] = Field(
        "numeric",
        alias="interval.handling.mode",
        description="interval as io.debezium.time.MicroDuration (numeric) or io.debezium.time.Interval (string)",
    )
    binary_handling_mode: Literal["bytes", "base64", "base64-url-safe", "hex"] = Field(
        "bytes", alias="binary.handling.mode", description="bytea as bytes or as base64/base64-url-safe/hex text"
    )
    money_fraction_digits: int = Field(
        2, alias="money.fraction.digits", ge=0, le=20, description="scale of money Decimals (precise mode)"
    )
    include_unknown_datatypes: bool = Field(
        False,
        alias="include.unknown.datatypes",
        description="keep columns of types Debezium does not map (box, circle, line, lseg, path, polygon) as bytes",
    )

    @classmethod
    def exclusive_pairs(cls) -> list[tuple[str, str]]:
        return [*super().exclusive_pairs(), ("schema.include.list", "schema.exclude.list")]

    @classmethod
    def regex_lists(cls) -> list[str]:
        return [*super().regex_lists(), "schema.include.list", "schema.exclude.list"]

    def namespace_filter(self) -> tuple[str | None, str | None, tuple[str, ...]]:
        return self.schema_include_list, self.schema_exclude_list, ("pg_catalog", "information_schema", "pg_toast")

"""Properties of the PostgreSQL connector (Debezium names and defaults, except ``plugin.name``: pgoutput)."""

from __future__ import annotations

import re
from typing import Any, Literal

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
    snapshot_select_statement_overrides: str | None = Field(
        None,
        alias="snapshot.select.statement.overrides",
        description="tables (schema.table, comma-separated) whose snapshot runs the statement in "
        "snapshot.select.statement.overrides.<schema>.<table> instead of SELECT * (same columns, same order)",
    )
    slot_stream_params: str | None = Field(
        None,
        alias="slot.stream.params",
        description="extra START_REPLICATION options for the output plugin, 'name=value;name=value'",
    )
    signal_data_collection: str | None = Field(
        None,
        alias="signal.data.collection",
        description="schema.table of Debezium's signaling table; signals are logged, ad hoc snapshots are not "
        "supported yet (such signals are reported and ignored)",
    )
    include_unknown_datatypes: bool = Field(
        False,
        alias="include.unknown.datatypes",
        description="keep columns of types Debezium does not map (box, circle, line, lseg, path, polygon) as bytes",
    )

    def select_override(self, schema: str, table: str) -> str | None:
        """The snapshot.select.statement.overrides statement of ``schema.table``, or None."""
        listed = {t.strip() for t in (self.snapshot_select_statement_overrides or "").split(",") if t.strip()}
        if f"{schema}.{table}" not in listed:
            return None
        statement = (self.model_extra or {}).get(f"snapshot.select.statement.overrides.{schema}.{table}")
        return str(statement) if statement else None

    def stream_params(self) -> dict[str, str]:
        """slot.stream.params as START_REPLICATION options."""
        out = {}
        for part in (self.slot_stream_params or "").split(";"):
            name, sep, value = part.partition("=")
            if sep and name.strip():
                out[name.strip()] = value.strip()
        return out

    @classmethod
    def cross_field_problems(cls, raw: dict[str, Any]) -> list[str]:
        problems = super().cross_field_problems(raw)
        listed = str(raw.get("snapshot.select.statement.overrides") or "")
        for table in (t.strip() for t in listed.split(",") if t.strip()):
            if not raw.get(f"snapshot.select.statement.overrides.{table}"):
                problems.append(
                    f"config.snapshot.select.statement.overrides: {table!r} is listed but "
                    f"snapshot.select.statement.overrides.{table} (its SELECT statement) is missing"
                )
        for part in str(raw.get("slot.stream.params") or "").split(";"):
            if part.strip() and "=" not in part:
                problems.append(f"config.slot.stream.params: {part.strip()!r} is not name=value")
            elif part.strip() and not re.fullmatch(r"[A-Za-z0-9_-]+", part.partition("=")[0].strip()):
                problems.append(f"config.slot.stream.params: option name {part.partition('=')[0].strip()!r}")
        return problems

    @classmethod
    def exclusive_pairs(cls) -> list[tuple[str, str]]:
        return [*super().exclusive_pairs(), ("schema.include.list", "schema.exclude.list")]

    @classmethod
    def regex_lists(cls) -> list[str]:
        return [*super().regex_lists(), "schema.include.list", "schema.exclude.list"]

    def namespace_filter(self) -> tuple[str | None, str | None, tuple[str, ...]]:
        return self.schema_include_list, self.schema_exclude_list, ("pg_catalog", "information_schema", "pg_toast")

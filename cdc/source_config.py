"""Connector properties every source connector shares (Debezium's common connector options).

Connector models in ``cdc/<db>/config.py`` extend :class:`CommonSourceConfig`. Property names are Debezium's,
declared as pydantic aliases; values may be strings as in Connect JSON (``"5432"``, ``"true"``).
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from cdc.capture.transform import ERROR_PROPERTIES
from cdc.column_mappers import ColumnMappers
from cdc.errors import ConfigError
from cdc.filters import TableFilter

# Connect/Debezium properties that are accepted silently: they configure things that have no separate meaning
# here (one task per connector, the producer is the worker's) or are informational.
# Dynamically named properties: cdc.column_mappers (masking/truncation/hashing, source types, keys) and the
# per-table snapshot.select.statement.overrides.<table> statements.
COLUMN_MAPPER_KEYS = re.compile(
    r"^(column\.(truncate\.to|mask\.with)\.\d+\.chars|column\.mask\.hash\..+\.with\.salt\..+|"
    r"column\.propagate\.source\.type|datatype\.propagate\.source\.type|message\.key\.columns|"
    r"snapshot\.select\.statement\.overrides\..+)$"
)
ACCEPTED_WITHOUT_EFFECT = frozenset({"name", "tasks.max", "max.queue.size", "max.batch.size", "poll.interval.ms"})


class CommonSourceConfig(BaseModel):
    """Properties shared by the PostgreSQL and MySQL connectors."""

    model_config = ConfigDict(populate_by_name=True, extra="allow", frozen=True)

    connector_class: str = Field(alias="connector.class", description="postgres or the Debezium class name")
    database_hostname: str = Field(alias="database.hostname", description="Database host")
    database_user: str = Field(alias="database.user", description="Database user")
    database_password: SecretStr = Field(SecretStr(""), alias="database.password", description="Database password")
    topic_prefix: str = Field(
        alias="topic.prefix", pattern=r"^[A-Za-z0-9._-]+$", description="Prefix of every topic; the logical server name"
    )
    table_include_list: str | None = Field(None, alias="table.include.list")
    table_exclude_list: str | None = Field(None, alias="table.exclude.list")
    column_include_list: str | None = Field(None, alias="column.include.list")
    column_exclude_list: str | None = Field(None, alias="column.exclude.list")
    tombstones_on_delete: bool = Field(True, alias="tombstones.on.delete", description="Emit a tombstone per delete")
    skipped_operations: str = Field(
        "t", alias="skipped.operations", description="Comma list of ops not emitted: c,u,d,t or none"
    )
    heartbeat_interval_ms: int = Field(0, alias="heartbeat.interval.ms", ge=0)
    topic_heartbeat_prefix: str = Field("__debezium-heartbeat", alias="topic.heartbeat.prefix")
    decimal_handling_mode: Literal["precise", "double", "string"] = Field("precise", alias="decimal.handling.mode")
    time_precision_mode: Literal["adaptive", "adaptive_time_microseconds", "connect"] = Field(
        "adaptive", alias="time.precision.mode"
    )
    snapshot_fetch_size: int = Field(10240, alias="snapshot.fetch.size", ge=1)
    unavailable_value_placeholder: str = Field("__debezium_unavailable_value", alias="unavailable.value.placeholder")
    provide_transaction_metadata: bool = Field(
        False,
        alias="provide.transaction.metadata",
        description="BEGIN/END records on <topic.prefix>.transaction and a transaction block in every event",
    )
    extended_headers_enabled: bool = Field(
        True,
        alias="extended.headers.enabled",
        description="the __debezium.context.* headers on every change record (about 1 us per record to send)",
    )

    # -- derived views ------------------------------------------------------------------------------------------

    def skipped_ops(self) -> frozenset[str]:
        """The set of op codes not emitted (``none`` means emit everything)."""
        value = self.skipped_operations.strip().lower()
        if value in ("", "none"):
            return frozenset()
        return frozenset(p.strip() for p in value.split(",") if p.strip())

    @classmethod
    def cross_field_problems(cls, raw: dict[str, Any]) -> list[str]:
        """Problems no single property shows (mutually exclusive lists, bad regexes, unknown ops).

        Works on the raw properties so that they are reported together with type errors of other properties.
        """
        problems = []
        for a, b in cls.exclusive_pairs():
            if raw.get(a) and raw.get(b):
                problems.append(f"config: {a} and {b} are mutually exclusive")
        for prop in cls.regex_lists():
            value = raw.get(prop)
            if not value or not isinstance(value, str):
                continue
            for part in value.split(","):
                try:
                    re.compile(part.strip())
                except re.error as exc:
                    problems.append(f"config.{prop}: invalid regular expression {part.strip()!r}: {exc}")
        ops = str(raw.get("skipped.operations", "t")).strip().lower()
        if ops not in ("", "none"):
            bad_ops = {p.strip() for p in ops.split(",") if p.strip()} - {"c", "u", "d", "t"}
            if bad_ops:
                problems.append(
                    f"config.skipped.operations: unknown operation(s) {sorted(bad_ops)}; use c,u,d,t or none"
                )
        problems += _transform_problems(raw)
        problems += ColumnMappers.problems(raw)
        return problems

    def unused_property_warnings(self) -> list[str]:
        """Properties we accept but do not implement; `validate` prints them, `start` logs them."""
        extra = sorted(
            k for k in (self.model_extra or {}) if k not in ACCEPTED_WITHOUT_EFFECT and not COLUMN_MAPPER_KEYS.match(k)
        )
        return [
            f"connector property {k!r} is not used by cdc-engine"
            for k in extra
            if k not in ("transforms", "predicates", *ERROR_PROPERTIES)
            and not k.startswith(("transforms.", "predicates."))
        ]

    @classmethod
    def exclusive_pairs(cls) -> list[tuple[str, str]]:
        return [("table.include.list", "table.exclude.list"), ("column.include.list", "column.exclude.list")]

    @classmethod
    def regex_lists(cls) -> list[str]:
        return ["table.include.list", "table.exclude.list", "column.include.list", "column.exclude.list"]

    def namespace_filter(self) -> tuple[str | None, str | None, tuple[str, ...]]:
        """(include list, exclude list, always-excluded names) for the level above tables (PG schema, MySQL
        database); connectors override it."""
        return None, None, ()

    def table_filter(self) -> TableFilter:
        """The TableFilter these properties describe."""
        namespace_include, namespace_exclude, always_excluded = self.namespace_filter()
        return TableFilter(
            schema_include=namespace_include,
            schema_exclude=namespace_exclude,
            table_include=self.table_include_list,
            table_exclude=self.table_exclude_list,
            column_include=self.column_include_list,
            column_exclude=self.column_exclude_list,
            default_excluded_schemas=always_excluded,
        )


def _transform_problems(raw: dict[str, Any]) -> list[str]:
    """Every problem of the connector's ``transforms``/``predicates`` chain, reported with the other config errors."""
    from cdc.capture.transform import error_property_problems, transform_properties
    from sinks.transforms.chain import TransformChain

    props = transform_properties(raw)
    problems = [f"config.{problem}" for problem in error_property_problems(props)]
    if not props.get("transforms", "").strip() and not props.get("predicates", "").strip():
        return problems
    try:
        TransformChain.from_properties(props)
    except ConfigError as exc:
        problems += [f"config.{problem}" for problem in exc.problems]
    return problems

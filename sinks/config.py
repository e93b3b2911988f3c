"""Connector properties every sink connector shares (Kafka Connect's sink connector and error-handling options).

Sink connector models (``sinks/<name>/config.py``) extend :class:`SinkConnectorConfig`. Property names are Kafka
Connect's, declared as pydantic aliases; values may be strings as in Connect JSON. ``transforms``/``predicates``
and ``consumer.override.*`` stay in ``model_extra`` and are read by the sink runtime.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# Connect properties accepted silently: they configure things that have no separate meaning here.
ACCEPTED_WITHOUT_EFFECT = frozenset({"name", "errors.deadletterqueue.topic.replication.factor"})


class SinkConnectorConfig(BaseModel):
    """Properties shared by every sink connector: topics, error handling, consumer overrides."""

    model_config = ConfigDict(populate_by_name=True, extra="allow", frozen=True)

    connector_class: str = Field(alias="connector.class", description="The sink connector's class or short name")
    topics: str | None = Field(
        None, alias="topics", description="Comma-separated topics to consume; exclusive with topics.regex"
    )
    topics_regex: str | None = Field(
        None,
        alias="topics.regex",
        description="Regular expression of topics to consume (matched against the whole name)",
    )
    tasks_max: int = Field(
        1,
        alias="tasks.max",
        ge=1,
        le=64,
        description="Number of tasks (worker processes) sharing the topic partitions through the consumer group: "
        "task 0 in the started process, the others as its child processes (docs/sink-workers.md)",
    )
    errors_tolerance: Literal["none", "all"] = Field(
        "none",
        alias="errors.tolerance",
        description="none: a record that fails conversion, transformation or the write stops the connector; "
        "all: it is logged and/or sent to the dead-letter topic and the connector goes on",
    )
    errors_log_enable: bool = Field(
        False, alias="errors.log.enable", description="Log every failed record with its stage and position"
    )
    errors_log_include_messages: bool = Field(
        False, alias="errors.log.include.messages", description="Include the record's key and value in that log line"
    )
    errors_deadletterqueue_topic_name: str = Field(
        "",
        alias="errors.deadletterqueue.topic.name",
        description="Topic receiving failed records (original key, value and headers) when errors.tolerance=all",
    )
    errors_deadletterqueue_context_headers_enable: bool = Field(
        False,
        alias="errors.deadletterqueue.context.headers.enable",
        description="Add __connect.errors.* headers (topic, partition, offset, stage, exception …) to dead letters",
    )
    errors_deadletterqueue_topic_replication_factor: int = Field(
        -1,
        alias="errors.deadletterqueue.topic.replication.factor",
        description="Replication factor when the dead-letter topic is created; -1 = the broker's default "
        "(Connect's default is 3)",
    )
    errors_retry_timeout: int = Field(
        0,
        alias="errors.retry.timeout",
        ge=-1,
        description="How long (ms) a retriable failure of a converter or transform is retried (writes the target "
        "reports as retriable are retried until they succeed, partitions paused); "
        "0 = no retries, -1 = forever",
    )
    errors_retry_delay_max_ms: int = Field(
        60000, alias="errors.retry.delay.max.ms", ge=1, description="Upper bound (ms) of the backoff between retries"
    )

    # -- views the runtime uses --------------------------------------------------------------------------------

    def topic_list(self) -> list[str]:
        """The ``topics`` entries (empty when ``topics.regex`` is used)."""
        return [t.strip() for t in (self.topics or "").split(",") if t.strip()]

    def transform_properties(self) -> dict[str, str]:
        """``transforms`` / ``predicates`` and their ``transforms.*`` / ``predicates.*`` properties, as strings."""
        extra = self.model_extra or {}
        return {
            k: (str(v).lower() if isinstance(v, bool) else str(v))
            for k, v in extra.items()
            if k in ("transforms", "predicates") or k.startswith(("transforms.", "predicates."))
        }

    def consumer_overrides(self) -> dict[str, str]:
        """``consumer.override.*`` properties with the prefix removed."""
        prefix = "consumer.override."
        return {
            k[len(prefix) :]: (str(v).lower() if isinstance(v, bool) else str(v))
            for k, v in (self.model_extra or {}).items()
            if k.startswith(prefix)
        }

    # -- validation hooks used by cdc.config.load_engine_config -----------------------------------------------

    @classmethod
    def cross_field_problems(cls, raw: dict[str, Any]) -> list[str]:
        """Problems no single property shows; on the raw properties so they are reported with type errors."""
        problems = []
        topics = str(raw.get("topics") or "").strip()
        regex = str(raw.get("topics.regex") or "").strip()
        if topics and regex:
            problems.append("config: topics and topics.regex are mutually exclusive")
        elif not topics and not regex:
            problems.append("config.topics: required (or topics.regex): the topics this sink consumes")
        if regex:
            try:
                re.compile(regex)
            except re.error as exc:
                problems.append(f"config.topics.regex: invalid regular expression {regex!r}: {exc}")
        dlq = str(raw.get("errors.deadletterqueue.topic.name") or "").strip()
        if dlq and (dlq in [t.strip() for t in topics.split(",")] or (regex and re.fullmatch(regex, dlq))):
            problems.append(f"config.errors.deadletterqueue.topic.name: {dlq!r} is also a topic this sink consumes")
        problems += cls.transform_problems(raw)
        return problems

    @classmethod
    def transform_problems(cls, raw: dict[str, Any]) -> list[str]:
        """Problems of the SMT chain (built once here so that ``validate`` reports them)."""
        props = {
            k: str(v)
            for k, v in raw.items()
            if k in ("transforms", "predicates") or k.startswith(("transforms.", "predicates."))
        }
        if not str(props.get("transforms", "")).strip():
            return []
        from cdc.errors import ConfigError
        from sinks.chain import build_chain

        try:
            build_chain(props)
        except ConfigError as exc:
            return [f"config.{p}" if not p.startswith("config") else p for p in exc.problems]
        return []

    def unused_property_warnings(self) -> list[str]:
        """Properties we accept but do not implement; ``validate`` prints them, ``start`` logs them."""
        extra = self.model_extra or {}
        warnings = []
        for key in sorted(extra):
            if key in ACCEPTED_WITHOUT_EFFECT or key in ("transforms", "predicates"):
                continue
            if key.startswith(("transforms.", "predicates.", "consumer.override.")):
                continue
            warnings.append(f"connector property {key!r} is not used by cdc-engine")
        if self.errors_deadletterqueue_topic_name and self.errors_tolerance != "all":
            warnings.append(
                "errors.deadletterqueue.topic.name is set but errors.tolerance=none: the first failed record stops "
                "the connector and nothing is written to the dead-letter topic"
            )
        return warnings

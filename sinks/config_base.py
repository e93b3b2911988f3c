"""Properties every sink connector shares (Kafka Connect's sink connector options).

Sink config models (``sinks/<name>/config.py``) extend :class:`SinkConnectorConfig`. The worker-level properties
(converters, ``errors.*``, ``transforms``) belong to the sink runtime, which reads them from the same ``config``
map; they are accepted here without a warning so a pasted Kafka Connect config validates as it is.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

# Properties that the sink runtime (not the connector) implements, by exact name or prefix.
RUNTIME_PROPERTIES = frozenset({"name", "tasks.max", "key.converter", "value.converter", "header.converter"})
RUNTIME_PREFIXES = ("key.converter.", "value.converter.", "header.converter.", "errors.", "transforms", "predicates")


class SinkConnectorConfig(BaseModel):
    """``topics`` / ``topics.regex`` and the shared validation hooks of sink connector configs."""

    model_config = ConfigDict(populate_by_name=True, extra="allow", frozen=True)

    connector_class: str = Field(alias="connector.class", description="The sink's short name or Java class name")
    topics: str | None = Field(
        None, alias="topics", description="Comma-separated topics to consume (or use topics.regex)"
    )
    topics_regex: str | None = Field(None, alias="topics.regex", description="Regular expression of topics to consume")

    def topic_list(self) -> list[str]:
        """The topics named in ``topics`` (empty when ``topics.regex`` is used)."""
        return [t.strip() for t in (self.topics or "").split(",") if t.strip()]

    @classmethod
    def cross_field_problems(cls, raw: dict[str, Any]) -> list[str]:
        """Problems no single property shows; reported together with type errors (see ``cdc.config``)."""
        problems = []
        if bool(raw.get("topics")) == bool(raw.get("topics.regex")):
            problems.append("config: exactly one of topics and topics.regex must be set")
        regex = raw.get("topics.regex")
        if isinstance(regex, str) and regex:
            try:
                re.compile(regex)
            except re.error as exc:
                problems.append(f"config.topics.regex: invalid regular expression: {exc}")
        return problems

    def known_extra(self, key: str) -> bool:
        """True for extra properties a subclass understands (per-topic overrides …); subclasses extend it."""
        return key in RUNTIME_PROPERTIES or key.startswith(RUNTIME_PREFIXES)

    def unused_property_warnings(self) -> list[str]:
        """Properties that are accepted but mean nothing here; ``validate`` prints them, ``start`` logs them."""
        return [
            f"connector property {k!r} is not used by cdc-engine"
            for k in sorted(self.model_extra or {})
            if not self.known_extra(k)
        ]


def parse_bool(value: Any) -> bool:
    """Connect's boolean parsing for properties read from raw maps (``"true"``/``"false"``, any case)."""
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() == "true"

"""What the MongoDB and Elasticsearch sink configs add to the sink runtime's shared properties (``sinks.config``).

Sink config models (``sinks/<name>/config.py``) extend :class:`SinkConnectorConfig`: the runtime's properties
(``topics``, ``errors.*``, converters, ``transforms``, ``consumer.override.*``), plus a ``known_extra`` hook for
properties a connector reads from ``model_extra`` itself (``topic.override.<topic>.*``) or accepts without effect,
so that they do not produce "not used" warnings.
"""

from __future__ import annotations

from typing import Any

from sinks.config import SinkConnectorConfig as RuntimeSinkConfig

_RUNTIME_PREFIXES = ("key.converter", "value.converter", "header.converter")


class SinkConnectorConfig(RuntimeSinkConfig):
    """The runtime's sink properties plus the ``known_extra`` hook."""

    def known_extra(self, key: str) -> bool:
        """True for extra properties the connector understands; subclasses extend it."""
        return key.startswith(_RUNTIME_PREFIXES)

    def unused_property_warnings(self) -> list[str]:
        extra = self.model_extra or {}
        known = {k for k in extra if self.known_extra(k)}
        return [w for w in super().unused_property_warnings() if not any(f"{k!r}" in w for k in known)]


def parse_bool(value: Any) -> bool:
    """Connect's boolean parsing for properties read from raw maps (``"true"``/``"false"``, any case)."""
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() == "true"

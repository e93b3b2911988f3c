"""Configuration in the Kafka Connect dialect: one connector (``name`` + flat ``config``) and its ``worker``.

Accepted inputs (see README "Configuration"):

* a YAML or JSON file ``{name, config, worker}``;
* a connector JSON exactly as POSTed to Kafka Connect's REST API (``{"name": ..., "config": {...}}``), with the
  worker settings from the command line (``--bootstrap-servers``, ``--worker-property k=v``) or the environment
  (``CDC_BOOTSTRAP_SERVERS``).

``${VAR}`` and ``${VAR:-default}`` are replaced from the environment in every string value. Each property is
declared once, in a pydantic model (:class:`WorkerConfig` here, one per connector in ``cdc/<db>/config.py``); the
declaration validates, fills defaults and documents (``cdc-engine describe``). :func:`load_engine_config` gathers
*every* problem (file, interpolation, worker, connector) before raising one :class:`~cdc.errors.ConfigError`.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cdc.errors import ConfigError

JSON_CONVERTER_CLASSES = {"org.apache.kafka.connect.json.JsonConverter", "json"}

# Java producer property names users carry over from Connect → their librdkafka equivalent.
_JAVA_PRODUCER_PROPERTIES: dict[str, tuple[str, Callable[[Any], str]]] = {
    "buffer.memory": ("queue.buffering.max.kbytes", lambda v: str(max(1, int(v) // 1024))),
    "batch.size": ("batch.size", str),
    "max.request.size": ("message.max.bytes", str),
}

# Debezium 1.x property names still found in pasted configs → their 2.x names (accepted with a warning).
LEGACY_CONNECTOR_PROPERTIES = {
    "database.server.name": "topic.prefix",
    "table.whitelist": "table.include.list",
    "table.blacklist": "table.exclude.list",
    "schema.whitelist": "schema.include.list",
    "schema.blacklist": "schema.exclude.list",
    "column.whitelist": "column.include.list",
    "column.blacklist": "column.exclude.list",
}
# snapshot.mode values renamed since Debezium 1.x.
LEGACY_SNAPSHOT_MODES = {"exported": "initial"}

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class WorkerConfig(BaseModel):
    """What ``connect-distributed.properties`` holds: broker address, internal topics, converters, producer."""

    model_config = ConfigDict(populate_by_name=True, extra="allow", frozen=True)

    bootstrap_servers: str = Field(alias="bootstrap.servers", description="Kafka bootstrap servers, host:port[,…]")
    offset_storage_topic: str = Field(
        "connect-offsets", alias="offset.storage.topic", description="Compacted topic holding source offsets"
    )
    offset_storage_partitions: int = Field(25, alias="offset.storage.partitions", ge=1)
    offset_storage_replication_factor: int = Field(-1, alias="offset.storage.replication.factor")
    offset_flush_interval_ms: int = Field(
        60000, alias="offset.flush.interval.ms", ge=10, description="How often offsets are committed"
    )
    offset_flush_timeout_ms: int = Field(5000, alias="offset.flush.timeout.ms", ge=100)
    key_converter: str = Field("org.apache.kafka.connect.json.JsonConverter", alias="key.converter")
    value_converter: str = Field("org.apache.kafka.connect.json.JsonConverter", alias="value.converter")
    key_converter_schemas_enable: bool = Field(True, alias="key.converter.schemas.enable")
    value_converter_schemas_enable: bool = Field(True, alias="value.converter.schemas.enable")
    group_id: str | None = Field(None, alias="group.id", description="Accepted; distributed mode is not built yet")
    log_format: Literal["text", "json"] = Field("text", alias="log.format")

    def producer_overrides(self) -> dict[str, str]:
        """``producer.*`` properties as librdkafka settings (Java-only names translated where one exists)."""
        out: dict[str, str] = {}
        for key, value in (self.model_extra or {}).items():
            if not key.startswith("producer."):
                continue
            prop = key[len("producer.") :]
            if prop in _JAVA_PRODUCER_PROPERTIES:
                name, convert = _JAVA_PRODUCER_PROPERTIES[prop]
                out[name] = convert(value)
            else:
                out[prop] = str(value).lower() if isinstance(value, bool) else str(value)
        return out

    def unknown_properties(self) -> list[str]:
        """Worker properties we accept but do not use (reported by ``validate``, never an error)."""
        return sorted(k for k in (self.model_extra or {}) if not k.startswith("producer."))


@dataclass
class EngineConfig:
    """A loaded, validated configuration: connector name, its typed config, the worker, and warnings."""

    name: str
    connector_class: str
    connector: Any  # the connector's own pydantic model (e.g. cdc.postgres.config.PostgresConnectorConfig)
    worker: WorkerConfig
    warnings: list[str] = field(default_factory=list)
    source_path: str | None = None


def interpolate(value: Any, problems: list[str], where: str = "") -> Any:
    """Replace ``${VAR}`` / ``${VAR:-default}`` in every string of ``value``; unset variables are problems."""
    if isinstance(value, str):

        def substitute(match: re.Match[str]) -> str:
            var, default = match.group(1), match.group(2)
            if var in os.environ:
                return os.environ[var]
            if default is not None:
                return default
            problems.append(f"{where or 'value'}: environment variable ${{{var}}} is not set")
            return ""

        return _ENV_REF.sub(substitute, value)
    if isinstance(value, dict):
        return {k: interpolate(v, problems, f"{where}.{k}" if where else str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, problems, where) for v in value]
    return value


def read_config_document(path: str) -> dict[str, Any]:
    """Parse a YAML or JSON file into a mapping; any failure becomes a ConfigError naming the file."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"cannot read config file {path}: {exc.strerror or exc}"]) from None
    try:
        doc = json.loads(text) if file.suffix == ".json" else yaml.safe_load(text)
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        raise ConfigError([f"cannot parse {path}: {_one_line(str(exc))}"]) from None
    if not isinstance(doc, dict):
        raise ConfigError([f"{path}: expected a mapping with 'name' and 'config', got {type(doc).__name__}"])
    return doc


def _one_line(text: str) -> str:
    return " ".join(text.split())


def format_validation_errors(exc: ValidationError, section: str) -> list[str]:
    """One sentence per pydantic error, naming the property the user wrote (``config.database.port: ...``)."""
    problems = []
    for err in exc.errors():
        prop = ".".join(str(p) for p in err["loc"]) or "(root)"
        if err["type"] == "missing":
            problems.append(f"{section}.{prop}: required property is missing")
            continue
        given = err.get("input")
        shown = "" if isinstance(given, dict) else f" (got {given!r})"
        if "password" in prop:
            shown = ""
        problems.append(f"{section}.{prop}: {err['msg']}{shown}")
    return problems


def _stringify_keys(mapping: dict[Any, Any]) -> dict[str, Any]:
    return {str(k): v for k, v in mapping.items()}


def load_engine_config(
    path: str | None,
    worker_overrides: dict[str, str] | None = None,
    document: dict[str, Any] | None = None,
) -> EngineConfig:
    """Load, interpolate and validate a configuration; raises one ConfigError listing every problem.

    Called by the CLI for ``start``, ``validate`` and ``offsets``, and by tests with an in-memory ``document``.
    Worker settings are layered: file ``worker`` section < ``CDC_BOOTSTRAP_SERVERS`` < ``worker_overrides``.
    """
    from cdc.connectors import lookup_connector

    problems: list[str] = []
    raw = document if document is not None else read_config_document(path or "")
    raw = interpolate(raw, problems)
    unknown_top = sorted(set(raw) - {"name", "config", "worker"})
    warnings = [f"top-level key {k!r} is ignored" for k in unknown_top]

    name = raw.get("name")
    if not isinstance(name, str) or not name:
        problems.append("name: required (the connector name; it also namespaces the stored offsets)")
        name = ""
    connector_raw = raw.get("config")
    if not isinstance(connector_raw, dict):
        problems.append("config: required mapping of connector properties (connector.class, database.*, …)")
        connector_raw = {}
    worker_raw = raw.get("worker") or {}
    if not isinstance(worker_raw, dict):
        problems.append("worker: must be a mapping of worker properties")
        worker_raw = {}
    worker_raw = _stringify_keys(worker_raw)
    if os.environ.get("CDC_BOOTSTRAP_SERVERS"):
        worker_raw["bootstrap.servers"] = os.environ["CDC_BOOTSTRAP_SERVERS"]
    worker_raw.update(worker_overrides or {})
    connector_raw = _stringify_keys(connector_raw)
    for old, new in LEGACY_CONNECTOR_PROPERTIES.items():
        if old in connector_raw:
            value = connector_raw.pop(old)
            if new in connector_raw:
                warnings.append(f"connector property {old!r} is ignored: {new!r} is also given")
            else:
                connector_raw[new] = value
                warnings.append(f"connector property {old!r} is deprecated; read as {new!r}")
    mode = connector_raw.get("snapshot.mode")
    if isinstance(mode, str) and mode in LEGACY_SNAPSHOT_MODES:
        connector_raw["snapshot.mode"] = LEGACY_SNAPSHOT_MODES[mode]
        warnings.append(f"snapshot.mode={mode} is deprecated; read as {LEGACY_SNAPSHOT_MODES[mode]}")

    # Connector-level converter settings override the worker's, as in Kafka Connect.
    for prop in ("key.converter", "value.converter", "key.converter.schemas.enable", "value.converter.schemas.enable"):
        if prop in connector_raw:
            worker_raw[prop] = connector_raw.pop(prop)

    worker: WorkerConfig | None = None
    try:
        worker = WorkerConfig.model_validate(worker_raw)
    except ValidationError as exc:
        for problem in format_validation_errors(exc, "worker"):
            if problem.startswith("worker.bootstrap.servers: required"):
                problem = (
                    "worker.bootstrap.servers: required; give it in the file's worker section, with "
                    "--bootstrap-servers, or in CDC_BOOTSTRAP_SERVERS"
                )
            problems.append(problem)
    if worker is not None:
        for prop, cls in (("key.converter", worker.key_converter), ("value.converter", worker.value_converter)):
            if cls not in JSON_CONVERTER_CLASSES:
                problems.append(
                    f"worker.{prop}: {cls!r} is not supported yet; use org.apache.kafka.connect.json.JsonConverter"
                )
        warnings += [f"worker property {k!r} is not used by cdc-engine" for k in worker.unknown_properties()]

    connector_class = str(connector_raw.get("connector.class", ""))
    connector_cfg: Any = None
    if not connector_class:
        problems.append("config.connector.class: required property is missing (e.g. postgres)")
    else:
        spec = lookup_connector(connector_class)
        if spec is None:
            from cdc.connectors import known_connector_names

            problems.append(
                f"config.connector.class: unknown connector {connector_class!r}; known: {known_connector_names()}"
            )
        else:
            connector_class = spec.short_name
            model = spec.config_model()
            try:
                connector_cfg = model.model_validate(connector_raw)
            except ValidationError as exc:
                problems += format_validation_errors(exc, "config")
            else:
                warnings += connector_cfg.unused_property_warnings()
            problems += model.cross_field_problems(connector_raw)

    if problems:
        raise ConfigError(problems)
    assert worker is not None
    return EngineConfig(name, connector_class, connector_cfg, worker, warnings, path)

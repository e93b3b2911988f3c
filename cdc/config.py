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

import difflib
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

# Placeholders that Connect and Debezium properties use as templates (``table.name.format=${topic}``,
# TimestampRouter's ``topic.format=${topic}-${timestamp}``): never environment variables.
TEMPLATE_PLACEHOLDERS = frozenset({"topic", "timestamp"})

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

    def consumer_overrides(self) -> dict[str, str]:
        """``consumer.*`` properties (sink workers' consumer), prefix removed, values as strings."""
        out: dict[str, str] = {}
        for key, value in (self.model_extra or {}).items():
            if key.startswith("consumer."):
                out[key[len("consumer.") :]] = str(value).lower() if isinstance(value, bool) else str(value)
        return out

    def converter_properties(self, is_key: bool) -> dict[str, str]:
        """The ``key.converter.*`` / ``value.converter.*`` properties with the prefix removed (what
        ``Converter.configure`` receives), ``schemas.enable`` included."""
        prefix = "key.converter." if is_key else "value.converter."
        out = {
            "schemas.enable": str(
                self.key_converter_schemas_enable if is_key else self.value_converter_schemas_enable
            ).lower()
        }
        for key, value in (self.model_extra or {}).items():
            if key.startswith(prefix):
                out[key[len(prefix) :]] = str(value).lower() if isinstance(value, bool) else str(value)
        return out

    def unknown_properties(self) -> list[str]:
        """Worker properties we accept but do not use (reported by ``validate``, never an error)."""
        used = ("producer.", "consumer.", "key.converter.", "value.converter.")
        return sorted(k for k in (self.model_extra or {}) if not k.startswith(used) and k != "header.converter")


@dataclass
class EngineConfig:
    """A loaded, validated configuration: connector name, its typed config, the worker, and warnings."""

    name: str
    connector_class: str
    connector: Any  # the connector's own pydantic model (e.g. cdc.postgres.config.PostgresConnectorConfig)
    worker: WorkerConfig
    warnings: list[str] = field(default_factory=list)
    source_path: str | None = None
    kind: str = "source"  # "source" or "sink" (cdc.connectors.ConnectorKind)


def interpolate(value: Any, problems: list[str], where: str = "") -> Any:
    """Replace ``${VAR}`` / ``${VAR:-default}`` in every string of ``value``; unset variables are problems."""
    if isinstance(value, str):

        def substitute(match: re.Match[str]) -> str:
            var, default = match.group(1), match.group(2)
            if var in TEMPLATE_PLACEHOLDERS and default is None:
                return match.group(0)  # a Connect/Debezium template (table.name.format=${topic}), kept as is
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


# A connector config is a few kilobytes; these bounds turn hostile or mistaken inputs (a 100 MB file, a YAML
# "billion laughs" alias bomb) into one clear error instead of minutes of parsing and gigabytes of memory.
MAX_CONFIG_BYTES = 1024 * 1024
MAX_YAML_ALIASES = 100
MAX_CONFIG_NODES = 100_000  # values in the document once aliases are expanded


class _BoundedYamlLoader(yaml.SafeLoader):
    """SafeLoader that refuses documents with more than MAX_YAML_ALIASES alias references (``*name``)."""

    aliases_seen = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            self.aliases_seen += 1
            if self.aliases_seen > MAX_YAML_ALIASES:
                raise ConfigError([f"more than {MAX_YAML_ALIASES} YAML aliases (*name): refusing an alias bomb"])
        return super().compose_node(parent, index)


def _check_expanded_size(doc: Any, path: str) -> None:
    """ConfigError if ``doc`` holds more than MAX_CONFIG_NODES values counting every alias expansion.

    Aliases make YAML values shared objects; walking them (interpolation, validation) visits each use, so the
    expanded size is what costs time and memory. The walk stops as soon as the budget is spent.
    """
    budget = MAX_CONFIG_NODES
    stack = [doc]
    while stack:
        value = stack.pop()
        budget -= 1
        if budget < 0:
            raise ConfigError([f"{path}: more than {MAX_CONFIG_NODES} values once YAML aliases are expanded"])
        if isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)


def read_config_document(path: str) -> dict[str, Any]:
    """Parse a YAML or JSON file into a mapping; any failure becomes a ConfigError naming the file.

    Bounded: at most MAX_CONFIG_BYTES of UTF-8 text, MAX_YAML_ALIASES alias references and MAX_CONFIG_NODES
    values after alias expansion.
    """
    file = Path(path)
    try:
        with file.open("rb") as fh:
            data = fh.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise ConfigError([f"cannot read config file {path}: {exc.strerror or exc}"]) from None
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError([f"{path}: larger than {MAX_CONFIG_BYTES // 1024} KiB; is this really a connector config?"])
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            [f"{path}: not UTF-8 text (invalid byte at position {exc.start}); save the config as UTF-8 YAML or JSON"]
        ) from None
    if "\x00" in text:
        raise ConfigError([f"{path}: contains NUL bytes; this is a binary file, not a YAML or JSON config"])
    try:
        doc = json.loads(text) if file.suffix == ".json" else yaml.load(text, Loader=_BoundedYamlLoader)
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        raise ConfigError([f"cannot parse {path}: {_one_line(str(exc))}"]) from None
    except RecursionError:
        raise ConfigError([f"cannot parse {path}: nested too deeply"]) from None
    if not isinstance(doc, dict):
        raise ConfigError([f"{path}: expected a mapping with 'name' and 'config', got {type(doc).__name__}"])
    _check_expanded_size(doc, path)
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
    for prop in [k for k in connector_raw if k.startswith(("key.converter", "value.converter", "header.converter"))]:
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
        worker_typos = _likely_typos(dict.fromkeys(worker.unknown_properties()), _known_worker_properties())
        warnings += [
            _with_typo_hint(f"worker property {k!r} is not used by cdc-engine", worker_typos)
            for k in worker.unknown_properties()
        ]
        from cdc.kafka.producer import producer_property_problem

        producer_problem = producer_property_problem(worker.producer_overrides())
        if producer_problem:
            problems.append(f"worker.producer.*: {producer_problem}")

    connector_class = str(connector_raw.get("connector.class", ""))
    connector_cfg: Any = None
    kind = "source"
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
            kind = spec.kind
            model = spec.config_model()
            typos = _likely_typos(connector_raw, _known_connector_properties(model))
            try:
                connector_cfg = model.model_validate(connector_raw)
            except ValidationError as exc:
                problems += [_with_typo_hint(p, typos) for p in format_validation_errors(exc, "config")]
            else:
                warnings += [_with_typo_hint(w, typos) for w in connector_cfg.unused_property_warnings()]
            problems += model.cross_field_problems(connector_raw)

    if worker is not None:
        problems += _converter_problems(worker, kind)

    if problems:
        raise ConfigError(problems)
    assert worker is not None
    return EngineConfig(name, connector_class, connector_cfg, worker, warnings, path, kind)


def _known_connector_properties(model: Any) -> list[str]:
    from cdc.source_config import ACCEPTED_WITHOUT_EFFECT
    from sinks.config import ACCEPTED_WITHOUT_EFFECT as SINK_ACCEPTED

    aliases = [f.alias for f in model.model_fields.values() if f.alias]
    return [*aliases, *ACCEPTED_WITHOUT_EFFECT, *SINK_ACCEPTED, *LEGACY_CONNECTOR_PROPERTIES]


# Kafka Connect worker properties that mean something to Connect (so they are not typos) but not to cdc-engine.
_CONNECT_WORKER_PROPERTIES = (
    "config.storage.topic",
    "config.storage.replication.factor",
    "status.storage.topic",
    "status.storage.replication.factor",
    "status.storage.partitions",
    "plugin.path",
    "listeners",
    "rest.port",
    "rest.host.name",
    "rest.advertised.host.name",
    "rest.advertised.port",
    "internal.key.converter",
    "internal.value.converter",
    "task.shutdown.graceful.timeout.ms",
    "config.providers",
)


def _known_worker_properties() -> list[str]:
    return [*(f.alias for f in WorkerConfig.model_fields.values() if f.alias), *_CONNECT_WORKER_PROPERTIES]


def _likely_typos(raw: dict[str, Any], known: list[str]) -> dict[str, str]:
    """{given unknown key: the known property it most likely misspells} (difflib, ratio ≥ 0.8)."""
    known_set = set(known)
    typos: dict[str, str] = {}
    for key in raw:
        if key in known_set or key.startswith(("transforms", "predicates", "producer.", "consumer.")):
            continue
        match = difflib.get_close_matches(key, known, n=1, cutoff=0.8)
        if match:
            typos[key] = match[0]
    return typos


def _with_typo_hint(message: str, typos: dict[str, str]) -> str:
    """Add "did you mean …?" to a message about an unknown key, or about a required key the user misspelled."""
    for given, meant in typos.items():
        if f"property {given!r} is not used" in message:
            return f"{message}; did you mean {meant!r}?"
        if message.startswith((f"config.{meant}: required", f"worker.{meant}: required")):
            return f"{message} ({given!r} is given: a typo of {meant!r}?)"
    return message


def _converter_problems(worker: WorkerConfig, kind: str) -> list[str]:
    """Unknown converter classes and bad converter properties (each converter is built once to check)."""
    from schemas.converters.factory import build_converter, canonical_converter_class, known_converters

    problems = []
    for is_key, prop, cls in (
        (True, "key.converter", worker.key_converter),
        (False, "value.converter", worker.value_converter),
    ):
        canonical = canonical_converter_class(cls)
        if canonical is None:
            problems.append(f"worker.{prop}: unknown converter {cls!r}; known: {known_converters()}")
            continue
        try:
            build_converter(cls, worker.converter_properties(is_key), is_key)
        except ConfigError as exc:
            for problem in exc.problems:
                if problem.startswith(prop + "."):
                    problems.append(f"worker.{problem}")
                else:
                    problems.append(problem if problem.startswith("worker.") else f"worker.{prop}.{problem}")
    return problems

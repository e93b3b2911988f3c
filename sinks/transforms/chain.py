"""Builds and runs the SMT chain a connector configures (``transforms=…``, ``predicates=…``).

Who calls it: the sink runtime once per connector (``TransformChain.from_properties(config)``) and then
``apply`` for every converted record; the source runtime likewise for every change record when ``transforms`` is set
(``empty`` tells it to keep the pre-serialized fast path).

Semantics follow Kafka Connect's ``ConnectorConfig.transformationStages`` and ``TransformationStage``:

- ``transforms`` lists aliases in order (duplicates are an error); each needs ``transforms.<alias>.type``; every
  other ``transforms.<alias>.<name>`` property goes to that transform without the prefix;
- ``transforms.<alias>.predicate`` names an alias listed in ``predicates`` (with ``predicates.<p>.type`` and
  ``predicates.<p>.<name>`` properties); each transform gets its own predicate instance, as in Connect;
- ``transforms.<alias>.negate=true`` inverts the predicate; it is an error without a predicate;
- a stage runs its transform when there is no predicate or ``predicate.test(record) != negate``; a transform
  returning ``None`` drops the record and ends the chain.

Every problem in the whole configuration is reported at once, as one ``ConfigError`` whose problems name the full
property (``transforms.unwrap.delete.tombstone.handling.mode=…``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from cdc.errors import ConfigError
from schemas.record import ConnectRecord
from sinks.transforms import registry
from sinks.transforms.base import Predicate, Transformation, TransformError
from sinks.transforms.config import parse_list

_STAGE_KEYS = ("type", "predicate", "negate")


class ChainTransformError(TransformError):
    """A transform or predicate failed on a record; names the stage for logs and dead-letter headers.

    ``class_name`` is the Java class name of the failing transform (what Connect puts in
    ``__connect.errors.class.name``); ``cause`` is the original ``TransformError``.
    """

    def __init__(self, alias: str, class_name: str, cause: TransformError) -> None:
        self.alias = alias
        self.class_name = class_name
        self.cause = cause
        super().__init__(f"transform {alias!r} ({class_name}) failed: {cause}")


@dataclass(frozen=True, slots=True)
class Stage:
    """One configured chain member: the transform and the optional predicate guarding it."""

    alias: str
    class_name: str
    transform: Transformation
    predicate: Predicate | None
    negate: bool


class TransformChain:
    """An ordered list of stages; immutable once built."""

    def __init__(self, stages: list[Stage]) -> None:
        self.stages = tuple(stages)

    @property
    def empty(self) -> bool:
        """True when no transform is configured (sources then keep the pre-serialized fast path)."""
        return not self.stages

    @classmethod
    def from_properties(cls, props: Mapping[str, str]) -> TransformChain:
        """Build the chain from a connector's flat properties; raises ``ConfigError`` listing every problem.

        Properties unrelated to transforms are ignored, so the whole connector config can be passed.
        """
        props = {k: str(v) for k, v in props.items()}
        problems: list[str] = []
        aliases = parse_list(props.get("transforms", ""))
        predicate_aliases = parse_list(props.get("predicates", ""))
        for key, listed in (("transforms", aliases), ("predicates", predicate_aliases)):
            duplicates = sorted({a for a in listed if listed.count(a) > 1})
            if duplicates:
                problems.append(f"{key}: duplicate alias provided: {', '.join(duplicates)}")
            if any(a == "" for a in listed):
                problems.append(f"{key}: empty alias in {props.get(key)!r}")
        problems += _unused_properties(props, "transforms", aliases)
        problems += _unused_properties(props, "predicates", predicate_aliases)

        # Every declared predicate is validated once, used or not, as Connect validates each alias's config.
        valid_predicates: set[str] = set()
        for p_alias in dict.fromkeys(a for a in predicate_aliases if a):
            p_prefix = f"predicates.{p_alias}."
            p_own = {k[len(p_prefix) :]: v for k, v in props.items() if k.startswith(p_prefix)}
            built, _ = _build(p_own, p_prefix, predicate=True, problems=problems)
            if built is not None:
                valid_predicates.add(p_alias)

        stages: list[Stage] = []
        for alias in dict.fromkeys(a for a in aliases if a):
            prefix = f"transforms.{alias}."
            own = {k[len(prefix) :]: v for k, v in props.items() if k.startswith(prefix)}
            transform, class_name = _build(own, prefix, predicate=False, problems=problems)
            predicate: Predicate | None = None
            predicate_alias = own.get("predicate")
            negate_text = own.get("negate")
            negate = False
            if negate_text is not None:
                if negate_text.strip().lower() not in ("true", "false"):
                    problems.append(f"{prefix}negate={negate_text!r} is not a boolean (expected true or false)")
                negate = negate_text.strip().lower() == "true"
                if predicate_alias is None:
                    problems.append(
                        f"{prefix}negate was provided but there is no {prefix}predicate defining a predicate to "
                        "be negated"
                    )
            if predicate_alias is not None:
                if predicate_alias not in predicate_aliases:
                    problems.append(
                        f"{prefix}predicate={predicate_alias!r} is not declared in "
                        f"predicates={props.get('predicates', '')!r}"
                    )
                elif predicate_alias in valid_predicates:
                    # Each transform gets its own predicate instance, as in Connect.
                    p_prefix = f"predicates.{predicate_alias}."
                    p_own = {k[len(p_prefix) :]: v for k, v in props.items() if k.startswith(p_prefix)}
                    built, _ = _build(p_own, p_prefix, predicate=True, problems=[])
                    predicate = built if isinstance(built, Predicate) else None
            if isinstance(transform, Transformation):
                stages.append(Stage(alias, class_name, transform, predicate, negate))
        if problems:
            raise ConfigError(problems)
        return cls(stages)

    def apply(self, record: ConnectRecord) -> ConnectRecord | None:
        """Run every stage on ``record``; None when a stage dropped it.

        Raises ``ChainTransformError`` (a ``TransformError``) when a transform or predicate cannot process the
        record; the caller decides between dead-letter routing and stopping.
        """
        current: ConnectRecord | None = record
        for stage in self.stages:
            assert current is not None
            try:
                if stage.predicate is None or stage.predicate.test(current) != stage.negate:
                    current = stage.transform.apply(current)
            except TransformError as exc:
                raise ChainTransformError(stage.alias, stage.class_name, exc) from exc
            if current is None:
                return None
        return current


def _unused_properties(props: Mapping[str, str], key: str, aliases: list[str]) -> list[str]:
    """Properties under ``<key>.<alias>.`` for an alias that is not listed: almost always a typo in the list."""
    listed = set(aliases)
    strays: set[str] = set()
    for name in props:
        if name.startswith(f"{key}."):
            alias = name[len(key) + 1 :].split(".", 1)[0]
            if alias not in listed:
                strays.add(alias)
    return [
        f"{key}.{alias}.* properties are set but {alias!r} is not listed in {key}={props.get(key, '')!r}"
        for alias in sorted(strays)
    ]


def _build(
    own: dict[str, str], prefix: str, predicate: bool, problems: list[str]
) -> tuple[Transformation | Predicate | None, str]:
    """Instantiate and configure one transform or predicate from its own properties; problems go to ``problems``."""
    kind = "predicate" if predicate else "transformation"
    type_name = own.get("type")
    if type_name is None or not type_name.strip():
        problems.append(f"{prefix}type is required: the class of the {kind}")
        return None, ""
    canonical = registry.resolve(type_name, predicate)
    if canonical is None:
        if not predicate and type_name.strip() in registry.ABSTRACT:
            problems.append(
                f"{prefix}type={type_name!r} needs a $Key or $Value suffix (e.g. {type_name.strip()}$Value)"
            )
        else:
            known = ", ".join(n.rsplit(".", 1)[-1] for n in registry.known_names(predicate))
            problems.append(f"{prefix}type={type_name!r} is not a supported {kind}; supported: {known}")
        return None, ""
    instance = registry.instantiate(canonical, predicate)
    config = (
        {k: v for k, v in own.items() if k not in _STAGE_KEYS}
        if not predicate
        else {k: v for k, v in own.items() if k != "type"}
    )
    try:
        instance.configure(config)
    except ConfigError as exc:
        problems.extend(f"{prefix}{p}" for p in exc.problems)
        return None, canonical
    return instance, canonical


__all__ = ["ChainTransformError", "Stage", "TransformChain"]

"""The SMT contract: Kafka Connect's ``Transformation`` and ``Predicate``.

A chain is configured as ``transforms=a,b`` with ``transforms.a.type=<class>`` and ``transforms.a.<prop>=…``,
optionally ``transforms.a.predicate=p`` and ``transforms.a.negate=true``, with predicates declared as
``predicates=p`` and ``predicates.p.type=<class>``. The runtime builds the chain once, calls ``configure`` on each
member, then ``apply`` for every record, in order. A transform that returns ``None`` drops the record (Filter).

Errors: ``configure`` raises ``cdc.errors.ConfigError`` listing every problem; ``apply`` raises
``TransformError`` for a record it cannot transform (missing field, wrong type): the sink runtime routes it to the
dead-letter topic with stage ``TRANSFORMATION`` under ``errors.tolerance=all``; a source stops with the message.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping

from cdc.errors import SkippableRecordError
from schemas.record import ConnectRecord


class TransformError(SkippableRecordError):
    """A record that a transform or predicate cannot process."""


class Transformation(ABC):
    """One SMT. Subclasses declare their properties and read them in ``configure``."""

    @abstractmethod
    def configure(self, properties: Mapping[str, str]) -> None:
        """Apply the transform's own properties (the ``transforms.<alias>.`` prefix removed); called once."""

    @abstractmethod
    def apply(self, record: ConnectRecord) -> ConnectRecord | None:
        """The transformed record, or ``None`` to drop it."""


class Predicate(ABC):
    """A condition that decides whether a transform applies to a record."""

    @abstractmethod
    def configure(self, properties: Mapping[str, str]) -> None:
        """Apply the predicate's own properties (the ``predicates.<alias>.`` prefix removed); called once."""

    @abstractmethod
    def test(self, record: ConnectRecord) -> bool:
        """True when the record matches."""

"""The bridge from the sink runtime to the SMT chain (``sinks.transforms``).

The chain itself (every transform and predicate, ``transforms=a,b`` parsing) lives in ``sinks.transforms.chain``;
this module only builds it from connector properties and gives the runtime one call per record. With no
``transforms`` property the chain is the identity and is not built at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from cdc.errors import ConfigError
from schemas.record import ConnectRecord


class Chain(Protocol):
    """What the runtime calls per record: the transformed record, or None when a transform drops it."""

    def apply(self, record: ConnectRecord) -> ConnectRecord | None: ...


def build_chain(properties: Mapping[str, str]) -> Chain | None:
    """The configured chain, or None when ``transforms`` is empty; ``ConfigError`` lists every problem."""
    if not str(properties.get("transforms", "")).strip():
        return None
    try:
        from sinks.transforms.chain import TransformChain  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        raise ConfigError(["transforms: single message transforms are not available in this build yet"]) from None
    chain = TransformChain.from_properties(dict(properties))
    if getattr(chain, "empty", False):
        return None
    built: Chain = chain
    return built

"""Differences from Debezium that are kept on purpose, each with its reason (docs/debezium-conformance.md).

Each entry is a regular expression matched against ``"<variant> <topic> <difference>"``; a record whose every
difference matches some entry counts as accepted, not as a failure.
"""

from __future__ import annotations

import re

from compare import Pair, Report

ACCEPTED: list[tuple[str, str]] = [
    (
        r"\.after\.c_name: debezium null vs ours \"[^\"]*\"$",
        "Debezium 3.6.3 streams `name` columns as null (its snapshot has the value): we keep the value in both",
    ),
]

_COMPILED = [(re.compile(pattern), reason) for pattern, reason in ACCEPTED]


def accepted(pair: Pair) -> bool:
    """True when every difference of ``pair`` is an accepted one."""
    return all(any(p.search(f"{pair.variant} {pair.topic} {d}") for p, _ in _COMPILED) for d in pair.differences)


def unaccepted(report: Report) -> list[Pair]:
    """The pairs that differ in a way not accepted."""
    return [p for p in report.pairs if p.differences and not accepted(p)]

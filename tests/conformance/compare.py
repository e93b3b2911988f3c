"""Align Debezium's records with cdc-engine's and list every difference.

Records are dicts ``{"topic", "key", "value", "headers"}`` with key/value JSON-decoded (None for a null) and
headers as ``[name, decoded value]`` pairs. Each side has its own topic prefix (and connector name); both are
replaced by ``P`` before comparing.

Alignment: per topic (without the prefix), records are grouped by identity (the ``op`` and the key; the status and
id for transaction events; ``tombstone`` and the key for tombstones) and paired in order within a group, which is
Kafka's per-key order. Only the first heartbeat of each side is compared (their number depends on timing).

Values that differ by nature are compared by presence and JSON type only: ``source.version``, the ``ts_*`` fields
(source, envelope, transaction events, heartbeats), the ``__debezium.context.runId`` and ``connectorName``
headers, and for snapshot reads (op ``r``) the position fields ``source.lsn``, ``source.txId``,
``source.sequence`` (the two snapshots are taken at different moments).
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

Record = dict[str, Any]

_TS_FIELDS = ("ts_ms", "ts_us", "ts_ns")
_SNAPSHOT_POSITION = ("lsn", "txId", "sequence", "xmin")
_MESSAGE_COLLECTION = "LogicalDecodingMessageMonitor$LogicalDecodingMessageId@"
_HEADER_BY_NATURE = ("__debezium.context.runId", "__debezium.context.connectorName")


def _kind(value: Any) -> str:
    """A JSON type token standing for a value that differs by nature."""
    if value is None:
        return "<null>"
    return f"<{type(value).__name__}>"


def normalize_prefix(doc: Any, prefix: str) -> Any:
    """``doc`` with every string ``prefix`` / ``prefix.…`` (schema names, source.name, keys) renamed to ``P``."""
    if isinstance(doc, str):
        if doc == prefix:
            return "P"
        if doc.startswith(prefix + "."):
            return "P" + doc[len(prefix) :]
        return doc
    if isinstance(doc, list):
        return [normalize_prefix(v, prefix) for v in doc]
    if isinstance(doc, dict):
        return {k: normalize_prefix(v, prefix) for k, v in doc.items()}
    return doc


def topic_suffix(topic: str, prefix: str) -> str:
    """The topic without the connector's prefix: ``public.t``, ``transaction``, ``message``, ``__heartbeat``."""
    if topic == f"__debezium-heartbeat.{prefix}":
        return "__heartbeat"
    return topic[len(prefix) + 1 :] if topic.startswith(prefix + ".") else topic


def _payload(value: Any) -> Any:
    """The payload of a JSON-converted value, with or without the schema wrapper."""
    if isinstance(value, dict) and set(value) == {"schema", "payload"}:
        return value["payload"]
    return value


def identity(record: Record) -> str:
    """What pairs a record with its twin: op (or tombstone, or transaction status) and key."""
    key = json.dumps(_payload(record["key"]), sort_keys=True)
    if record["value"] is None:
        return f"tombstone {key}"
    payload = _payload(record["value"])
    if isinstance(payload, dict):
        if "status" in payload and "id" in payload:
            return f"{payload['status']} {payload['id']}"
        if "op" in payload:
            return f"{payload['op']} {key}"
    return f"? {key}"


def _mask(record: Record, suffix: str) -> Record:
    """The record with the by-nature values replaced by their JSON type."""
    out = json.loads(json.dumps(record))
    value = out["value"]
    payload = _payload(value)
    if isinstance(payload, dict):
        for name in _TS_FIELDS:
            if name in payload:
                payload[name] = _kind(payload[name])
        source = payload.get("source")
        if isinstance(source, dict):
            for name in ("version", *_TS_FIELDS):
                if name in source:
                    source[name] = _kind(source[name])
            if payload.get("op") == "r":
                for name in _SNAPSHOT_POSITION:
                    if name in source:
                        source[name] = _kind(source[name])
        collections = payload.get("data_collections")
        if isinstance(collections, list) and any(_MESSAGE_COLLECTION in str(c) for c in collections):
            # Debezium names the message "collection" by a Java identity hash, which also decides its place in
            # the END event's HashMap order: a value and position that differ by nature.
            for c in collections:
                if _MESSAGE_COLLECTION in str(c.get("data_collection")):
                    c["data_collection"] = "<logical decoding messages>"
            collections.sort(key=lambda c: str(c.get("data_collection")))
    headers = []
    for name, header_value in out.get("headers") or []:
        headers.append([name, _kind(header_value) if name in _HEADER_BY_NATURE else header_value])
    out["headers"] = headers
    out.pop("topic", None)
    return out


def diff(expected: Any, actual: Any, path: str = "", out: list[str] | None = None) -> list[str]:
    """Paths where ``actual`` differs from ``expected`` (values, types, key order of objects)."""
    out = [] if out is None else out
    if isinstance(expected, dict) and isinstance(actual, dict):
        for k in expected:
            if k not in actual:
                out.append(f"{path}.{k}: missing (debezium {json.dumps(expected[k])[:200]})")
            else:
                diff(expected[k], actual[k], f"{path}.{k}", out)
        for k in actual:
            if k not in expected:
                out.append(f"{path}.{k}: unexpected (ours {json.dumps(actual[k])[:200]})")
        common_e = [k for k in expected if k in actual]
        common_a = [k for k in actual if k in expected]
        if common_e != common_a:
            out.append(f"{path}: key order {common_e} vs ours {common_a}")
    elif isinstance(expected, list) and isinstance(actual, list):
        if len(expected) != len(actual) and not (path.endswith("headers")):
            out.append(f"{path}: length {len(expected)} vs ours {len(actual)}")
        if path.endswith("headers"):
            names_e = [h[0] for h in expected]
            names_a = [h[0] for h in actual]
            if names_e != names_a:
                out.append(f"{path}: names {names_e} vs ours {names_a}")
            else:
                for (name, ve), (_, va) in zip(expected, actual, strict=True):
                    diff(ve, va, f"{path}[{name}]", out)
        else:
            for i, (ve, va) in enumerate(zip(expected, actual, strict=False)):
                diff(ve, va, f"{path}[{i}]", out)
    elif expected != actual or type(expected) is not type(actual):
        out.append(f"{path}: debezium {json.dumps(expected)[:300]} vs ours {json.dumps(actual)[:300]}")
    return out


def generic_path(difference: str) -> str:
    """A difference without its values and list indices, for the summary (``.value.payload.after.c_point``)."""
    path = difference.split(":", 1)[0]
    path = re.sub(r"\[\d+\]", "[]", path)
    if path.startswith(".value.schema.fields[].fields[]"):
        return ".value.schema.<row field>"
    return path


@dataclass
class Pair:
    """Two aligned records (one side may be missing) and their differences."""

    variant: str
    topic: str
    identity: str
    debezium: Record | None
    ours: Record | None
    differences: list[str] = field(default_factory=list)


@dataclass
class Report:
    """The comparison of one run: every aligned pair."""

    pairs: list[Pair] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.pairs)

    @property
    def matched(self) -> int:
        return sum(1 for p in self.pairs if not p.differences)

    def summary(self) -> Counter[str]:
        """Difference paths (generic) → number of records showing them."""
        counts: Counter[str] = Counter()
        for pair in self.pairs:
            for path in {f"{pair.variant} {pair.topic} {generic_path(d)}" for d in pair.differences}:
                counts[path] += 1
        return counts

    def text(self, examples: int = 1) -> str:
        """A human-readable report: counts per variant/topic, then each difference kind with an example."""
        lines = [f"matched {self.matched}/{self.total} records"]
        per_topic: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
        for pair in self.pairs:
            counts = per_topic[(pair.variant, pair.topic)]
            counts[0] += not pair.differences
            counts[1] += 1
        for (variant, topic), (ok, total) in sorted(per_topic.items()):
            lines.append(f"  {variant:6s} {topic:28s} {ok:4d}/{total}")
        shown: Counter[str] = Counter()
        lines.append("differences (records showing each):")
        for path, count in sorted(self.summary().items()):
            lines.append(f"  {count:4d}  {path}")
            for pair in self.pairs:
                for d in pair.differences:
                    if f"{pair.variant} {pair.topic} {generic_path(d)}" == path and shown[path] < examples:
                        shown[path] += 1
                        lines.append(f"          e.g. [{pair.identity}] {d[:600]}")
        return "\n".join(lines)


def _content(record: Record) -> str:
    payload = _payload(record["value"])
    if isinstance(payload, dict):
        return json.dumps([payload.get("before"), payload.get("after")], sort_keys=True)
    return json.dumps(payload, sort_keys=True)


def compare(
    variant: str, debezium: list[Record], debezium_prefix: str, ours: list[Record], ours_prefix: str
) -> list[Pair]:
    """Align and compare the records of one variant."""
    groups: dict[tuple[str, str], tuple[list[Record], list[Record]]] = defaultdict(lambda: ([], []))
    for side, records, prefix in ((0, debezium, debezium_prefix), (1, ours, ours_prefix)):
        seen_heartbeat = False
        for record in records:
            suffix = topic_suffix(record["topic"], prefix)
            if suffix == "__heartbeat":
                if seen_heartbeat:
                    continue
                seen_heartbeat = True
            normalized = normalize_prefix({**record, "topic": suffix}, prefix)
            key = (suffix, "heartbeat" if suffix == "__heartbeat" else identity(normalized))
            groups[key][side].append(normalized)
    pairs = []
    for (suffix, ident), (dbz, ours_records) in sorted(groups.items()):
        if ident.endswith(" null"):
            # Records without a key land on any partition, so their order is not comparable: pair by content.
            dbz = sorted(dbz, key=_content)
            ours_records = sorted(ours_records, key=_content)
        for i in range(max(len(dbz), len(ours_records))):
            expected = dbz[i] if i < len(dbz) else None
            actual = ours_records[i] if i < len(ours_records) else None
            pair = Pair(variant, suffix, ident, expected, actual)
            if expected is None:
                pair.differences.append("record: only in ours")
            elif actual is None:
                pair.differences.append("record: missing in ours")
            else:
                pair.differences = diff(_mask(expected, suffix), _mask(actual, suffix))
            pairs.append(pair)
    return pairs

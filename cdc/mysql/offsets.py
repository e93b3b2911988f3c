"""The MySQL / MariaDB source offset and GTID sets.

Field names follow Debezium's MySQL offsets: ``file`` and ``pos`` (where a restart reads from: the start of the
transaction in progress, or just past the last completed one), ``gtids`` (the completed GTID set: MySQL
``uuid:1-N[,…]``, MariaDB ``domain-server-seq[,…]``), ``event`` (row events of the transaction at ``file``/``pos``
already delivered), ``row`` (rows of the next row event already delivered), ``server_id``, ``ts_sec``, and during
a snapshot ``snapshot``/``last_snapshot_record``. Positions only move at commits; ``event``/``row`` say how far
into the transaction a restart must skip, so it neither loses nor repeats rows.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class MySqlOffset:
    file: str
    pos: int
    gtids: str | None = None
    event: int = 0
    row: int = 0
    server_id: int | None = None
    ts_sec: int | None = None
    snapshot: bool = False
    last_snapshot_record: bool = False

    @property
    def snapshot_completed(self) -> bool:
        """False while an initial snapshot is in progress (a restart must redo it)."""
        return not self.snapshot or self.last_snapshot_record

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"file": self.file, "pos": self.pos}
        if self.gtids:
            out["gtids"] = self.gtids
        if self.event:
            out["event"] = self.event
        if self.row:
            out["row"] = self.row
        if self.server_id is not None:
            out["server_id"] = self.server_id
        if self.ts_sec is not None:
            out["ts_sec"] = self.ts_sec
        if self.snapshot:
            out["snapshot"] = True
            out["last_snapshot_record"] = self.last_snapshot_record
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MySqlOffset:
        """Parse a stored offset; KeyError/ValueError/TypeError on a malformed record (the caller reports it)."""
        snapshot = data.get("snapshot", False)
        return cls(
            file=str(data["file"]),
            pos=int(data["pos"]),
            gtids=data.get("gtids") or None,
            event=int(data.get("event") or 0),
            row=int(data.get("row") or 0),
            server_id=None if data.get("server_id") is None else int(data["server_id"]),
            ts_sec=None if data.get("ts_sec") is None else int(data["ts_sec"]),
            snapshot=snapshot is True or str(snapshot).lower() == "true",
            last_snapshot_record=bool(data.get("last_snapshot_record", False)),
        )


def gtid_source(gtid: str) -> str:
    """The source a GTID comes from, as ``gtid.source.includes``/``excludes`` match it (as Debezium does): MySQL
    the server UUID of ``uuid:n``, MariaDB ``domain-server`` of ``domain-server-seq``."""
    if ":" in gtid:
        return gtid.rpartition(":")[0].lower()
    return gtid.rpartition("-")[0]


def gtid_source_predicate(includes: str | None, excludes: str | None) -> Callable[[str], bool]:
    """Whether a GTID source is kept: it fully matches one of the ``includes`` regexes (when given) and none of
    the ``excludes`` (comma-separated lists, case-insensitive)."""
    inc = [re.compile(p.strip(), re.I) for p in (includes or "").split(",") if p.strip()]
    exc = [re.compile(p.strip(), re.I) for p in (excludes or "").split(",") if p.strip()]

    def kept(source: str) -> bool:
        if inc and not any(p.fullmatch(source) for p in inc):
            return False
        return not any(p.fullmatch(source) for p in exc)

    return kept


class GtidSet:
    """A GTID set of either flavour, updated as transactions commit.

    MySQL: ``uuid → [(start, end), …]`` intervals (``3e11fa47-…:1-5:7``). MariaDB: the last sequence number per
    replication domain (``0-1-42``): MariaDB resumes *after* that GTID in each domain.
    """

    def __init__(self, flavor: str, text: str | None = None) -> None:
        self.flavor = flavor
        self.mysql: dict[str, list[list[int]]] = {}
        self.mariadb: dict[int, tuple[int, int]] = {}  # domain → (server_id, seq)
        for part in (text or "").replace("\n", "").split(","):
            part = part.strip()
            if part:
                self._parse(part)

    def _parse(self, part: str) -> None:
        if self.flavor == "mariadb":
            domain, server, seq = (int(p) for p in part.split("-"))
            self.mariadb[domain] = (server, seq)
            return
        uuid, *ranges = part.split(":")
        intervals = self.mysql.setdefault(uuid.lower(), [])
        for r in ranges:
            start, _, end = r.partition("-")
            intervals.append([int(start), int(end or start)])
        intervals.sort()

    def add(self, gtid: str) -> None:
        """Record the committed transaction ``gtid`` (``uuid:n`` or ``domain-server-seq``)."""
        if self.flavor == "mariadb":
            domain, server, seq = (int(p) for p in gtid.split("-"))
            self.mariadb[domain] = (server, seq)
            return
        uuid, _, number = gtid.rpartition(":")
        n = int(number)
        intervals = self.mysql.setdefault(uuid.lower(), [])
        for interval in intervals:
            if interval[0] <= n <= interval[1]:
                return
            if n == interval[1] + 1:
                interval[1] = n
                self._merge(intervals)
                return
            if n == interval[0] - 1:
                interval[0] = n
                self._merge(intervals)
                return
        intervals.append([n, n])
        intervals.sort()

    @staticmethod
    def _merge(intervals: list[list[int]]) -> None:
        intervals.sort()
        merged: list[list[int]] = []
        for interval in intervals:
            if merged and interval[0] <= merged[-1][1] + 1:
                merged[-1][1] = max(merged[-1][1], interval[1])
            else:
                merged.append(interval)
        intervals[:] = merged

    def filtered(self, includes: str | None, excludes: str | None) -> GtidSet:
        """The set restricted by ``gtid.source.includes`` / ``excludes`` (regexes on the source UUID)."""
        if self.flavor == "mariadb" or (not includes and not excludes):
            return self
        kept = gtid_source_predicate(includes, excludes)
        out = GtidSet(self.flavor)
        for uuid, intervals in self.mysql.items():
            if kept(uuid):
                out.mysql[uuid] = [list(i) for i in intervals]
        return out

    def __str__(self) -> str:
        if self.flavor == "mariadb":
            return ",".join(f"{d}-{s}-{q}" for d, (s, q) in sorted(self.mariadb.items()))
        return ",".join(
            uuid + "".join(f":{a}" if a == b else f":{a}-{b}" for a, b in intervals)
            for uuid, intervals in sorted(self.mysql.items())
            if intervals
        )

    def copy(self) -> GtidSet:
        return GtidSet(self.flavor, str(self))

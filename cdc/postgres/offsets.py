"""The PostgreSQL source offset: what is stored in the offsets topic and what a restart resumes from.

Field names follow Debezium's PostgreSQL offsets (``lsn``, ``lsn_commit``, ``lsn_proc``, ``txId``, ``ts_usec``,
``snapshot``, ``last_snapshot_record``) plus ``events``: how many change messages of the transaction committing at
``lsn_commit`` were already delivered, so a restart inside a large transaction skips exactly those instead of
re-emitting them. ``lsn`` is always the end of the last *completed* transaction, the position that is safe to
confirm to the slot.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class PostgresOffset:
    lsn: int
    lsn_commit: int | None = None
    lsn_proc: int | None = None
    tx_id: int | None = None
    ts_usec: int | None = None
    events: int = 0
    snapshot: bool = False
    last_snapshot_record: bool = False

    @property
    def snapshot_completed(self) -> bool:
        """False while an initial snapshot is in progress (a restart must redo it)."""
        return not self.snapshot or self.last_snapshot_record

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "lsn": self.lsn,
            "lsn_commit": self.lsn_commit,
            "lsn_proc": self.lsn_proc,
            "txId": self.tx_id,
            "ts_usec": self.ts_usec,
        }
        if self.events:
            out["events"] = self.events
        if self.snapshot:
            out["snapshot"] = True
            out["last_snapshot_record"] = self.last_snapshot_record
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PostgresOffset:
        """Parse a stored offset; raises KeyError/ValueError on a malformed record (caller reports it)."""
        return cls(
            lsn=int(data["lsn"]),
            lsn_commit=_opt_int(data.get("lsn_commit")),
            lsn_proc=_opt_int(data.get("lsn_proc")),
            tx_id=_opt_int(data.get("txId")),
            ts_usec=_opt_int(data.get("ts_usec")),
            events=int(data.get("events") or 0),
            snapshot=bool(data.get("snapshot", False)),
            last_snapshot_record=bool(data.get("last_snapshot_record", False)),
        )


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)

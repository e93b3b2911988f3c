"""A change's source position as one integer that grows with the position: the version of a document.

Used by the Elasticsearch sink (external versions) and the MongoDB sink's optional version guard, so that a replay
or a second partition holding the same key never replaces a newer document with an older one.
"""

from __future__ import annotations

import re
from typing import Any

_BINLOG_NUMBER = re.compile(r"(\d+)$")
_MAX_VERSION = 2**63 - 1


def source_version(source: dict[str, Any]) -> int | None:
    """An external version from a Debezium ``source`` block (None when it has no usable position).

    PostgreSQL: ``lsn``. MySQL/MariaDB: ``file`` number << 43 | ``pos`` << 12 | ``row`` (binlog files are at most
    1 GiB, so ``pos`` < 2^31; rows per event < 4096). GTID (``uuid:n``, only without a file): n << 20 | row.
    """
    lsn = source.get("lsn")
    if isinstance(lsn, int) and lsn > 0:
        return lsn
    file_name = source.get("file")
    pos = source.get("pos")
    row = source.get("row") or 0
    if isinstance(file_name, str) and isinstance(pos, int):
        match = _BINLOG_NUMBER.search(file_name)
        if match:
            return min(_MAX_VERSION, (int(match.group(1)) << 43) | (pos << 12) | min(int(row), 4095))
    gtid = source.get("gtid")
    if isinstance(gtid, str) and ":" in gtid:
        tail = gtid.rsplit(":", 1)[1].split("-")[-1]
        if tail.isdigit():
            return min(_MAX_VERSION, (int(tail) << 20) | min(int(row), 2**20 - 1))
    return None

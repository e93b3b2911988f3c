"""cdc-engine's MySQL connector against the real Debezium 3.6.3 MySQL connector on one MySQL 9.x server.

Every record of the snapshot, the streamed changes (an ALTER TABLE among them) and the schema change topic must
agree (``mysql_compare.py`` says what is compared; differences by nature, such as ``ts_*`` and the connector
version, are not compared). Debezium's MySQL connector refuses MariaDB, so this runs on MySQL 9.x only. Skipped,
with the reason, when MySQL 9.x, Java or the Debezium jars are missing. About a minute.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
from mysql_compare import run_comparison

from servers import KafkaEndpoint, MySQLFamilyServer
from servers.debezium import unavailable_reason

pytestmark = pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason()))

_COUNT = re.compile(r"^\| (schema change topic|`[^`]*`) \| (\d+) records \| (\d+) records \|")


# A server of its own: Debezium's snapshot announces the DDL of every database on the server, so a database another
# test left behind would show up as a difference (docs/mysql.md).
def test_every_record_matches_debezium(
    private_mysql_server: MySQLFamilyServer, kafka_broker: KafkaEndpoint, tmp_path: Path
) -> None:
    db = f"shop_{uuid.uuid4().hex[:8]}"
    rows = run_comparison(private_mysql_server, kafka_broker.bootstrap_servers, tmp_path, db)
    counts = [m for m in map(_COUNT.match, rows) if m]
    differences = [r for r in rows if not _COUNT.match(r)]
    assert not differences, "\n".join(differences)
    assert {m.group(1) for m in counts} == {"schema change topic", f"`.{db}.all_types`", f"`.{db}.customers`"}
    for m in counts:
        assert m.group(2) == m.group(3), m.group(0)

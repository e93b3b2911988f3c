"""DDL: which tables a statement touches, and the schema history topic that lets a restart rebuild the schema.

:func:`parse_ddl` names the tables and databases a statement changes (CREATE/ALTER/DROP/RENAME/TRUNCATE TABLE,
CREATE/DROP DATABASE). The stream reader then re-reads those tables' definitions and records them here.

:class:`SchemaHistory` keeps one record per DDL statement (and one per captured table at the end of a snapshot)
in a single-partition topic, ``schema.history.internal.kafka.topic``. Each record carries the binlog position
just past the statement and the *resulting* definitions of the tables it touched, so that :meth:`recover`
rebuilds every table as it was at a stored offset by applying the records up to that position. Records are
written synchronously, before any change after the DDL is read, so the history is never behind the offsets.

Record value (JSON)::

    {"source": {"server": <topic.prefix>}, "position": {"file", "pos", "gtids"}, "ts_ms", "databaseName",
     "ddl", "tableChanges": [{"type": "CREATE"|"ALTER"|"DROP", "id": "db.table", "table": <TableDef json>|null}]}

Debezium's own history records carry the same fields, with its own column descriptors; the two formats are
not interchangeable (see docs/mysql.md).
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field
from typing import Any

import orjson
from confluent_kafka import OFFSET_BEGINNING, KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from cdc.errors import RetriableError
from cdc.kafka.producer import LIBRDKAFKA_LOG
from cdc.kafka.reading import end_reading_consumer, messages_to_end
from cdc.mysql.catalog import TableDef

log = logging.getLogger("cdc.mysql.history")

_NAME = r"(?:`(?:[^`]|``)+`|[\w$]+)"
_QUALIFIED = rf"{_NAME}(?:\s*\.\s*{_NAME})?"
_COMMENTS = re.compile(r"/\*(?!!).*?\*/|/\*!\d*|\*/|--[^\n]*|#[^\n]*", re.S)


@dataclass(frozen=True)
class DdlEffect:
    """What a DDL statement changes: tables (db, name) to re-read or drop, databases created or dropped."""

    kind: str  # CREATE, ALTER, DROP, RENAME, TRUNCATE, CREATE_DATABASE, DROP_DATABASE, OTHER
    tables: tuple[tuple[str, str], ...] = ()
    dropped: tuple[tuple[str, str], ...] = ()
    database: str | None = None


def _unquote(name: str) -> str:
    name = name.strip()
    if name.startswith("`") and name.endswith("`"):
        return name[1:-1].replace("``", "`")
    return name


def _qualified(text: str, default_db: str) -> tuple[str, str]:
    parts = re.findall(_NAME, text)
    if len(parts) >= 2:
        return _unquote(parts[0]), _unquote(parts[1])
    return default_db, _unquote(parts[0])


def parse_ddl(statement: str, default_db: str) -> DdlEffect:
    """The effect of one statement from a binlog query event (``default_db``: the event's current database)."""
    sql = _COMMENTS.sub(" ", statement).strip().rstrip(";")
    m = re.match(rf"(?is)create\s+(?:temporary\s+)?table\s+(?:if\s+not\s+exists\s+)?({_QUALIFIED})", sql)
    if m:
        if re.match(r"(?is)create\s+temporary", sql):
            return DdlEffect("OTHER")
        return DdlEffect("CREATE", (_qualified(m.group(1), default_db),))
    m = re.match(rf"(?is)alter\s+(?:online\s+|ignore\s+)*table\s+({_QUALIFIED})(.*)", sql)
    if m:
        table = _qualified(m.group(1), default_db)
        rename = re.search(rf"(?is)\brename\s+(?:to\s+|as\s+)?({_QUALIFIED})\s*$", m.group(2))
        if rename:
            return DdlEffect("RENAME", (_qualified(rename.group(1), table[0]),), (table,))
        return DdlEffect("ALTER", (table,))
    m = re.match(r"(?is)drop\s+(?:temporary\s+)?table\s+(?:if\s+exists\s+)?(.*)", sql)
    if m:
        if re.match(r"(?is)drop\s+temporary", sql):
            return DdlEffect("OTHER")
        names = re.sub(r"(?is)\s+(restrict|cascade)\s*$", "", m.group(1))
        return DdlEffect("DROP", (), tuple(_qualified(n, default_db) for n in re.findall(_QUALIFIED, names)))
    m = re.match(r"(?is)rename\s+tables?\s+(.*)", sql)
    if m:
        created: list[tuple[str, str]] = []
        renamed: list[tuple[str, str]] = []
        for pair in m.group(1).split(","):
            old, _, new = re.split(r"(?is)\s+(to)\s+", pair.strip(), maxsplit=1)
            renamed.append(_qualified(old, default_db))
            created.append(_qualified(new, default_db))
        return DdlEffect("RENAME", tuple(created), tuple(renamed))
    m = re.match(rf"(?is)truncate\s+(?:table\s+)?({_QUALIFIED})", sql)
    if m:
        return DdlEffect("TRUNCATE", (_qualified(m.group(1), default_db),))
    m = re.match(rf"(?is)create\s+(?:database|schema)\s+(?:if\s+not\s+exists\s+)?({_NAME})", sql)
    if m:
        return DdlEffect("CREATE_DATABASE", database=_unquote(m.group(1)))
    m = re.match(rf"(?is)drop\s+(?:database|schema)\s+(?:if\s+exists\s+)?({_NAME})", sql)
    if m:
        return DdlEffect("DROP_DATABASE", database=_unquote(m.group(1)))
    return DdlEffect("OTHER")


def binlog_index(file: str) -> int:
    """The sequence number of a binlog file name (``binlog.000012`` → 12)."""
    suffix = file.rsplit(".", 1)[-1]
    return int(suffix) if suffix.isdigit() else 0


def position_key(file: str, pos: int) -> tuple[int, int]:
    return binlog_index(file), pos


@dataclass
class SchemaHistory:
    """The history topic of one connector; owned by MySqlSource."""

    bootstrap: str
    topic: str
    server: str
    _producer: Producer | None = field(default=None, repr=False)

    def ensure_topic(self) -> bool:
        """Create the topic (1 partition, infinite retention) if missing; True when it already existed."""
        admin_config: dict[str, Any] = {"bootstrap.servers": self.bootstrap, "logger": LIBRDKAFKA_LOG}
        admin = AdminClient(admin_config)
        try:
            metadata = admin.list_topics(timeout=15)
        except KafkaException as exc:
            raise RetriableError(f"cannot reach Kafka at {self.bootstrap}: {exc}") from None
        if self.topic in metadata.topics and not metadata.topics[self.topic].error:
            return True
        new = NewTopic(self.topic, 1, -1, config={"cleanup.policy": "delete", "retention.ms": "-1"})
        for future in admin.create_topics([new], operation_timeout=15).values():
            try:
                future.result()
            except KafkaException as exc:
                if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                    raise RetriableError(f"cannot create schema history topic {self.topic}: {exc}") from None
                return True
        log.info("created schema history topic %s", self.topic)
        return False

    def read(self) -> list[dict[str, Any]]:
        """Every history record of this server, in order."""
        consumer = end_reading_consumer(
            self.bootstrap, "schema-history", **{"auto.offset.reset": "earliest", "logger": LIBRDKAFKA_LOG}
        )
        records: list[dict[str, Any]] = []
        try:
            metadata = consumer.list_topics(self.topic, timeout=15)
            topic = metadata.topics.get(self.topic)
            if topic is None or topic.error is not None:
                return []
            starts = dict.fromkeys(topic.partitions, OFFSET_BEGINNING)
            for msg in messages_to_end(consumer, self.topic, starts, 60):
                value = msg.value()
                if value is None:
                    continue
                record = orjson.loads(value)
                if record.get("source", {}).get("server") == self.server:
                    records.append(record)
        except KafkaException as exc:
            raise RetriableError(f"cannot read schema history topic {self.topic}: {exc}") from None
        finally:
            consumer.close()
        return records

    def record(
        self,
        file: str,
        pos: int,
        gtids: str | None,
        database: str,
        ddl: str,
        changes: list[tuple[str, tuple[str, str], TableDef | None]],
    ) -> None:
        """Append one record and wait for the broker's acknowledgement (RetriableError otherwise)."""
        value = {
            "source": {"server": self.server},
            "position": {"file": file, "pos": pos, "gtids": gtids},
            "ts_ms": int(time.time() * 1000),
            "databaseName": database,
            "ddl": ddl,
            "tableChanges": [
                {"type": kind, "id": f"{db}.{name}", "table": None if t is None else t.to_json()}
                for kind, (db, name), t in changes
            ],
        }
        if self._producer is None:
            self._producer = Producer(
                {"bootstrap.servers": self.bootstrap, "enable.idempotence": "true", "acks": "all", "linger.ms": "0"}
            )
        errors: list[str] = []

        def on_delivery(err: KafkaError | None, _msg: Any) -> None:
            if err is not None:
                errors.append(err.str())

        self._producer.produce(self.topic, orjson.dumps(value), None, on_delivery=on_delivery)
        if self._producer.flush(30) > 0 or errors:
            raise RetriableError(f"schema history write to {self.topic} failed: {errors[0] if errors else 'timeout'}")

    def close(self) -> None:
        if self._producer is not None:
            self._producer.flush(5)
            self._producer = None


def recover(records: list[dict[str, Any]], file: str, pos: int) -> dict[tuple[str, str], TableDef]:
    """The table definitions as of binlog position ``file``/``pos``: records at or before it, applied in order."""
    limit = position_key(file, pos)
    tables: dict[tuple[str, str], TableDef] = {}
    for record in records:
        position = record.get("position") or {}
        if position_key(str(position.get("file", "")), int(position.get("pos", 0))) > limit:
            break
        for change in record.get("tableChanges", []):
            db, _, name = str(change["id"]).partition(".")
            if change.get("table") is None:
                tables.pop((db, name), None)
            else:
                definition = TableDef.from_json(change["table"])
                tables[(definition.database, definition.name)] = definition
    return tables

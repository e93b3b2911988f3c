"""What the MariaDB and MySQL launchers share: a private data directory, a free port, binlog settings, accounts.

:class:`MySQLFamilyServer` starts a server process (``mariadbd`` or Oracle ``mysqld``) in the foreground on a
free loopback port, with its data directory, Unix socket, pid file and error log in a temp dir, and binlog
settings a CDC connector needs: ``--log-bin --binlog-format=ROW --binlog-row-image=FULL
--binlog-row-metadata=FULL`` and GTIDs where the flavour has them. Subclasses (:mod:`servers.mariadb`,
:mod:`servers.mysql`) say how to create the data directory and which binary to run.

Two accounts exist on every server, both reachable over TCP from 127.0.0.1:

- ``admin`` / ``admin``: every privilege, for tests to create databases, tables and rows;
- ``cdc`` / ``cdc``: exactly the privileges Debezium documents for its MySQL connector (``SELECT, RELOAD, SHOW
  DATABASES, REPLICATION SLAVE, REPLICATION CLIENT``); the connector under test logs in with it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from servers.common import _LOOPBACK, ServerStartError, _LocalServer, _port_accepts, _tail, free_port

ADMIN_USER, ADMIN_PASSWORD = "admin", "admin"
CDC_USER, CDC_PASSWORD = "cdc", "cdc"
#: The privileges Debezium's MySQL connector documents for its user.
CDC_GRANTS = "SELECT, RELOAD, SHOW DATABASES, REPLICATION SLAVE, REPLICATION CLIENT"

INIT_SQL = f"""
CREATE USER IF NOT EXISTS '{ADMIN_USER}'@'%' IDENTIFIED BY '{ADMIN_PASSWORD}';
GRANT ALL PRIVILEGES ON *.* TO '{ADMIN_USER}'@'%' WITH GRANT OPTION;
CREATE USER IF NOT EXISTS '{CDC_USER}'@'%' IDENTIFIED BY '{CDC_PASSWORD}';
GRANT {CDC_GRANTS} ON *.* TO '{CDC_USER}'@'%';
FLUSH PRIVILEGES;
"""


class MySQLFamilyServer(_LocalServer):
    """A throwaway MariaDB or MySQL server; use :class:`servers.MariaDBServer` or :class:`servers.MySQLServer`.

    ``start()`` creates the data directory (once) and starts the server; ``stop()`` shuts it down (SIGTERM,
    a clean shutdown) and deletes the temp dir; ``restart()`` stops and starts it on the same port and data
    directory (``kill=True``: SIGKILL first, a crash); ``connect()`` returns a PyMySQL connection.
    """

    #: ``mariadb`` or ``mysql``: what the connector calls the flavour.
    flavor = "mysql"
    #: The server's default server_id; connectors must use another one.
    server_id = 1

    def __init__(self, base_tmpdir: str | os.PathLike[str] | None = None, gtid: bool = True) -> None:
        """Prepare (but do not start) a server; ``gtid=False`` starts MySQL without GTIDs (MariaDB always has them)."""
        super().__init__(base_tmpdir)
        self.gtid = gtid
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_fh: IO[bytes] | None = None
        self._extra_args: list[str] = []

    # -- what subclasses provide ---------------------------------------------------------------------------

    def _initialize(self, datadir: Path, init_sql: Path) -> None:
        """Create a new data directory in ``datadir`` and run ``init_sql`` in it."""
        raise NotImplementedError

    def _server_argv(self) -> list[str]:
        """The argv prefix that runs the server binary (options are appended)."""
        raise NotImplementedError

    def _flavor_args(self) -> list[str]:
        """Options specific to the flavour (GTID settings, X protocol …)."""
        return []

    # -- properties ----------------------------------------------------------------------------------------

    @property
    def user(self) -> str:
        """The connector's account (``cdc``), with Debezium's documented privileges only."""
        return CDC_USER

    @property
    def password(self) -> str:
        """Password of :attr:`user`."""
        return CDC_PASSWORD

    @property
    def admin_user(self) -> str:
        """An account with every privilege, for test set-up."""
        return ADMIN_USER

    @property
    def admin_password(self) -> str:
        """Password of :attr:`admin_user`."""
        return ADMIN_PASSWORD

    @property
    def tmpdir(self) -> Path:
        """The temp dir holding ``data/``, the socket, the pid file and ``error.log``."""
        if self._tmpdir is None:
            raise self._not_started()
        return self._tmpdir

    @property
    def datadir(self) -> Path:
        """The data directory (binlogs are ``binlog.NNNNNN`` in it)."""
        return self.tmpdir / "data"

    @property
    def socket_path(self) -> Path:
        """The server's Unix socket."""
        return self.tmpdir / "mysql.sock"

    @property
    def logfile(self) -> Path:
        """The server's error log."""
        return self.tmpdir / "error.log"

    @property
    def running(self) -> bool:
        """True while the server process runs."""
        return self._proc is not None and self._proc.poll() is None

    # -- lifecycle -----------------------------------------------------------------------------------------

    def start(self, extra_args: Sequence[str] = (), *, attempts: int = 3) -> MySQLFamilyServer:
        """Create the data directory and start the server; return ``self``.

        :param extra_args: more server options (e.g. ``--binlog-row-image=MINIMAL`` to test prerequisite checks).
        :raises ServerStartError: if initialization or start-up fails (the error log's tail is in the message).
        """
        if self.running:
            raise RuntimeError(f"{type(self).__name__} is already running")
        self._extra_args = list(extra_args)
        tmpdir = self._make_tmpdir(f"cdc-{self.flavor}-")
        try:
            init_sql = tmpdir / "init.sql"
            init_sql.write_text(INIT_SQL)
            self._initialize(self.datadir, init_sql)
            last: ServerStartError | None = None
            for _ in range(max(1, attempts)):
                self._port = free_port()
                try:
                    self._launch()
                    return self
                except ServerStartError as exc:
                    last = exc
                    if "Address already in use" not in str(exc):
                        raise
            assert last is not None
            raise last
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Shut the server down (SIGTERM, then SIGKILL after 60 s) and delete its temp dir. Idempotent."""
        self._terminate(kill=False)
        self._port = None
        self._remove_tmpdir()

    def restart(self, kill: bool = False, extra_args: Sequence[str] | None = None) -> None:
        """Stop and start the server on the same port and data directory.

        :param kill: SIGKILL instead of a clean shutdown (crash recovery runs on start-up).
        :param extra_args: replace the extra server options given to :meth:`start`.
        """
        if self._tmpdir is None:
            raise self._not_started()
        self._terminate(kill=kill)
        if extra_args is not None:
            self._extra_args = list(extra_args)
        self._launch()

    def __enter__(self) -> MySQLFamilyServer:
        """Start the server unless already running."""
        if not self.running:
            self.start()
        return self

    # -- SQL helpers ----------------------------------------------------------------------------------------

    def connect(self, database: str | None = None, *, admin: bool = True, **kwargs: Any) -> Any:
        """A PyMySQL connection (autocommit) as the admin account, or as :attr:`user` with ``admin=False``."""
        import pymysql

        options: dict[str, Any] = {"autocommit": True, "charset": "utf8mb4", **kwargs}
        return pymysql.connect(
            host=self.host,
            port=self.port,
            user=ADMIN_USER if admin else CDC_USER,
            password=ADMIN_PASSWORD if admin else CDC_PASSWORD,
            database=database,
            **options,
        )

    def execute(self, *statements: str, database: str | None = None) -> list[tuple[Any, ...]]:
        """Run statements as admin (autocommit) and return the last one's rows."""
        conn = self.connect(database)
        try:
            rows: list[tuple[Any, ...]] = []
            with conn.cursor() as cur:
                for statement in statements:
                    cur.execute(statement)
                    rows = list(cur.fetchall())
            return rows
        finally:
            conn.close()

    def create_database(self, name: str) -> None:
        """``CREATE DATABASE name``."""
        self.execute(f"CREATE DATABASE `{name}`")

    def drop_database(self, name: str) -> None:
        """``DROP DATABASE IF EXISTS name``."""
        self.execute(f"DROP DATABASE IF EXISTS `{name}`")

    def variable(self, name: str) -> str | None:
        """A global server variable's value (``None`` when the server has no such variable)."""
        rows = self.execute(f"SHOW GLOBAL VARIABLES LIKE '{name}'")
        return str(rows[0][1]) if rows else None

    def binlog_position(self) -> tuple[str, int]:
        """The current binlog file and position (``SHOW BINARY LOG STATUS`` / ``SHOW MASTER STATUS``)."""
        statement = "SHOW MASTER STATUS" if self.flavor == "mariadb" else "SHOW BINARY LOG STATUS"
        rows = self.execute(statement)
        return str(rows[0][0]), int(rows[0][1])

    def version(self) -> str:
        """``SELECT VERSION()``."""
        return str(self.execute("SELECT VERSION()")[0][0])

    # -- internals -----------------------------------------------------------------------------------------

    def _run(self, argv: Sequence[str], timeout: float = 180) -> None:
        """Run an initialization command; ServerStartError with its output on failure."""
        try:
            proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ServerStartError(f"{argv[0]} failed: {exc}") from exc
        if proc.returncode != 0:
            raise ServerStartError(
                f"{' '.join(argv)} exited with {proc.returncode}\nstdout:\n{proc.stdout[-3000:]}\n"
                f"stderr:\n{proc.stderr[-3000:]}\nlog tail:\n{_tail(self.tmpdir / 'init.log')}"
            )

    def _launch(self) -> None:
        assert self._tmpdir is not None and self._port is not None
        argv = [
            *self._server_argv(),
            f"--datadir={self.datadir}",
            f"--port={self._port}",
            f"--bind-address={_LOOPBACK}",
            f"--socket={self.socket_path}",
            f"--pid-file={self.tmpdir / 'mysqld.pid'}",
            f"--log-error={self.logfile}",
            f"--server-id={self.server_id}",
            "--log-bin=binlog",
            "--binlog-format=ROW",
            "--binlog-row-image=FULL",
            "--binlog-row-metadata=FULL",
            "--innodb-buffer-pool-size=64M",
            "--max-connections=200",
            "--skip-name-resolve",
            *self._flavor_args(),
            *self._extra_args,
        ]
        self._log_fh = (self.tmpdir / "stdout.log").open("ab")
        self._proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self._log_fh, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        while True:
            if self._proc.poll() is not None:
                raise ServerStartError(
                    f"{self.flavor} server exited with {self._proc.returncode} during start-up; "
                    f"error log tail ({self.logfile}):\n{_tail(self.logfile)}"
                )
            if _port_accepts(_LOOPBACK, self._port) and self._can_login():
                return
            if time.monotonic() > deadline:
                raise ServerStartError(f"{self.flavor} server not ready after 120 s:\n{_tail(self.logfile)}")
            time.sleep(0.1)

    def _can_login(self) -> bool:
        import pymysql

        try:
            self.connect(connect_timeout=2).close()
        except pymysql.MySQLError:
            return False
        return True

    def _terminate(self, kill: bool) -> None:
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        self._proc = None
        if self._log_fh is not None:
            with contextlib.suppress(OSError):
                self._log_fh.close()
            self._log_fh = None


@contextlib.contextmanager
def running(server: MySQLFamilyServer) -> Iterator[MySQLFamilyServer]:
    """Start ``server`` and stop it on exit."""
    server.start()
    try:
        yield server
    finally:
        server.stop()

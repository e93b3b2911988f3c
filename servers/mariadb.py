"""A throwaway MariaDB server (Debian's ``mariadb-server``), initialized with ``mariadb-install-db`` into a temp dir.

The server runs with the binlog settings a CDC connector needs (``--log-bin --binlog-format=ROW
--binlog-row-image=FULL --binlog-row-metadata=FULL``); MariaDB always writes GTIDs (``domain-server-seq``).
See :mod:`servers.mysqlbase` for the accounts and the methods.

Environment override: ``CDC_TEST_MARIADB_BINDIR`` (the directory holding ``mariadbd`` and ``mariadb-install-db``).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from servers.common import ServerStartError, _running_as_root
from servers.mysqlbase import MySQLFamilyServer

ENV_MARIADB_BINDIR = "CDC_TEST_MARIADB_BINDIR"


class MariaDBNotFoundError(ServerStartError):
    """Raised when ``mariadbd`` / ``mariadb-install-db`` cannot be found."""


def find_mariadb() -> tuple[Path, Path]:
    """Locate ``mariadbd`` and ``mariadb-install-db``: ``$CDC_TEST_MARIADB_BINDIR``, ``PATH``, ``/usr/sbin``.

    :raises MariaDBNotFoundError: with the command that installs them.
    """
    dirs = [os.environ[ENV_MARIADB_BINDIR]] if os.environ.get(ENV_MARIADB_BINDIR) else []
    dirs += ["/usr/sbin", "/usr/bin"]
    server = next((Path(d) / "mariadbd" for d in dirs if os.access(Path(d) / "mariadbd", os.X_OK)), None)
    if server is None and shutil.which("mariadbd"):
        server = Path(str(shutil.which("mariadbd")))
    install = shutil.which("mariadb-install-db") or next(
        (str(Path(d) / "mariadb-install-db") for d in dirs if os.access(Path(d) / "mariadb-install-db", os.X_OK)),
        None,
    )
    if server is None or install is None:
        raise MariaDBNotFoundError(
            "MariaDB server binaries (mariadbd, mariadb-install-db) not found; install them with "
            f"`apt-get install -y mariadb-server` (scripts/bootstrap.sh does) or set ${ENV_MARIADB_BINDIR}"
        )
    return server, Path(install)


class MariaDBServer(MySQLFamilyServer):
    """A throwaway MariaDB 10.11 server (see :class:`servers.mysqlbase.MySQLFamilyServer`).

    Example::

        with MariaDBServer().start() as db:
            db.create_database("shop")
    """

    flavor = "mariadb"

    def _initialize(self, datadir: Path, init_sql: Path) -> None:
        server, install = find_mariadb()
        self._server = server
        argv = [
            str(install),
            "--no-defaults",
            f"--datadir={datadir}",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
            "--skip-name-resolve",
        ]
        if _running_as_root():
            argv.append("--user=root")
        self._run(argv)
        self._first_start_sql: Path | None = init_sql

    def _server_argv(self) -> list[str]:
        argv = [str(self._server), "--no-defaults"]
        if _running_as_root():
            argv.append("--user=root")
        # The accounts are created on the first start only; init-file statements run with the binlog off.
        if self._first_start_sql is not None:
            argv.append(f"--init-file={self._first_start_sql}")
            self._first_start_sql = None
        return argv

    def _flavor_args(self) -> list[str]:
        return ["--innodb-flush-log-at-trx-commit=2", "--sync-binlog=0"]

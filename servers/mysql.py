"""A throwaway Oracle MySQL 9.x server, run from an unpacked Debian package tree without a system-wide install.

Debian 12 has no MySQL server; ``scripts/fetch-mysql.sh`` (a copy of ``/work/shared/tools/mysql-server/fetch``,
run by ``scripts/bootstrap.sh``) downloads Debian sid's ``mysql-server-core`` and its runtime libraries and
unpacks them into ``$MYSQL_ROOT`` (default ``~/.cache/mysql-server``). The server then runs with that tree's own
dynamic loader and libraries. GTIDs are on (``--gtid-mode=ON --enforce-gtid-consistency=ON``) unless
``MySQLServer(gtid=False)``. See :mod:`servers.mysqlbase` for the accounts and the methods.

:func:`mysql_unavailable_reason` tells fixtures whether the tree is there, so that tests can be skipped *with
that reason* when Debian's archive could not be reached.
"""

from __future__ import annotations

import glob
import os
from pathlib import Path

from servers.common import ServerStartError, _running_as_root
from servers.mysqlbase import MySQLFamilyServer

ENV_MYSQL_ROOT = "MYSQL_ROOT"


class MySQLNotFoundError(ServerStartError):
    """Raised when no unpacked MySQL server tree is found."""


def mysql_root() -> Path:
    """The unpacked tree: ``$MYSQL_ROOT`` or ``~/.cache/mysql-server``."""
    return Path(os.environ.get(ENV_MYSQL_ROOT) or Path.home() / ".cache" / "mysql-server")


def _loader(root: Path) -> Path | None:
    found = sorted(glob.glob(str(root / "usr/lib/*-linux-gnu/ld-linux*.so.*")))
    return Path(found[0]) if found else None


def mysql_unavailable_reason() -> str | None:
    """None when a MySQL server can be started here, else why not (for a visible ``pytest.skip``)."""
    root = mysql_root()
    if not os.access(root / "usr/sbin/mysqld", os.X_OK) or _loader(root) is None:
        reason = ""
        marker = root.parent / "mysql-server.fetch-failed"
        if marker.exists():
            reason = ": " + marker.read_text(errors="replace").strip()[-500:]
        return (
            f"no MySQL 9.x server unpacked in {root} (scripts/bootstrap.sh fetches it from Debian's archive with "
            f"scripts/fetch-mysql.sh{reason})"
        )
    return None


class MySQLServer(MySQLFamilyServer):
    """A throwaway Oracle MySQL 9.x server with GTIDs (see :class:`servers.mysqlbase.MySQLFamilyServer`)."""

    flavor = "mysql"

    def _base_argv(self) -> list[str]:
        root = mysql_root()
        loader = _loader(root)
        reason = mysql_unavailable_reason()
        if reason is not None or loader is None:
            raise MySQLNotFoundError(reason or f"no dynamic loader under {root}")
        argv = [
            str(loader),
            "--library-path",
            str(loader.parent),
            str(root / "usr/sbin/mysqld"),
            "--no-defaults",
            f"--basedir={root / 'usr'}",
            f"--lc-messages-dir={root / 'usr/share/mysql'}",
            f"--plugin-dir={root / 'usr/lib/mysql/plugin'}",
            "--secure-file-priv=NULL",
        ]
        if _running_as_root():
            argv.append("--user=root")
        return argv

    def _initialize(self, datadir: Path, init_sql: Path) -> None:
        self._run(
            [
                *self._base_argv(),
                "--initialize-insecure",
                f"--datadir={datadir}",
                f"--init-file={init_sql}",
                f"--log-error={self.tmpdir / 'init.log'}",
            ]
        )

    def _server_argv(self) -> list[str]:
        return self._base_argv()

    def _flavor_args(self) -> list[str]:
        args = [
            "--mysqlx=OFF",
            "--performance-schema=OFF",
            "--innodb-flush-log-at-trx-commit=2",
            "--sync-binlog=0",
        ]
        if self.gtid:
            args += ["--gtid-mode=ON", "--enforce-gtid-consistency=ON"]
        else:  # MySQL 9.7's default is gtid_mode=ON: say OFF explicitly
            args += ["--gtid-mode=OFF", "--enforce-gtid-consistency=OFF"]
        return args

"""What every throwaway server launcher shares: free ports, temp dirs, the stop-at-exit safety net.

The launchers in this package (one module per server kind) start short-lived, *real* servers on free loopback
ports, each in its own temporary directory, for the demo, the benchmarks and the tests. Every server class is a
context manager whose ``stop()`` is idempotent; servers still running when the interpreter exits are stopped by an
:mod:`atexit` hook.

``CDC_TEST_KEEP_SERVER_DIRS``: when set to a non-empty value other than ``0``, temporary directories (data
directories and logs) are kept after ``stop()`` for post-mortem debugging.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import shutil
import socket
import tempfile
import weakref
from pathlib import Path

ENV_KEEP_DIRS = "CDC_TEST_KEEP_SERVER_DIRS"

_LOOPBACK = "127.0.0.1"


class ServerStartError(RuntimeError):
    """Raised when a throwaway server fails to start or become ready."""


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

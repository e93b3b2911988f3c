"""A throwaway server run as one child process on a free loopback port (the document-store stand-ins).

:mod:`servers.kafka` (tansu), :mod:`servers.mongodb`, :mod:`servers.elasticsearch` and :mod:`servers.opensearch` start
their servers through
:class:`ProcessServer`: the child gets its own temp dir (data and ``server.log``), its own session (a Ctrl-C on the
test run does not kill it before the sink under test), and is stopped with SIGTERM then SIGKILL.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO

from servers.common import ServerStartError, _LocalServer, _port_accepts, _tail, free_port


class ProcessServer(_LocalServer):
    """One child process listening on a free loopback port; ``ready`` decides when it serves requests."""

    #: Shown in messages and in ``describe()``, e.g. ``"noida-db (Elasticsearch 8 API stand-in)"``.
    label = "server"

    def __init__(self, base_tmpdir: str | os.PathLike[str] | None = None) -> None:
        super().__init__(base_tmpdir)
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    # -- what subclasses provide ----------------------------------------------------------------------------

    def command(self, port: int, tmpdir: Path) -> Sequence[str]:
        """The argv that starts the server on ``port`` with its files under ``tmpdir``."""
        raise NotImplementedError

    def ready(self) -> bool:
        """True once the server answers a real request (called after the port accepts connections)."""
        return True

    def environment(self) -> dict[str, str] | None:
        """The child's environment; None (the default) inherits this process's."""
        return None

    # -- lifecycle ------------------------------------------------------------------------------------------

    @property
    def logfile(self) -> Path:
        """The child's combined stdout/stderr."""
        if self._tmpdir is None:
            raise self._not_started()
        return self._tmpdir / "server.log"

    @property
    def running(self) -> bool:
        """True while the child process is alive."""
        return self._proc is not None and self._proc.poll() is None

    def start(self, timeout: float = 60.0, *, attempts: int = 3) -> ProcessServer:
        """Start the child on a free port and wait until ``ready()``; return ``self``.

        :raises ServerStartError: if the process dies or is not ready within ``timeout`` seconds (after
            ``attempts`` tries with fresh ports when it died early, e.g. because the port was taken).
        """
        if self._proc is not None:
            raise RuntimeError(f"{type(self).__name__} is already running")
        tmpdir = self._make_tmpdir(f"cdc-{type(self).__name__.lower()}-")
        try:
            for attempt in range(1, max(1, attempts) + 1):
                port = free_port()
                self._log = self.logfile.open("ab")
                self._proc = subprocess.Popen(
                    list(self.command(port, tmpdir)),
                    stdin=subprocess.DEVNULL,
                    stdout=self._log,
                    stderr=subprocess.STDOUT,
                    cwd=tmpdir,
                    env=self.environment(),
                    start_new_session=True,
                )
                self._port = port
                try:
                    self._wait(timeout, self._port_open)
                    self._wait(timeout, self.ready)
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
        """Terminate the child and delete its temp dir; safe to call more than once."""
        self._terminate()
        self._remove_tmpdir()

    def __enter__(self) -> ProcessServer:
        if self._proc is None:
            self.start()
        return self

    @staticmethod
    def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)

    def _port_open(self) -> bool:
        return _port_accepts(self.host, self.port)

    def _wait(self, timeout: float, condition: Callable[[], bool]) -> None:
        deadline = time.monotonic() + timeout
        while True:
            assert self._proc is not None
            if self._proc.poll() is not None:
                raise ServerStartError(
                    f"{self.label} exited with {self._proc.returncode}; log tail:\n{_tail(self.logfile)}"
                )
            if condition():
                return
            if time.monotonic() > deadline:
                raise ServerStartError(f"{self.label} not ready within {timeout}s; log tail:\n{_tail(self.logfile)}")
            time.sleep(0.1)

    def _terminate(self) -> None:
        # The child leads its own session (start_new_session): signal the whole process group, because some
        # launchers (the ``noida-db`` entry point) run the real server as a grandchild that would outlive them.
        proc = self._proc
        if proc is not None:
            self._signal_group(proc, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._signal_group(proc, signal.SIGKILL)
                proc.wait(timeout=10)
            self._signal_group(proc, signal.SIGKILL)  # grandchildren still in the group
            self._proc = None
        if self._log is not None:
            self._log.close()
            self._log = None


def http_ok(url: str, timeout: float = 2.0) -> bool:
    """True when ``GET url`` answers 200 (readiness probe of the HTTP stand-ins)."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False

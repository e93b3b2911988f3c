"""OpenSearch for tests and benchmarks: a real cluster from ``OPENSEARCH_URL``, else ``osmem-server``.

``osmem-server`` (PyPI, in the ``dev`` extra) bundles an in-memory OpenSearch-compatible server binary, run here as
``osmem-server -addr 127.0.0.1:P -no-stdin-watch``.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from servers.common import ServerStartError
from servers.elasticsearch import ExternalSearch
from servers.process import ProcessServer, http_ok

ENV_OPENSEARCH_URL = "OPENSEARCH_URL"


class OpenSearchUnavailableError(ServerStartError):
    """Neither ``OPENSEARCH_URL`` nor ``osmem-server`` is available."""


def _find_osmem() -> str | None:
    import importlib.util

    spec = importlib.util.find_spec("osmem_server")
    if spec is None or spec.origin is None:
        return None
    binary = Path(spec.origin).parent / "bin" / "osmem-server"
    if not binary.is_file():
        return None
    if not os.access(binary, os.X_OK):
        # Wheels do not always keep the executable bit of bundled binaries.
        with contextlib.suppress(OSError):
            binary.chmod(binary.stat().st_mode | 0o111)
    return str(binary) if os.access(binary, os.X_OK) else None


class OsmemOpenSearch(ProcessServer):
    """``osmem-server`` on a free loopback port."""

    label = "osmem-server"
    is_standin = True
    description = "osmem-server (OpenSearch API stand-in, PyPI)"

    def __init__(self, binary: str, base_tmpdir: str | os.PathLike[str] | None = None) -> None:
        super().__init__(base_tmpdir)
        self._binary = binary

    def command(self, port: int, tmpdir: Path) -> list[str]:
        return [self._binary, "-addr", f"{self.host}:{port}", "-no-stdin-watch"]

    def ready(self) -> bool:
        return http_ok(self.url)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


def open_opensearch(base_tmpdir: str | os.PathLike[str] | None = None) -> ExternalSearch | OsmemOpenSearch:
    """A started OpenSearch endpoint (``OPENSEARCH_URL`` or ``osmem-server``); the caller stops it.

    :raises OpenSearchUnavailableError: with the reason when neither is available.
    """
    url = os.environ.get(ENV_OPENSEARCH_URL)
    if url:
        return ExternalSearch(url, "OpenSearch (OPENSEARCH_URL)")
    binary = _find_osmem()
    if binary is None:
        raise OpenSearchUnavailableError(
            f"no OpenSearch: set {ENV_OPENSEARCH_URL}, or install osmem-server (pip install -e '.[dev]')"
        )
    server = OsmemOpenSearch(binary, base_tmpdir)
    server.start()
    return server

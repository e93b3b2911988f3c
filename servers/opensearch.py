"""OpenSearch for tests and benchmarks: a real cluster from ``OPENSEARCH_URL``, else ``osmem-server``.

``osmem-server`` (PyPI, in the ``dev`` extra) bundles an in-memory OpenSearch-compatible server binary, run here as
``osmem-server -addr 127.0.0.1:P -no-stdin-watch``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
from pathlib import Path

from servers.common import ServerStartError
from servers.search import ExternalSearch, SearchStandin, open_search

ENV_OPENSEARCH_URL = "OPENSEARCH_URL"


class OpenSearchUnavailableError(ServerStartError):
    """Neither ``OPENSEARCH_URL`` nor ``osmem-server`` is available."""


def _find_osmem() -> str | None:
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


class OsmemOpenSearch(SearchStandin):
    """``osmem-server`` on a free loopback port."""

    label = "osmem-server"
    description = "osmem-server (OpenSearch API stand-in, PyPI)"

    def command(self, port: int, tmpdir: Path) -> list[str]:
        return [self._binary, "-addr", f"{self.host}:{port}", "-no-stdin-watch"]


def open_opensearch(base_tmpdir: str | os.PathLike[str] | None = None) -> ExternalSearch | OsmemOpenSearch:
    """A started OpenSearch endpoint (``OPENSEARCH_URL`` or ``osmem-server``); the caller stops it.

    :raises OpenSearchUnavailableError: with the reason when neither is available.
    """
    return open_search(
        env=ENV_OPENSEARCH_URL,
        kind="OpenSearch",
        find_binary=_find_osmem,
        standin=OsmemOpenSearch,
        unavailable=OpenSearchUnavailableError,
        install_hint="install osmem-server (pip install -e '.[dev]')",
        base_tmpdir=base_tmpdir,
    )

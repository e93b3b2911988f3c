"""Elasticsearch for tests, demo and benchmarks: a real cluster from ``ELASTICSEARCH_URL``, else ``noida-db``.

``noida-db`` (PyPI, in the ``dev`` extra) serves an Elasticsearch 8 REST API from one binary:
``noida-db start --data-dir DIR --only elasticsearch --elasticsearch-port P`` (it prints a GLIBC warning and runs).
Known deviations from a real cluster, which the tests allow for: a bulk delete of a missing document reports
``errors: true``; a delete with an external version leaves no version marker (a real cluster keeps one for
``index.gc_deletes``, 60 s by default), so an older re-index after a delete is accepted.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from servers.common import ServerStartError
from servers.process import ProcessServer, http_ok

ENV_ELASTICSEARCH_URL = "ELASTICSEARCH_URL"


class ElasticsearchUnavailableError(ServerStartError):
    """Neither ``ELASTICSEARCH_URL`` nor ``noida-db`` is available."""


class ExternalSearch:
    """A real cluster given by URL; not started or stopped here."""

    is_standin = False

    def __init__(self, url: str, description: str) -> None:
        self.url = url
        self.description = description

    def start(self) -> ExternalSearch:
        return self

    def stop(self) -> None:
        """Nothing to stop: the cluster is not ours."""


def _find_noida() -> str | None:
    import sys

    beside = Path(sys.executable).parent / "noida-db"
    if beside.is_file():
        return str(beside)
    return shutil.which("noida-db")


class NoidaElasticsearch(ProcessServer):
    """``noida-db`` serving only its Elasticsearch 8 API on a free loopback port, data in a temp dir."""

    label = "noida-db"
    is_standin = True
    description = "noida-db (Elasticsearch 8 API stand-in, PyPI)"

    def __init__(self, binary: str, base_tmpdir: str | os.PathLike[str] | None = None) -> None:
        super().__init__(base_tmpdir)
        self._binary = binary

    def command(self, port: int, tmpdir: Path) -> list[str]:
        return [
            self._binary,
            "start",
            "--data-dir",
            str(tmpdir / "data"),
            "--only",
            "elasticsearch",
            "--elasticsearch-port",
            str(port),
        ]

    def ready(self) -> bool:
        return http_ok(self.url)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


def open_elasticsearch(base_tmpdir: str | os.PathLike[str] | None = None) -> ExternalSearch | NoidaElasticsearch:
    """A started Elasticsearch endpoint (``ELASTICSEARCH_URL`` or ``noida-db``); the caller stops it.

    :raises ElasticsearchUnavailableError: with the reason when neither is available.
    """
    url = os.environ.get(ENV_ELASTICSEARCH_URL)
    if url:
        return ExternalSearch(url, "Elasticsearch (ELASTICSEARCH_URL)")
    binary = _find_noida()
    if binary is None:
        raise ElasticsearchUnavailableError(
            f"no Elasticsearch: set {ENV_ELASTICSEARCH_URL}, or install noida-db (pip install -e '.[dev]')"
        )
    server = NoidaElasticsearch(binary, base_tmpdir)
    server.start()
    return server

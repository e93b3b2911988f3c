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
import sys
from pathlib import Path

from servers.common import ServerStartError
from servers.search import ExternalSearch, SearchStandin, open_search

ENV_ELASTICSEARCH_URL = "ELASTICSEARCH_URL"

__all__ = [
    "ENV_ELASTICSEARCH_URL",
    "ElasticsearchUnavailableError",
    "ExternalSearch",
    "NoidaElasticsearch",
    "open_elasticsearch",
]


class ElasticsearchUnavailableError(ServerStartError):
    """Neither ``ELASTICSEARCH_URL`` nor ``noida-db`` is available."""


def _find_noida() -> str | None:
    beside = Path(sys.executable).parent / "noida-db"
    if beside.is_file():
        return str(beside)
    return shutil.which("noida-db")


class NoidaElasticsearch(SearchStandin):
    """``noida-db`` serving only its Elasticsearch 8 API on a free loopback port, data in a temp dir."""

    label = "noida-db"
    description = "noida-db (Elasticsearch 8 API stand-in, PyPI)"

    def command(self, port: int, tmpdir: Path) -> list[str]:
        data = str(tmpdir / "data")
        return [self._binary, "start", "--data-dir", data, "--only", "elasticsearch", "--elasticsearch-port", str(port)]


def open_elasticsearch(base_tmpdir: str | os.PathLike[str] | None = None) -> ExternalSearch | NoidaElasticsearch:
    """A started Elasticsearch endpoint (``ELASTICSEARCH_URL`` or ``noida-db``); the caller stops it.

    :raises ElasticsearchUnavailableError: with the reason when neither is available.
    """
    return open_search(
        env=ENV_ELASTICSEARCH_URL,
        kind="Elasticsearch",
        find_binary=_find_noida,
        standin=NoidaElasticsearch,
        unavailable=ElasticsearchUnavailableError,
        install_hint="install noida-db (pip install -e '.[dev]')",
        base_tmpdir=base_tmpdir,
    )

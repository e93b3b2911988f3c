"""What the Elasticsearch and OpenSearch launchers share: a real cluster from an environment variable, else a
stand-in binary started on a free loopback port (:mod:`servers.elasticsearch`, :mod:`servers.opensearch`)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from servers.common import ServerStartError
from servers.process import ProcessServer, http_ok


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


class SearchStandin(ProcessServer):
    """A stand-in binary serving a search REST API over HTTP; subclasses give ``command``, ``label`` and
    ``description``."""

    is_standin = True

    def __init__(self, binary: str, base_tmpdir: str | os.PathLike[str] | None = None) -> None:
        super().__init__(base_tmpdir)
        self._binary = binary

    def command(self, port: int, tmpdir: Path) -> list[str]:
        raise NotImplementedError

    def ready(self) -> bool:
        return http_ok(self.url)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


_S = TypeVar("_S", bound=SearchStandin)


def open_search(
    *,
    env: str,
    kind: str,
    find_binary: Callable[[], str | None],
    standin: type[_S],
    unavailable: type[ServerStartError],
    install_hint: str,
    base_tmpdir: str | os.PathLike[str] | None,
) -> ExternalSearch | _S:
    """``$env`` as an :class:`ExternalSearch`, else the started stand-in; the caller stops it.

    :raises ServerStartError: ``unavailable`` (with how to get one) when neither exists, or the stand-in failed.
    """
    url = os.environ.get(env)
    if url:
        return ExternalSearch(url, f"{kind} ({env})")
    binary = find_binary()
    if binary is None:
        raise unavailable(f"no {kind}: set {env}, or {install_hint}")
    server = standin(binary, base_tmpdir)
    server.start()
    return server

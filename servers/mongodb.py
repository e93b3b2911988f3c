"""MongoDB for tests, demo and benchmarks: a real server from ``MONGODB_URI``, else the wire-protocol stand-in.

No MongoDB server can be installed on the development machines. :func:`open_mongodb` therefore returns, in order:

1. :class:`ExternalMongo` when ``MONGODB_URI`` is set (a real ``mongod``; nothing is started or stopped);
2. :class:`MongoStandin`: ``mongodb-standin.py`` from the shared tools directory (``../shared/tools/mongodb-standin``
   next to the checkout, or ``$CDC_MONGODB_STANDIN``), an in-memory server speaking the MongoDB wire protocol like a
   standalone ``mongod`` 7.0 without auth, started on a free port;
3. neither: :class:`MongoUnavailableError`, whose message says why (tests turn it into a visible skip).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from servers.common import ServerStartError
from servers.process import ProcessServer

ENV_MONGODB_URI = "MONGODB_URI"
ENV_MONGODB_STANDIN = "CDC_MONGODB_STANDIN"


class MongoUnavailableError(ServerStartError):
    """Neither ``MONGODB_URI`` nor the stand-in script is available."""


class MongoEndpoint:
    """What users of a MongoDB server rely on: a connection URI and a description of what runs there."""

    uri: str
    description: str
    is_standin: bool


def find_standin() -> Path | None:
    """The stand-in script: ``$CDC_MONGODB_STANDIN``, else ``shared/tools/mongodb-standin/`` beside the checkout."""
    configured = os.environ.get(ENV_MONGODB_STANDIN)
    if configured:
        return Path(configured) if Path(configured).is_file() else None
    here = Path(__file__).resolve()
    # Beside the checkout (../shared), or the workplace's shared tools directory when CI clones elsewhere.
    for parent in (*here.parents, Path("/work")):
        candidate = parent / "shared" / "tools" / "mongodb-standin" / "mongodb-standin.py"
        if candidate.is_file():
            return candidate
    return None


class ExternalMongo(MongoEndpoint):
    """A real MongoDB given by ``MONGODB_URI``; not started or stopped here."""

    is_standin = False

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self.description = "MongoDB (MONGODB_URI)"

    def start(self) -> ExternalMongo:
        return self

    def stop(self) -> None:
        """Nothing to stop: the server is not ours."""


class MongoStandin(ProcessServer, MongoEndpoint):
    """The in-memory MongoDB wire-protocol stand-in on a free loopback port."""

    label = "mongodb-standin"
    is_standin = True
    description = "mongodb-standin (MongoDB wire-protocol stand-in, ../shared/tools/mongodb-standin)"

    def __init__(self, script: Path, base_tmpdir: str | os.PathLike[str] | None = None) -> None:
        super().__init__(base_tmpdir)
        self._script = script

    def command(self, port: int, tmpdir: Path) -> list[str]:
        return [sys.executable, str(self._script), "--port", str(port)]

    def ready(self) -> bool:
        import pymongo
        from pymongo.errors import PyMongoError

        try:
            client: pymongo.MongoClient[dict[str, object]]
            with pymongo.MongoClient(self.uri, serverSelectionTimeoutMS=1000) as client:
                client.admin.command("ping")
            return True
        except PyMongoError:
            return False

    @property
    def uri(self) -> str:  # type: ignore[override]
        return f"mongodb://{self.host}:{self.port}/?directConnection=true"


def open_mongodb(base_tmpdir: str | os.PathLike[str] | None = None) -> ExternalMongo | MongoStandin:
    """A started MongoDB endpoint (see the module docstring); the caller stops it.

    :raises MongoUnavailableError: with the reason when neither a real server nor the stand-in is available.
    :raises ServerStartError: when the stand-in fails to start.
    """
    uri = os.environ.get(ENV_MONGODB_URI)
    if uri:
        return ExternalMongo(uri)
    script = find_standin()
    if script is None:
        raise MongoUnavailableError(
            f"no MongoDB: set {ENV_MONGODB_URI} to a real server, or provide the stand-in "
            f"(shared/tools/mongodb-standin/mongodb-standin.py beside the checkout, or ${ENV_MONGODB_STANDIN})"
        )
    server = MongoStandin(script, base_tmpdir)
    server.start()
    return server

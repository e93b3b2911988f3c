"""A TLS-terminating TCP proxy (optionally demanding HTTP basic auth) in front of a stand-in that speaks neither.

The MongoDB stand-in, ``noida-db`` and ``osmem-server`` listen on plain TCP without authentication. To exercise the
sinks' TLS and credential options over the wire with the real clients (pymongo ``tls=true&tlsCAFile=…``,
elasticsearch-py / opensearch-py ``https://`` with ``elastic.https.ssl.truststore.location``), tests put this proxy
in front of them:

- :func:`servers.tls.make_pki` writes the throwaway certificates (CA, server, client with an encrypted key, and an
  unrelated CA for "wrong CA" tests);
- :class:`TlsProxy` accepts TLS on a free loopback port and pipes the plaintext to the upstream server, both ways,
  one upstream connection per client connection. With ``basic_auth=(user, password)`` it reads the HTTP/1.1
  requests it forwards (head + ``Content-Length`` body) and answers a request without those credentials with
  Elasticsearch's 401 ``security_exception``, as a secured cluster does; responses are piped unchanged. With
  ``require_client_cert`` it accepts only clients presenting a certificate signed by the CA (mutual TLS).

Runs on an asyncio loop in a daemon thread; ``stop()`` is idempotent. Not a general proxy: no chunked request
bodies (the Python clients send ``Content-Length``), no pipelining.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ssl
import threading

from servers.common import _LOOPBACK, ServerStartError
from servers.tls import Pki

_UNAUTHORIZED_BODY = (
    b'{"error":{"root_cause":[{"type":"security_exception","reason":"unable to authenticate user for REST request",'
    b'"header":{"WWW-Authenticate":"Basic realm=\\"security\\" charset=\\"UTF-8\\""}}],'
    b'"type":"security_exception","reason":"unable to authenticate user for REST request",'
    b'"header":{"WWW-Authenticate":"Basic realm=\\"security\\" charset=\\"UTF-8\\""}},"status":401}'
)


async def _drain(tasks: set[asyncio.Task[None]]) -> None:
    await asyncio.gather(*tasks, return_exceptions=True)


class TlsProxy:
    """TLS on ``127.0.0.1:<port>`` → plaintext ``upstream_host:upstream_port`` (see the module docstring)."""

    def __init__(
        self,
        upstream_host: str,
        upstream_port: int,
        pki: Pki,
        basic_auth: tuple[str, str] | None = None,
        require_client_cert: bool = False,
    ) -> None:
        self._upstream = (upstream_host, upstream_port)
        self._context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._context.load_cert_chain(pki.server_cert, pki.server_key)
        if require_client_cert:  # mutual TLS: only clients with a certificate signed by the CA get through
            self._context.verify_mode = ssl.CERT_REQUIRED
            self._context.load_verify_locations(pki.ca_cert)
        self._expected_auth = (
            b"Basic " + base64.b64encode(f"{basic_auth[0]}:{basic_auth[1]}".encode()) if basic_auth else None
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0
        #: Requests answered 401 (wrong or missing credentials), for tests.
        self.rejected = 0
        #: TLS connections accepted, for tests.
        self.connections = 0

    @property
    def host(self) -> str:
        return _LOOPBACK

    @property
    def upstream(self) -> tuple[str, int]:
        """The plaintext server behind the proxy (for reading what the client wrote, bypassing TLS and auth)."""
        return self._upstream

    def start(self) -> TlsProxy:
        """Listen on a free loopback port; returns once it accepts connections."""
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                self._server = loop.run_until_complete(
                    asyncio.start_server(self._handle, _LOOPBACK, 0, ssl=self._context)
                )
                self.port = self._server.sockets[0].getsockname()[1]
            except OSError as exc:
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            loop.run_forever()
            self._server.close()
            # Drop the open connections: cancel their tasks and let them close their transports.
            tasks = asyncio.all_tasks(loop)
            for task in tasks:
                task.cancel()
            if tasks:
                loop.run_until_complete(_drain(tasks))
            loop.close()

        self._thread = threading.Thread(target=run, name="tls-proxy", daemon=True)
        self._thread.start()
        ready.wait(10)
        if failure or not self.port:
            raise ServerStartError(f"TLS proxy did not start: {failure[0] if failure else 'timeout'}")
        return self

    def stop(self) -> None:
        """Stop listening and drop the connections (idempotent)."""
        if self._loop is not None and self._thread is not None:
            with contextlib.suppress(RuntimeError):  # the loop is already closed
                self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._loop = None
            self._thread = None

    def __enter__(self) -> TlsProxy:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- connections --------------------------------------------------------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            up_reader, up_writer = await asyncio.open_connection(*self._upstream)
        except OSError:
            writer.close()
            return
        upstream_to_client = asyncio.ensure_future(self._pipe(up_reader, writer))
        try:
            if self._expected_auth is None:
                await self._pipe(reader, up_writer)
            else:
                await self._http_requests(reader, writer, up_writer)
        finally:
            up_writer.close()
            upstream_to_client.cancel()
            with contextlib.suppress(Exception):
                writer.close()

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.CancelledError, ssl.SSLError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        with contextlib.suppress(Exception):
            writer.close()

    async def _http_requests(
        self, reader: asyncio.StreamReader, client: asyncio.StreamWriter, upstream: asyncio.StreamWriter
    ) -> None:
        """Forward whole requests that carry the expected credentials; answer others 401 and close."""
        with contextlib.suppress(OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ssl.SSLError):
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                authorization = b""
                for line in head.split(b"\r\n")[1:]:
                    field, _, value = line.partition(b":")
                    if field.strip().lower() == b"content-length":
                        length = int(value.strip())
                    elif field.strip().lower() == b"authorization":
                        authorization = value.strip()
                body = await reader.readexactly(length) if length else b""
                if authorization != self._expected_auth:
                    self.rejected += 1
                    client.write(
                        b"HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\n"
                        b'WWW-Authenticate: Basic realm="security" charset="UTF-8"\r\n'
                        + f"Content-Length: {len(_UNAUTHORIZED_BODY)}\r\nConnection: close\r\n\r\n".encode()
                        + _UNAUTHORIZED_BODY
                    )
                    await client.drain()
                    return
                upstream.write(head + body)
                await upstream.drain()

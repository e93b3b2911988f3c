"""A TCP proxy in front of a real server that a test (or a benchmark) can stall, cut and reset: network faults.

:class:`TcpProxy` listens on a free loopback port and forwards every connection to ``upstream``, one thread per
direction. The fault-injection suite (``tests/faults/``) points the engine at the proxy instead of the server and then:

- :meth:`TcpProxy.stall` stops moving bytes in both directions (connections stay open: a network that silently
  drops everything); :meth:`TcpProxy.resume` moves them again, nothing lost;
- :meth:`TcpProxy.reset` closes every open connection with a TCP RST on both sides (a NAT or firewall dropping its
  state, a cable pulled and reconnected);
- :meth:`TcpProxy.refuse` makes new connections fail (reset on accept) until called with ``False``: the server is
  unreachable. ``reset`` + ``refuse`` is a network cut.

Protocol-aware proxies subclass it and override :meth:`TcpProxy._forward_client` (see :mod:`servers.kafka_proxy`).
The proxy runs in the caller's process (daemon threads); it is a context manager and ``stop()`` is idempotent.
"""

from __future__ import annotations

import contextlib
import logging
import select
import socket
import struct
import threading
from types import TracebackType

from servers.common import _LOOPBACK

log = logging.getLogger("servers.proxy")

_CHUNK = 256 * 1024
_TICK_S = 0.1  # how often blocked pumps look at the stall / reset flags
_LINGER_RST = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends RST instead of FIN


class ProxyConnection:
    """One proxied client connection: the client's socket, the upstream socket, and a once-only close."""

    def __init__(self, client: socket.socket, upstream: socket.socket) -> None:
        self.client = client
        self.upstream = upstream
        self.dead = threading.Event()
        self._closed = False
        self._lock = threading.Lock()
        self.client_write_lock = threading.Lock()

    def close(self, rst: bool) -> None:
        """Close both sockets (with RST when ``rst``); called by whichever pump or ``reset`` gets there first."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self.dead.set()
        for sock in (self.client, self.upstream):
            with contextlib.suppress(OSError):
                if rst:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RST)
                else:
                    sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()


class TcpProxy:
    """Forwards ``127.0.0.1:<port>`` to ``upstream_host:upstream_port``; faults on demand (see module docstring)."""

    def __init__(self, upstream_host: str, upstream_port: int, listen_port: int = 0) -> None:
        """Prepare (but do not start) a proxy; ``listen_port=0`` picks a free port at ``start()``."""
        self.upstream = (upstream_host, upstream_port)
        self._listen_port = listen_port
        self._listener: socket.socket | None = None
        self._flowing = threading.Event()
        self._flowing.set()
        self._refusing = False
        self._stopped = threading.Event()
        self._conns: set[ProxyConnection] = set()
        self._lock = threading.Lock()
        self.accepted = 0  # connections accepted so far (refused ones included)
        self.resets = 0  # connections closed by reset()

    # -- lifecycle ---------------------------------------------------------------------------------------------

    def start(self) -> TcpProxy:
        """Bind the listening socket and start accepting; return ``self``. ``OSError`` if the port is taken."""
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((_LOOPBACK, self._listen_port))
        listener.listen(128)
        listener.settimeout(_TICK_S)
        self._listener = listener
        self._listen_port = listener.getsockname()[1]
        threading.Thread(target=self._accept_loop, name=f"proxy-accept-{self.port}", daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop accepting and close every connection (FIN, not RST). Safe to call more than once."""
        self._stopped.set()
        self._flowing.set()
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.close()
            self._listener = None
        for conn in self._snapshot():
            conn.close(rst=False)

    def __enter__(self) -> TcpProxy:
        """Start the proxy unless it is already listening."""
        return self if self._listener is not None else self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Stop the proxy."""
        self.stop()

    @property
    def host(self) -> str:
        """The address clients connect to (``127.0.0.1``)."""
        return _LOOPBACK

    @property
    def port(self) -> int:
        """The port clients connect to (known once started, or when given)."""
        return self._listen_port

    # -- faults ------------------------------------------------------------------------------------------------

    def stall(self) -> None:
        """Stop forwarding in both directions; connections stay open and bytes wait in the kernel buffers."""
        self._flowing.clear()

    def resume(self) -> None:
        """Forward again after :meth:`stall`; nothing sent meanwhile is lost."""
        self._flowing.set()

    @property
    def stalled(self) -> bool:
        """True between :meth:`stall` and :meth:`resume`."""
        return not self._flowing.is_set()

    def reset(self) -> int:
        """Close every open connection with a TCP RST to both ends; return how many were closed."""
        conns = self._snapshot()
        for conn in conns:
            conn.close(rst=True)
        with self._lock:
            self.resets += len(conns)
        return len(conns)

    def refuse(self, refusing: bool = True) -> None:
        """While ``refusing``, new connections are reset as soon as they are accepted (server unreachable)."""
        self._refusing = refusing

    @property
    def connections(self) -> int:
        """How many proxied connections are open now."""
        return len(self._snapshot())

    # -- internals ---------------------------------------------------------------------------------------------

    def _snapshot(self) -> list[ProxyConnection]:
        with self._lock:
            self._conns = {c for c in self._conns if not c.dead.is_set()}
            return list(self._conns)

    def _accept_loop(self) -> None:
        while not self._stopped.is_set():
            listener = self._listener
            if listener is None:
                return
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return  # listener closed by stop()
            self.accepted += 1
            if self._refusing:
                with contextlib.suppress(OSError):
                    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RST)
                    client.close()
                continue
            try:
                upstream = socket.create_connection(self.upstream, timeout=10)
            except OSError as exc:
                log.debug("proxy %s: upstream %s unreachable: %s", self.port, self.upstream, exc)
                with contextlib.suppress(OSError):
                    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RST)
                    client.close()
                continue
            for sock in (client, upstream):
                sock.settimeout(None)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = ProxyConnection(client, upstream)
            with self._lock:
                self._conns.add(conn)
            threading.Thread(target=self._pump, args=(conn, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(conn, False), daemon=True).start()

    def _recv(self, conn: ProxyConnection, sock: socket.socket) -> bytes | None:
        """The next chunk from ``sock`` once the proxy flows; None when the connection ended (EOF, reset, stop)."""
        while not conn.dead.is_set():
            if not self._flowing.wait(_TICK_S):
                continue
            try:
                readable, _, _ = select.select([sock], [], [], _TICK_S)
                if not readable:
                    continue
                data = sock.recv(_CHUNK)
            except (OSError, ValueError):  # ValueError: the socket was closed under select()
                return None
            return data or None
        return None

    def _send(self, conn: ProxyConnection, sock: socket.socket, data: bytes) -> bool:
        """Send ``data`` once the proxy flows; False when the connection ended."""
        while not self._flowing.wait(_TICK_S):
            if conn.dead.is_set():
                return False
        try:
            sock.sendall(data)
        except OSError:
            return False
        return True

    def _pump(self, conn: ProxyConnection, from_client: bool) -> None:
        try:
            if from_client:
                self._forward_client(conn)
            else:
                self._forward_upstream(conn)
        finally:
            conn.close(rst=False)

    def _forward_client(self, conn: ProxyConnection) -> None:
        """Client → upstream, byte for byte. Subclasses that understand the protocol override this."""
        while (data := self._recv(conn, conn.client)) is not None:
            if not self._send(conn, conn.upstream, data):
                return

    def _forward_upstream(self, conn: ProxyConnection) -> None:
        """Upstream → client, byte for byte."""
        while (data := self._recv(conn, conn.upstream)) is not None:
            with conn.client_write_lock:
                if not self._send(conn, conn.client, data):
                    return

"""A Kafka-protocol-aware proxy: makes the broker refuse, or hold, produce requests to chosen topics.

Why a proxy: the fault-injection suite needs "the offsets topic's disk is unavailable while data flows", i.e. the
broker refusing produce requests to *one* topic while the others keep working. tansu (the broker we can run here)
has no per-topic fault switch, no ACLs to revoke and no disks to fill (it is memory-only), and pausing the whole
process stops every topic. A proxy that reads Kafka's framing can pick out the ``Produce`` requests for that topic
and answer them itself with ``KAFKA_STORAGE_ERROR`` (error 56, "disk error when trying to access log file",
which clients treat as retriable), exactly what a broker with a failed log directory answers. Everything else
passes through byte for byte.

The broker must advertise the proxy's address, otherwise clients learn the broker's real address from the
metadata and bypass the proxy after bootstrapping: start tansu with ``TansuBroker(advertised_port=proxy_port)``.

Modes, per topic (:meth:`KafkaProxy.refuse_produce`, :meth:`KafkaProxy.hold_produce`, :meth:`KafkaProxy.allow`):

- *refuse*: a Produce request whose topics are all refused is answered by the proxy with error 56 for every
  partition; the broker never sees it. (A request mixing refused and other topics is forwarded: no client here
  batches the offsets topic with data topics, and splitting requests is not worth it.)
- *hold*: a Produce request touching the topic is kept, with everything after it on that connection, until
  :meth:`release`; then it is forwarded. The suite uses it to kill the engine *during* an offset commit.

Responses keep the request order of their connection (Kafka clients rely on it): answers made up by the proxy
are queued behind the broker's answers to earlier requests. Supported Produce versions: 3 to 12 (record batches;
librdkafka 2.x uses them); other versions are forwarded unchanged and counted in ``unparsed``.
"""

from __future__ import annotations

import collections
import struct
import threading

from servers.proxy import ProxyConnection, TcpProxy

PRODUCE = 0
KAFKA_STORAGE_ERROR = 56
_FLEXIBLE_FROM = 9  # Produce v9+ uses compact types and tagged fields (KIP-482)


class _Reader:
    """Cursor over a request body: just the primitive types the Produce request needs."""

    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data = data
        self.pos = pos

    def int16(self) -> int:
        (value,) = struct.unpack_from(">h", self.data, self.pos)
        self.pos += 2
        return int(value)

    def int32(self) -> int:
        (value,) = struct.unpack_from(">i", self.data, self.pos)
        self.pos += 4
        return int(value)

    def uvarint(self) -> int:
        shift = result = 0
        while True:
            byte = self.data[self.pos]
            self.pos += 1
            result |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return result
            shift += 7

    def skip(self, n: int) -> None:
        self.pos += max(0, n)

    def string(self, flexible: bool) -> str | None:
        n = self.uvarint() - 1 if flexible else self.int16()
        if n < 0:
            return None
        value = self.data[self.pos : self.pos + n].decode()
        self.pos += n
        return value

    def array_len(self, flexible: bool) -> int:
        return self.uvarint() - 1 if flexible else self.int32()

    def bytes_len(self, flexible: bool) -> int:
        return self.uvarint() - 1 if flexible else self.int32()

    def tagged_fields(self) -> None:
        for _ in range(self.uvarint()):
            self.uvarint()  # tag
            self.skip(self.uvarint())


def _uvarint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


class ProduceRequest:
    """The parts of a Produce request (v3-v12) the proxy needs: correlation id, acks, topics and partitions."""

    def __init__(self, frame: bytes) -> None:
        """Parse ``frame`` (a request without its 4-byte length); ``ValueError`` for unsupported versions."""
        r = _Reader(frame)
        self.api_key = r.int16()
        self.version = r.int16()
        self.correlation_id = r.int32()
        if self.api_key != PRODUCE or not 3 <= self.version <= 12:
            raise ValueError(f"not a supported Produce request (api {self.api_key} v{self.version})")
        flexible = self.version >= _FLEXIBLE_FROM
        r.string(False)  # client_id: a plain nullable string even in flexible headers
        if flexible:
            r.tagged_fields()
        r.string(flexible)  # transactional_id
        self.acks = r.int16()
        r.int32()  # timeout_ms
        self.topics: dict[str, list[int]] = {}
        for _ in range(r.array_len(flexible)):
            name = r.string(flexible) or ""
            partitions = self.topics.setdefault(name, [])
            for _ in range(r.array_len(flexible)):
                partitions.append(r.int32())
                r.skip(r.bytes_len(flexible))  # the record batch
                if flexible:
                    r.tagged_fields()
            if flexible:
                r.tagged_fields()
        self.flexible = flexible

    def error_response(self, error_code: int) -> bytes:
        """The framed Produce response giving ``error_code`` for every partition of the request."""
        flexible, v = self.flexible, self.version
        out = bytearray(struct.pack(">i", self.correlation_id))
        if flexible:
            out += b"\x00"  # response header v1: no tagged fields
        out += _uvarint(len(self.topics) + 1) if flexible else struct.pack(">i", len(self.topics))
        for name, partitions in self.topics.items():
            encoded = name.encode()
            out += _uvarint(len(encoded) + 1) if flexible else struct.pack(">h", len(encoded))
            out += encoded
            out += _uvarint(len(partitions) + 1) if flexible else struct.pack(">i", len(partitions))
            for index in partitions:
                out += struct.pack(">ihq", index, error_code, -1)  # index, error_code, base_offset
                out += struct.pack(">q", -1)  # log_append_time_ms (v2+)
                out += struct.pack(">q", -1)  # log_start_offset (v5+)
                if v >= 8:
                    out += _uvarint(1) if flexible else struct.pack(">i", 0)  # record_errors: empty
                    out += _uvarint(0) if flexible else struct.pack(">h", -1)  # error_message: null
                if flexible:
                    out += b"\x00"
            if flexible:
                out += b"\x00"
        out += struct.pack(">i", 0)  # throttle_time_ms
        if flexible:
            out += b"\x00"
        return struct.pack(">i", len(out)) + bytes(out)


class _Ordered:
    """Per-connection response order: broker answers and made-up answers leave in request order."""

    def __init__(self) -> None:
        self.pending: collections.deque[bytes | None] = collections.deque()  # None: the broker answers this one


class KafkaProxy(TcpProxy):
    """A :class:`TcpProxy` that understands Kafka framing and can refuse or hold Produce requests per topic."""

    def __init__(self, upstream_host: str, upstream_port: int, listen_port: int = 0) -> None:
        """Prepare (but do not start) a proxy to the broker at ``upstream_host:upstream_port``."""
        super().__init__(upstream_host, upstream_port, listen_port)
        self._refused: set[str] = set()
        self._held: set[str] = set()
        self._release = threading.Event()
        self._release.set()
        self.holding = threading.Event()  # set while a request is being held
        self.refused = 0  # Produce requests answered with KAFKA_STORAGE_ERROR
        self.held = 0  # Produce requests held
        self.unparsed = 0  # Produce requests of an unsupported version, forwarded unchanged
        self.forwarded: collections.Counter[str] = collections.Counter()  # Produce requests passed on, per topic
        self._order: dict[int, _Ordered] = {}
        self._order_lock = threading.Lock()

    @property
    def bootstrap_servers(self) -> str:
        """``host:port`` of the proxy, for ``bootstrap.servers``."""
        return f"{self.host}:{self.port}"

    def refuse_produce(self, topic: str) -> None:
        """From now on, answer Produce requests to ``topic`` with ``KAFKA_STORAGE_ERROR``."""
        self._refused.add(topic)

    def hold_produce(self, topic: str) -> None:
        """From now on, hold the next Produce request to ``topic`` (and its connection) until :meth:`release`."""
        self._release.clear()
        self._held.add(topic)

    def allow(self, topic: str) -> None:
        """Stop refusing ``topic`` (held requests stay held until :meth:`release`)."""
        self._refused.discard(topic)
        self._held.discard(topic)

    def release(self) -> None:
        """Forward held requests and stop holding."""
        self._held.clear()
        self._release.set()

    def _ordered(self, conn: ProxyConnection) -> _Ordered:
        with self._order_lock:
            return self._order.setdefault(id(conn), _Ordered())

    def _forward_client(self, conn: ProxyConnection) -> None:
        order = self._ordered(conn)
        buffer = bytearray()
        while (data := self._recv(conn, conn.client)) is not None:
            buffer += data
            while len(buffer) >= 4:
                (size,) = struct.unpack_from(">i", buffer)
                if len(buffer) < 4 + size:
                    break
                frame = bytes(buffer[: 4 + size])
                del buffer[: 4 + size]
                if not self._handle_request(conn, order, frame):
                    return

    def _handle_request(self, conn: ProxyConnection, order: _Ordered, frame: bytes) -> bool:
        """Forward, hold or answer one request; False when the connection ended."""
        body = frame[4:]
        (api_key,) = struct.unpack_from(">h", body)
        request: ProduceRequest | None = None
        if api_key == PRODUCE:
            try:
                request = ProduceRequest(body)
            except (ValueError, struct.error, IndexError, UnicodeDecodeError):
                self.unparsed += 1
        if request is not None:
            topics = set(request.topics)
            if topics and topics <= self._refused:
                self.refused += 1
                answer = request.error_response(KAFKA_STORAGE_ERROR) if request.acks != 0 else None
                if answer is not None:
                    self._queue_answer(conn, order, answer)
                return True
            if topics & self._held:
                self.held += 1
                self.holding.set()
                while not self._release.wait(0.1):
                    if conn.dead.is_set():
                        break  # the client is gone: forward anyway, as a broker would still process it
                self.holding.clear()
        if request is not None:
            self.forwarded.update(request.topics.keys())
        expects_answer = request is None or request.acks != 0
        if expects_answer:
            with conn.client_write_lock:
                order.pending.append(None)
        return self._send(conn, conn.upstream, frame)

    def _queue_answer(self, conn: ProxyConnection, order: _Ordered, answer: bytes) -> None:
        with conn.client_write_lock:
            order.pending.append(answer)
            self._flush_answers(conn, order)

    def _flush_answers(self, conn: ProxyConnection, order: _Ordered) -> None:
        """Send made-up answers at the head of the queue (caller holds ``client_write_lock``)."""
        while order.pending and order.pending[0] is not None:
            answer = order.pending.popleft()
            assert answer is not None
            if not self._send(conn, conn.client, answer):
                return

    def _forward_upstream(self, conn: ProxyConnection) -> None:
        order = self._ordered(conn)
        buffer = bytearray()
        try:
            while (data := self._recv(conn, conn.upstream)) is not None:
                buffer += data
                while len(buffer) >= 4:
                    (size,) = struct.unpack_from(">i", buffer)
                    if len(buffer) < 4 + size:
                        break
                    frame = bytes(buffer[: 4 + size])
                    del buffer[: 4 + size]
                    with conn.client_write_lock:
                        if order.pending:
                            order.pending.popleft()  # the broker's answer to the oldest forwarded request
                        if not self._send(conn, conn.client, frame):
                            return
                        self._flush_answers(conn, order)
        finally:
            with self._order_lock:
                self._order.pop(id(conn), None)

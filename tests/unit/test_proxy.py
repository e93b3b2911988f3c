"""The fault-injection proxies without a real server: a loopback echo server behind TcpProxy, and the Produce
request parser/answer of KafkaProxy on hand-built frames."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from collections.abc import Iterator

import pytest

from servers.kafka_proxy import KAFKA_STORAGE_ERROR, ProduceRequest
from servers.proxy import TcpProxy


@pytest.fixture
def echo_port() -> Iterator[int]:
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve(conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):  # the proxy's reset reaches the server too
            while data := conn.recv(4096):
                conn.sendall(data)

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return  # closed at teardown
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    yield listener.getsockname()[1]
    stop.set()
    listener.close()


def _connect(proxy: TcpProxy) -> socket.socket:
    sock = socket.create_connection((proxy.host, proxy.port), timeout=2)
    sock.settimeout(2)
    return sock


def test_stall_resume_reset_refuse(echo_port: int) -> None:
    with TcpProxy("127.0.0.1", echo_port) as proxy, _connect(proxy) as sock:
        sock.sendall(b"hello")
        assert sock.recv(100) == b"hello"

        proxy.stall()
        sock.sendall(b"held")
        sock.settimeout(0.5)
        with pytest.raises(TimeoutError):
            sock.recv(100)
        proxy.resume()
        sock.settimeout(2)
        assert sock.recv(100) == b"held"  # nothing sent during the stall is lost

        assert proxy.reset() == 1
        with pytest.raises(ConnectionResetError):
            sock.sendall(b"x")
            sock.recv(100)

        proxy.refuse(True)
        with pytest.raises((ConnectionResetError, BrokenPipeError)), _connect(proxy) as refused:
            refused.sendall(b"x")
            if refused.recv(100) == b"":
                raise ConnectionResetError
        proxy.refuse(False)
        with _connect(proxy) as again:
            again.sendall(b"back")
            assert again.recv(100) == b"back"


def _string(text: str, flexible: bool) -> bytes:
    data = text.encode()
    return (bytes([len(data) + 1]) if flexible else struct.pack(">h", len(data))) + data


@pytest.mark.parametrize("version", [7, 10])
def test_produce_request_parse_and_error_answer(version: int) -> None:
    flexible = version >= 9
    body = struct.pack(">hhi", 0, version, 42) + struct.pack(">h", 3) + b"cli"
    if flexible:
        body += b"\x00"  # header tagged fields
    body += b"\x00" if flexible else struct.pack(">h", -1)  # transactional_id: null
    body += struct.pack(">hi", -1, 30000)  # acks=all, timeout
    body += b"\x02" if flexible else struct.pack(">i", 1)  # one topic
    body += _string("connect-offsets", flexible)
    body += b"\x03" if flexible else struct.pack(">i", 2)  # two partitions
    for index in (0, 4):
        records = b"R" * 10
        body += struct.pack(">i", index)
        body += (bytes([len(records) + 1]) if flexible else struct.pack(">i", len(records))) + records
        if flexible:
            body += b"\x00"
    if flexible:
        body += b"\x00\x00"  # topic and request tagged fields

    request = ProduceRequest(body)
    assert (request.version, request.correlation_id, request.acks) == (version, 42, -1)
    assert request.topics == {"connect-offsets": [0, 4]}

    answer = request.error_response(KAFKA_STORAGE_ERROR)
    (size,) = struct.unpack_from(">i", answer)
    assert size == len(answer) - 4
    assert struct.unpack_from(">i", answer, 4) == (42,)
    # Both partitions carry error 56 right after their index.
    assert struct.pack(">ih", 0, KAFKA_STORAGE_ERROR) in answer
    assert struct.pack(">ih", 4, KAFKA_STORAGE_ERROR) in answer

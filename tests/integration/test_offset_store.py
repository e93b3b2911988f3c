"""The offsets topic read at every start, against tansu: it must finish while another engine keeps committing.

Before ``cdc/kafka/reading.py`` stopped at the high watermark taken when the read began, a read of a partition
appended to every 200 ms waited for an end-of-partition event that never came and timed out after 30 s.
"""

from __future__ import annotations

import threading
import time

from cdc.kafka.offset_store import OffsetStore
from servers import KafkaEndpoint


def test_read_finishes_while_another_client_commits_every_200_ms(kafka_broker: KafkaEndpoint) -> None:
    topic = f"offsets-busy-{time.monotonic_ns()}"
    writer = OffsetStore(kafka_broker.bootstrap_servers, topic, 1)
    writer.ensure_topic()
    acknowledged: list[int] = []
    stop = threading.Event()

    def commit_every_200_ms() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            writer.write("busy", "server", {"n": n})
            acknowledged.append(n)
            time.sleep(0.2)

    thread = threading.Thread(target=commit_every_200_ms, daemon=True)
    thread.start()
    try:
        time.sleep(1.5)
        for _ in range(3):
            before = acknowledged[-1]
            started = time.monotonic()
            stored = OffsetStore(kafka_broker.bootstrap_servers, topic, 1).read("busy", "server")
            took = time.monotonic() - started
            assert took < 10, f"read took {took:.1f} s"
            assert stored is not None
            # Everything acknowledged before the read began is seen; later commits may or may not be.
            assert stored["n"] >= before, (stored, before)
    finally:
        stop.set()
        thread.join(5)
        writer.close()

"""Reading partitions from given offsets up to their current end.

Kafka has no "read to the end" call: a consumer assigns the partitions and reads until each reports
end-of-partition (``enable.partition.eof``). The offsets store needs this at every start (read the whole offsets
topic, last value per key wins); tests and the benchmark use it to read change topics back. Watermarks are not
used, because tansu reports the high watermark of the last *batch* rather than of the last record.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

from confluent_kafka import Consumer, KafkaError, Message, TopicPartition

from cdc.errors import RetriableError


def end_reading_consumer(bootstrap: str, purpose: str, **extra: Any) -> Consumer:
    """A consumer for :func:`messages_to_end`: no group membership used, no commits, EOF events on."""
    config: dict[str, Any] = {
        "bootstrap.servers": bootstrap,
        # confluent-kafka requires a group.id even for assign(); a unique one never joins anything shared.
        "group.id": f"cdc-engine-{purpose}-{uuid.uuid4().hex}",
        "enable.auto.commit": False,
        "enable.partition.eof": True,
        **extra,
    }
    return Consumer(config)


def messages_to_end(
    consumer: Consumer, topic: str, starts: dict[int, int], timeout_s: float, batch: int = 10000
) -> Iterator[Message]:
    """Every message of ``topic`` from ``starts`` (partition → offset) to each partition's current end.

    Raises RetriableError on a consumer error or when ``timeout_s`` passes before every partition reached its end.
    """
    if not starts:
        return
    consumer.assign([TopicPartition(topic, p, offset) for p, offset in starts.items()])
    pending = set(starts)
    deadline = time.monotonic() + timeout_s
    while pending:
        if time.monotonic() > deadline:
            raise RetriableError(f"timed out reading {topic} to its end ({len(pending)} partition(s) left)")
        for msg in consumer.consume(batch, 0.5):
            err = msg.error()
            if err is None:
                yield msg
            elif err.code() == KafkaError._PARTITION_EOF:
                pending.discard(msg.partition())
            else:
                raise RetriableError(f"error reading {topic}: {err.str()}")

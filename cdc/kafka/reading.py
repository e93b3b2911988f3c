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

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

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
    """Every message of ``topic`` from ``starts`` (partition → offset) to each partition's end as of the call.

    A partition is finished when it reports end-of-partition, or when the reader has passed the high watermark
    it had when the read began and has emptied the local queue. The second rule matters
    while another client keeps appending: librdkafka reports end-of-partition only when a fetch comes back
    empty at the high watermark, which a partition written every 200 ms never does on tansu (its high watermark
    is the last batch's base offset + 1, never past the real end, so stopping after it loses nothing that was
    there when the read began, provided the rest of that last batch has been taken from the local queue too).

    Raises RetriableError on a consumer error or when ``timeout_s`` passes before every partition reached its end.
    """
    if not starts:
        return
    deadline = time.monotonic() + timeout_s
    ends = _high_watermarks(consumer, topic, starts, timeout_s)
    consumer.assign([TopicPartition(topic, p, offset) for p, offset in starts.items()])
    pending = set(starts)
    while pending:
        if time.monotonic() > deadline:
            raise RetriableError(f"timed out reading {topic} to its end ({len(pending)} partition(s) left)")
        messages = consumer.consume(batch, 0.5)
        passed: set[int] = set()  # partitions that reached the high watermark taken at the start
        for msg in messages:
            err = msg.error()
            partition = msg.partition()
            if partition not in pending:
                continue  # finished: what arrives now was written after the read began
            if err is None:
                offset = msg.offset()
                if offset is not None and offset + 1 >= ends.get(partition, _NO_END):
                    passed.add(partition)
                yield msg
            elif err.code() == KafkaError._PARTITION_EOF:
                pending.discard(partition)
            else:
                raise RetriableError(f"error reading {topic}: {err.str()}")
        if len(messages) < batch:
            # librdkafka queues a fetched batch whole, so a call that did not fill up emptied the local queue:
            # the rest of the batch holding the watermark's offset has been delivered.
            pending -= passed


_NO_END = 1 << 62


def _high_watermarks(consumer: Consumer, topic: str, starts: dict[int, int], timeout_s: float) -> dict[int, int]:
    """Each partition's high watermark now; partitions whose watermarks cannot be read are left out (EOF decides)."""
    ends: dict[int, int] = {}
    for partition in starts:
        try:
            _low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=min(timeout_s, 10))
        except KafkaException:
            continue
        ends[partition] = high
    return ends

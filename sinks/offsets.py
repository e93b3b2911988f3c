"""``cdc-engine offsets`` for sink connectors: the committed offsets of consumer group ``connect-<name>``."""

from __future__ import annotations

import json

from confluent_kafka import Consumer, KafkaException, TopicPartition

from cdc.config import EngineConfig
from cdc.errors import ConfigError, RetriableError
from sinks.runtime import consumer_settings


def print_sink_offsets(engine: EngineConfig, reset: bool = False) -> int:
    """Print ``{topic: {partition: offset}}`` for the group's subscribed topics; ``reset`` is refused for sinks."""
    if reset:
        raise ConfigError(
            ["offsets --reset: not supported for sink connectors; delete the consumer group connect-<name> instead"]
        )
    settings, _ = consumer_settings(engine)
    consumer = Consumer({**settings, "enable.partition.eof": False})
    try:
        metadata = consumer.list_topics(timeout=10)
        topics = engine.connector.topic_list()
        if engine.connector.topics_regex:
            import re

            pattern = re.compile(engine.connector.topics_regex)
            topics = sorted(t for t in metadata.topics if pattern.fullmatch(t))
        partitions = [
            TopicPartition(t, p) for t in topics if t in metadata.topics for p in sorted(metadata.topics[t].partitions)
        ]
        committed = consumer.committed(partitions, timeout=10) if partitions else []
    except KafkaException as exc:
        raise RetriableError(f"cannot read the offsets of group {settings['group.id']}: {exc}") from None
    finally:
        consumer.close()
    out: dict[str, dict[str, int | None]] = {}
    for tp in committed:
        out.setdefault(tp.topic, {})[str(tp.partition)] = tp.offset if tp.offset >= 0 else None
    print(json.dumps({"group": settings["group.id"], "offsets": out}, indent=2))
    return 0

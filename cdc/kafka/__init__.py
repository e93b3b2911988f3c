"""Kafka I/O: the record producer, the offsets topic, topic administration."""

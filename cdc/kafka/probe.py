"""Is the broker reachable? One question, one answer, for the one-shot commands (``validate``, ``offsets``).

librdkafka retries a down broker in the background and logs every attempt; a command that only wants to know
"can I talk to Kafka" would print hundreds of those lines before its own message. :func:`broker_problem` keeps
them out of the output and returns one sentence with the first cause librdkafka reported.
"""

from __future__ import annotations

import logging
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient

_SILENT = logging.getLogger("cdc.kafka.probe.librdkafka")
_SILENT.propagate = False
_SILENT.addHandler(logging.NullHandler())


def broker_problem(bootstrap_servers: str, timeout_s: float = 10.0) -> str | None:
    """None if a broker of ``bootstrap_servers`` answers a metadata request within ``timeout_s``, else why not."""
    causes: list[str] = []

    def on_error(err: KafkaError) -> None:
        if len(causes) < 1:
            causes.append(err.str())

    config: dict[str, Any] = {"bootstrap.servers": bootstrap_servers, "logger": _SILENT, "error_cb": on_error}
    try:
        AdminClient(config).list_topics(timeout=timeout_s)
    except KafkaException as exc:
        cause = causes[0] if causes else exc.args[0].str()
        return (
            f"cannot reach Kafka at {bootstrap_servers} within {timeout_s:.0f}s ({cause}); is the broker running? "
            "check worker bootstrap.servers"
        )
    return None


def quiet_librdkafka_logs() -> None:
    """For one-shot commands: librdkafka's own retry lines go away (they stay at --log-level DEBUG)."""
    librdkafka = logging.getLogger("cdc.kafka.librdkafka")
    if not librdkafka.isEnabledFor(logging.DEBUG):
        librdkafka.setLevel(logging.CRITICAL)

"""What happens to a record that fails: retries, ``errors.tolerance``, error logging and the dead-letter topic.

Kafka Connect's ``RetryWithToleranceOperator`` + ``LogReporter`` + ``DeadLetterQueueReporter`` in one place. The
sink runtime runs every per-record stage (key converter, value converter, transformation) through
:meth:`ErrorHandler.execute` and forwards records a sink rejects (``SinkContext.report``) to :meth:`report`:

- a ``RetriableError`` is retried with exponential backoff (300 ms doubling, at most ``errors.retry.delay.max.ms``)
  for up to ``errors.retry.timeout`` ms (0: no retries; -1: forever);
- any other failure, or a retriable one that outlasted the timeout, is *tolerated* under ``errors.tolerance=all``:
  logged when ``errors.log.enable``, written to ``errors.deadletterqueue.topic.name`` when set (original key, value
  and headers, plus ``__connect.errors.*`` context headers when enabled) and skipped; under ``none`` it raises
  :class:`ToleranceExceededError`, which stops the connector.

Dead letters are produced asynchronously; the runtime calls :meth:`flush` before it commits consumer offsets, so a
record's offset is never committed before its dead letter is acknowledged (no silent drop).
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar

from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from cdc.errors import FatalError, RetriableError
from schemas.record import Header
from sinks.config import SinkConnectorConfig

log = logging.getLogger("sinks.errors")

T = TypeVar("T")

# Connect's exception class for bad data; used in the exception header for our converter/transform errors, which
# are what Connect reports as DataException, so DLQ consumers matching on it keep working.
DATA_EXCEPTION = "org.apache.kafka.connect.errors.DataException"

HEADER_PREFIX = "__connect.errors."


class Stage(StrEnum):
    """Connect's ``Stage`` names, as written to ``__connect.errors.stage``."""

    KEY_CONVERTER = "KEY_CONVERTER"
    VALUE_CONVERTER = "VALUE_CONVERTER"
    HEADER_CONVERTER = "HEADER_CONVERTER"
    TRANSFORMATION = "TRANSFORMATION"
    TASK_PUT = "TASK_PUT"


class ToleranceExceededError(FatalError):
    """A record failed and ``errors.tolerance=none``: the connector stops (Connect: "Tolerance exceeded")."""


@dataclass(slots=True)
class RawRecord:
    """A consumed record exactly as it was on the broker (what a dead letter repeats)."""

    topic: str
    partition: int
    offset: int
    timestamp: int | None
    key: bytes | None
    value: bytes | None
    headers: list[Header] = field(default_factory=list)


def exception_class_name(exc: BaseException) -> str:
    """``__connect.errors.exception.class.name``: DataException for bad records, else the Python class."""
    from cdc.errors import SkippableRecordError

    if isinstance(exc, SkippableRecordError):
        return DATA_EXCEPTION
    cls = type(exc)
    return f"{cls.__module__}.{cls.__qualname__}"


class ErrorHandler:
    """One connector's error policy and dead-letter producer. Used from the runtime's worker thread only."""

    def __init__(
        self,
        connector_name: str,
        config: SinkConnectorConfig,
        bootstrap: str,
        producer_overrides: dict[str, str],
        stop: threading.Event,
    ) -> None:
        self.connector_name = connector_name
        self.config = config
        self.tolerate_all = config.errors_tolerance == "all"
        self.dlq_topic = config.errors_deadletterqueue_topic_name.strip() if self.tolerate_all else ""
        self._stop = stop
        self._bootstrap = bootstrap
        self._producer: Producer | None = None
        self._producer_overrides = producer_overrides
        self._delivery_failures: list[str] = []
        self.tolerated = 0  # records skipped (and dead-lettered when a topic is configured) so far

    # -- set-up -------------------------------------------------------------------------------------------------

    def start(self) -> None:
        """Create the dead-letter topic if it is configured and missing (as Connect does at task start)."""
        if not self.dlq_topic:
            return
        admin = AdminClient({"bootstrap.servers": self._bootstrap})
        try:
            metadata = admin.list_topics(timeout=10)
            if self.dlq_topic not in metadata.topics:
                rf = self.config.errors_deadletterqueue_topic_replication_factor
                futures = admin.create_topics([NewTopic(self.dlq_topic, num_partitions=1, replication_factor=rf)])
                for future in futures.values():
                    try:
                        future.result(15)
                    except KafkaException as exc:
                        if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                            raise
        except KafkaException as exc:
            raise RetriableError(f"cannot create dead-letter topic {self.dlq_topic}: {exc}") from None
        self._producer = Producer(
            {
                "bootstrap.servers": self._bootstrap,
                "acks": "all",
                "linger.ms": 5,
                "client.id": f"connector-dlq-producer-{self.connector_name}",
                **self._producer_overrides,
            }
        )

    # -- per-record stages --------------------------------------------------------------------------------------

    def execute(
        self, stage: Stage, executing_class: str, raw: RawRecord, operation: Callable[[], T]
    ) -> tuple[bool, T | None]:
        """Run one stage for one record: ``(True, result)``, or ``(False, None)`` when the record was tolerated.

        Raises ``ToleranceExceededError`` under ``errors.tolerance=none``.
        """
        deadline = self._retry_deadline()
        delay = 0.3
        while True:
            try:
                return True, operation()
            except RetriableError as exc:
                if self._stop.is_set() or (deadline is not None and time.monotonic() + delay > deadline):
                    self.report(stage, executing_class, raw, exc)
                    return False, None
                log.debug("retriable failure in %s, retrying in %.1fs: %s", stage, delay, exc)
                self._stop.wait(delay)
                delay = min(delay * 2, self.config.errors_retry_delay_max_ms / 1000)
            except ToleranceExceededError:
                raise
            except Exception as exc:  # noqa: BLE001 - a poison record must never stop the worker under tolerance=all
                self.report(stage, executing_class, raw, exc)
                return False, None

    def _retry_deadline(self) -> float | None:
        timeout = self.config.errors_retry_timeout
        if timeout < 0:
            return None
        return time.monotonic() + timeout / 1000

    # -- reporting ---------------------------------------------------------------------------------------------

    def report(self, stage: Stage, executing_class: str, raw: RawRecord, error: BaseException) -> None:
        """Log / dead-letter one failed record under ``all``; raise ``ToleranceExceededError`` under ``none``."""
        # The SMT chain's error names the failing transform's class (Connect reports that, not the chain).
        executing_class = str(getattr(error, "class_name", None) or executing_class)
        where = f"{{topic='{raw.topic}', partition={raw.partition}, offset={raw.offset}, timestamp={raw.timestamp}"
        if self.config.errors_log_include_messages:
            where += f", key={_preview(raw.key)}, value={_preview(raw.value)}"
        where += "}"
        message = (
            f"Error encountered in task {self.connector_name}-0. Executing stage '{stage}' with class "
            f"'{executing_class}', where consumed record is {where}: {type(error).__name__}: {error}"
        )
        if not self.tolerate_all:
            log.error("%s", message)
            raise ToleranceExceededError(
                f"Tolerance exceeded in error handler (errors.tolerance=none): stage {stage} failed for "
                f"{raw.topic}-{raw.partition}@{raw.offset}: {type(error).__name__}: {error}"
            ) from (error if isinstance(error, Exception) else None)
        self.tolerated += 1
        if self.config.errors_log_enable:
            log.warning("%s", message)
        if self.dlq_topic:
            self._dead_letter(stage, executing_class, raw, error)
        elif not self.config.errors_log_enable:
            # errors.tolerance=all with neither log nor DLQ is Connect's silent skip; keep a trace at INFO.
            log.info("skipped record %s-%d@%d (stage %s): %s", raw.topic, raw.partition, raw.offset, stage, error)

    def _dead_letter(self, stage: Stage, executing_class: str, raw: RawRecord, error: BaseException) -> None:
        assert self._producer is not None
        headers: list[tuple[str, bytes | None]] = list(raw.headers)
        if self.config.errors_deadletterqueue_context_headers_enable:
            context = {
                "topic": raw.topic,
                "partition": str(raw.partition),
                "offset": str(raw.offset),
                "connector.name": self.connector_name,
                "task.id": "0",
                "stage": str(stage),
                "class.name": executing_class,
                "exception.class.name": exception_class_name(error),
                "exception.message": str(error),
                "exception.stacktrace": "".join(traceback.format_exception(error)),
            }
            headers += [(HEADER_PREFIX + k, v.encode("utf-8")) for k, v in context.items()]
        kwargs: dict[str, Any] = {"headers": headers, "on_delivery": self._on_delivery}
        if raw.timestamp is not None:
            kwargs["timestamp"] = raw.timestamp
        while True:
            try:
                self._producer.produce(self.dlq_topic, raw.value, raw.key, **kwargs)
                break
            except BufferError:
                self._producer.poll(0.1)
        self._producer.poll(0)

    def _on_delivery(self, err: KafkaError | None, _msg: Any) -> None:
        if err is not None:
            self._delivery_failures.append(err.str())

    def flush(self, timeout_s: float) -> None:
        """Wait until every dead letter is acknowledged; ``RetriableError`` if one failed or time ran out.

        Called by the runtime right before it commits consumer offsets.
        """
        if self._producer is None:
            return
        remaining = self._producer.flush(timeout_s)
        if remaining or self._delivery_failures:
            failures, self._delivery_failures = self._delivery_failures, []
            raise RetriableError(
                f"dead-letter topic {self.dlq_topic}: {remaining} record(s) unacknowledged, "
                f"{len(failures)} failed ({'; '.join(failures[:3])})"
            )

    def close(self) -> None:
        """Flush what is pending (best effort) and release the producer."""
        if self._producer is not None:
            self._producer.flush(5)
            self._producer = None


def _preview(data: bytes | None, limit: int = 2000) -> str:
    if data is None:
        return "null"
    text = data[:limit].decode("utf-8", errors="replace")
    return text + ("…" if len(data) > limit else "")

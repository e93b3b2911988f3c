"""Runs one source connector: stored offset → source → producer → acknowledged → offset stored → source confirmed.

The loop is single-threaded on purpose: librdkafka does the network I/O on its own threads, and a Python queue
between reader and producer would only add copies. Its bounded queue *is* the pipeline's queue: when it is full,
``RecordProducer.send`` blocks and the source stops being read (backpressure), while the source connection is
kept alive through ``Source.keepalive``.

Offset commits happen every ``offset.flush.interval.ms``: the position of everything polled so far is taken,
the producer is flushed (all those records acknowledged), the offset record is written and acknowledged, and only
then does the source learn it may release data up to that position. A crash at any point therefore resumes from
a position whose events are all in Kafka: duplicates are possible, gaps are not.

Retriable failures tear the pipeline down and restart it from the stored offset with capped exponential backoff;
fatal ones propagate to the CLI.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from cdc.capture.converters import worker_converters
from cdc.capture.transform import transform_properties
from cdc.config import EngineConfig
from cdc.connectors import lookup_connector
from cdc.errors import RetriableError
from cdc.events import DROPPED
from cdc.kafka.offset_store import OffsetStore
from cdc.kafka.producer import RecordProducer
from cdc.source import Source
from snapshot.progress import SnapshotProgress

log = logging.getLogger("cdc.runtime")

MAX_BACKOFF_S = 30.0


class ConnectorRuntime:
    """One connector's pipeline. ``run`` blocks until ``request_stop`` or a fatal error."""

    def __init__(self, engine: EngineConfig, progress: bool | None = None, max_batch: int = 2000) -> None:
        self.engine = engine
        self.progress = progress
        self.max_batch = max_batch
        self._stop = threading.Event()
        self._last_committed: dict[str, Any] | None = None
        self.records_sent = 0
        self.started = False  # a pipeline got past source.start(); False after a stop during start-up retries

    def request_stop(self) -> None:
        """Ask ``run`` to finish: it flushes, stores the final offset and confirms it to the source."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def run(self) -> None:
        backoff = 1.0
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                self._run_pipeline()
                return
            except RetriableError as exc:
                if time.monotonic() - started > 60:
                    backoff = 1.0  # it ran fine for a while: this is a new incident
                log.warning("%s; restarting from the last stored offset in %.0fs", exc, backoff)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_S)

    def _run_pipeline(self) -> None:
        engine, worker = self.engine, self.engine.worker
        server = engine.connector.topic_prefix
        store = OffsetStore(
            worker.bootstrap_servers,
            worker.offset_storage_topic,
            worker.offset_storage_partitions,
            worker.offset_storage_replication_factor,
        )
        store.ensure_topic(should_stop=self._stop.is_set)
        if self._stop.is_set():
            return  # stopped while waiting for the broker: nothing started, nothing to store
        stored = store.read(engine.name, server)
        log.info("stored offset: %s", stored if stored is not None else "none (first start)")
        self._last_committed = stored
        spec = lookup_connector(engine.connector_class)
        assert spec is not None
        # Converters belong to the worker: built here from its configuration and handed to the connector.
        # transforms=… (e.g. unwrap) runs on every record, then the worker's converters, as in Connect; without
        # it the connector keeps its pre-serialized fast path.
        transforms = transform_properties(getattr(engine.connector, "model_extra", None) or {})
        converters = worker_converters(worker, transforms)
        source: Source = spec.spec().factory(
            engine.name, engine.connector, worker, SnapshotProgress(enabled=self.progress), converters
        )
        producer = RecordProducer(worker.bootstrap_servers, worker.producer_overrides(), f"cdc-engine-{engine.name}")
        interval_s = worker.offset_flush_interval_ms / 1000
        final = True
        try:
            source.start(stored)
            self.started = True
            last_commit = last_report = time.monotonic()
            sent_at_report = self.records_sent
            transformed = converters.transform
            send_all = producer.send_all if transformed is None else producer.send_transformed
            keepalive = source.keepalive
            while not self._stop.is_set() and not source.finished:
                records = source.poll(self.max_batch, 0.2)
                send_all(records, keepalive)
                self.records_sent += len(records) if transformed is None else sum(r is not DROPPED for r in records)
                producer.poll()
                now = time.monotonic()
                if now - last_commit >= interval_s or source.commit_due:
                    self._commit(source, producer, store, worker.offset_flush_timeout_ms / 1000)
                    last_commit = now
                if now - last_report >= 30:
                    rate = (self.records_sent - sent_at_report) / (now - last_report)
                    log.info("%d records sent (%.0f/s over the last 30 s)", self.records_sent, rate)
                    last_report, sent_at_report = now, self.records_sent
            # Connect's task.shutdown.graceful.timeout.ms is 5 s; a healthy broker acknowledges far sooner.
            self._commit(source, producer, store, max(10.0, worker.offset_flush_timeout_ms / 1000))
            log.info("stopped cleanly; %d records sent; offset %s", self.records_sent, self._last_committed)
        except RetriableError:
            final = False
            raise
        finally:
            source.stop(final)
            producer.close(5)
            store.close()

    def _commit(self, source: Source, producer: RecordProducer, store: OffsetStore, timeout_s: float) -> None:
        """Store the source's position once every record polled so far is acknowledged, then confirm it.

        Storing a position can move the source to another one without a poll (the snapshot's offset, once
        stored, gives way to the stream's position covering the changes streamed since), so this repeats until
        the position is stable: after a final commit nothing is left to replay.
        """
        for _ in range(3):
            position = source.position()
            if position is None or position == self._last_committed:
                return
            if not producer.flush(timeout_s, source.keepalive):
                log.warning(
                    "offset commit skipped: %d records not acknowledged within %.0fs", producer.in_flight(), timeout_s
                )
                return
            store.write(self.engine.name, self.engine.connector.topic_prefix, position)
            source.committed(position)
            self._last_committed = position
            log.debug("offset committed: %s", position)

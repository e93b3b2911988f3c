"""Runs one sink connector: consumer group → converters → SMT chain → ``SinkTask.put`` → flush → commit offsets.

One worker thread does everything (librdkafka fetches on its own threads; a task may opt in to background puts,
below), so the task's hooks are never called concurrently and the order of records within a partition is the
order of ``put`` calls:

1. the consumer joins group ``connect-<name>`` (``cooperative-sticky``) on ``topics`` / ``topics.regex``;
   ``open``/``close`` are called from the rebalance callbacks, which librdkafka runs inside ``consume``;
2. each ``consume`` returns at most ``batch.max.records`` messages (the connector's ``batch.size`` when it has
   one, else ``consumer.max.poll.records``, else 500), cut further into batches of at most ``batch.max.bytes``;
3. every message goes through key converter, value converter and the transform chain, each run by the
   :class:`~sinks.error_handling.ErrorHandler` (retries, ``errors.tolerance``, dead-letter topic);
4. ``put`` gets the surviving records; a ``RetriableError`` pauses every assigned partition and retries the same
   batch with capped backoff (the consumer keeps polling, so the group membership stays alive);
5. every ``offset.flush.interval.ms`` (and at a rebalance and at stop) the runtime calls ``flush``, waits for the
   dead letters, and only then commits the offsets of everything put so far. A crash therefore replays at most
   what was put since the last commit; sinks write idempotently, so the final state is the same.

Memory stays bounded: librdkafka's prefetch queue is capped (``queued.max.messages.kbytes``), one batch is in
flight at a time, and a task that cannot keep up pauses partitions through ``SinkContext.pause``.

A task with ``put_in_background`` (``sinks.task``) gets its ``put`` on a helper thread: while batch N is written,
the worker thread consumes and converts batch N+1, then waits for N before handing N+1 over (at most one batch
written, one converted: memory stays bounded). Batch N's offsets are recorded for commit only once its ``put``
returned; every other hook, the offset commit, a rebalance and the shutdown first wait for the running ``put``
(``_finish_put``), so the task never sees two calls at once and the order of ``put`` calls is the batch order.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from cdc.config import EngineConfig
from cdc.connectors import lookup_connector
from cdc.errors import CdcError, ConfigError, FatalError, RetriableError
from schemas.converters.base import Converter, WireDecodeError
from schemas.converters.factory import build_converter, canonical_converter_class
from schemas.record import ConnectRecord, Header, WireRecord
from sinks.chain import Chain, build_chain
from sinks.config import SinkConnectorConfig
from sinks.error_handling import ErrorHandler, RawRecord, Stage
from sinks.task import SinkTask

log = logging.getLogger("sinks.runtime")

MAX_BACKOFF_S = 30.0
DEFAULT_BATCH_RECORDS = 500
DEFAULT_BATCH_BYTES = 8 * 1024 * 1024

# Java consumer properties that librdkafka does not know: read by the runtime, not passed on.
_RUNTIME_CONSUMER_PROPERTIES = {"max.poll.records", "key.deserializer", "value.deserializer", "interceptor.classes"}

TP = tuple[str, int]


def consumer_settings(engine: EngineConfig) -> tuple[dict[str, Any], dict[str, str]]:
    """(librdkafka settings, Java-only settings the runtime reads) for the connector's consumer.

    Layered as in Connect: the runtime's defaults < worker ``consumer.*`` < connector ``consumer.override.*``.
    """
    connector: SinkConnectorConfig = engine.connector
    settings: dict[str, Any] = {
        "bootstrap.servers": engine.worker.bootstrap_servers,
        "group.id": f"connect-{engine.name}",
        "client.id": f"connector-consumer-{engine.name}-0",
        "partition.assignment.strategy": "cooperative-sticky",
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "earliest",  # Connect's default for sink consumers
        "queued.max.messages.kbytes": 32768,  # bounds the prefetch queue (memory)
        # librdkafka (>= 2.1) postpones the next fetch of a partition by this much whenever the prefetch queue was
        # over its bound; its default of 1000 ms capped a consumer that keeps the queue full (every busy sink) at
        # ~25k messages/s of 2.7 kB Debezium JSON here, waiting, not working. 10 ms: 250k/s, same memory bound.
        "fetch.queue.backoff.ms": 10,
        # The smallest session Kafka brokers accept by default (group.min.session.timeout.ms): a dead sink worker's
        # partitions move to the others after 6 s. librdkafka heartbeats from its own thread, so a busy Python loop
        # does not expire it (max.poll.interval.ms guards the loop). tansu also makes a new group's first join wait
        # half the session timeout (5 s at 10 s, 3 s at 6 s); Kafka waits group.initial.rebalance.delay.ms (3 s).
        "session.timeout.ms": 6000,
    }
    if connector.topics_regex:
        # librdkafka matches the regex against its metadata, refreshed every 5 minutes by default: a topic created
        # after the start (the usual case for CDC topics) would wait that long.
        settings["topic.metadata.refresh.interval.ms"] = 5000
    java_only: dict[str, str] = {}
    for layer in (engine.worker.consumer_overrides(), connector.consumer_overrides()):
        for key, value in layer.items():
            if key in _RUNTIME_CONSUMER_PROPERTIES:
                java_only[key] = value
            else:
                settings[key] = value
    return settings, java_only


class _Context:
    """The ``SinkContext`` a task gets: report, pause, resume (all called from the worker thread)."""

    def __init__(self, runtime: SinkRuntime) -> None:
        self._runtime = runtime

    @property
    def connector_name(self) -> str:
        return self._runtime.engine.name

    def report(self, record: ConnectRecord, error: BaseException) -> None:
        self._runtime.report_put_failure(record, error)

    def pause(self, topic: str, partition: int) -> None:
        self._runtime.pause_partition((topic, partition))

    def resume(self, topic: str, partition: int) -> None:
        self._runtime.resume_partition((topic, partition))


class SinkRuntime:
    """One sink connector's worker. ``run`` blocks until ``request_stop`` or a fatal error.

    ``task`` replaces the connector's own task (benchmarks and tests use a discarding or recording task).
    """

    def __init__(self, engine: EngineConfig, task: SinkTask | None = None) -> None:
        if engine.kind != "sink":
            raise ConfigError([f"connector {engine.connector_class!r} is not a sink connector"])
        self.engine = engine
        self.config: SinkConnectorConfig = engine.connector
        self._given_task = task
        self._stop = threading.Event()
        self.records_put = 0
        self.records_consumed = 0
        # Runtime state, reset per pipeline run.
        self._consumer: Consumer | None = None
        self._task: SinkTask | None = None
        self._errors: ErrorHandler | None = None
        self._assigned: set[TP] = set()
        self._paused_by_task: set[TP] = set()
        self._to_commit: dict[TP, int] = {}  # next offset per partition, for everything put so far
        self._committed: dict[TP, int] = {}
        self._converters: tuple[Converter, Converter] | None = None
        self._wire = False  # the task takes WireRecords (SinkTask.accepts_wire_records); set in _run_worker
        self._current_batch: list[Message] = []  # the batch being put: the raw bytes of records a task rejects
        self._current_index: dict[tuple[Any, Any, Any], Message] | None = None
        self._revoked_during_batch = False
        # Background puts: the helper thread, and the batch it is writing (its put, records, next offsets); its raw
        # messages are in _current_batch until it finished.
        self._writer: ThreadPoolExecutor | None = None
        self._in_flight: tuple[Future[None], list[ConnectRecord], dict[TP, int]] | None = None
        # The error handler is shared by the worker thread (conversion errors) and a background put (report).
        self._errors_lock = threading.Lock()
        self.started = False  # the task started once; the CLI exits 130 when stopped before that

    # -- control ------------------------------------------------------------------------------------------------

    def request_stop(self) -> None:
        """Ask ``run`` to finish: it flushes the task, commits offsets and leaves the group."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def run(self) -> None:
        """Run until stopped; retriable failures (target or broker down) restart the worker with backoff."""
        backoff = 1.0
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                self._run_worker()
                return
            except RetriableError as exc:
                if time.monotonic() - started > 60:
                    backoff = 1.0
                log.warning("%s; restarting the sink worker in %.0fs", exc, backoff)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_S)

    # -- one worker run -----------------------------------------------------------------------------------------

    def _build(self) -> tuple[Converter, Converter, Chain | None, SinkTask]:
        worker = self.engine.worker
        key_converter = build_converter(worker.key_converter, worker.converter_properties(True), True)
        value_converter = build_converter(worker.value_converter, worker.converter_properties(False), False)
        chain = build_chain(self.config.transform_properties())
        if self._given_task is not None:
            task = self._given_task
        else:
            spec = lookup_connector(self.engine.connector_class)
            assert spec is not None
            task = spec.spec().factory(self.engine.name, self.config)
        return key_converter, value_converter, chain, task

    def _run_worker(self) -> None:
        engine = self.engine
        key_converter, value_converter, chain, task = self._build()
        self._converters = (key_converter, value_converter)
        self._wire = (
            task.accepts_wire_records
            and chain is None
            and hasattr(key_converter, "to_wire")
            and hasattr(value_converter, "to_wire")
        )
        self._key_class = canonical_converter_class(engine.worker.key_converter) or engine.worker.key_converter
        self._value_class = canonical_converter_class(engine.worker.value_converter) or engine.worker.value_converter
        settings, java_only = consumer_settings(engine)
        batch_records = int(
            getattr(self.config, "batch_size", 0) or java_only.get("max.poll.records") or DEFAULT_BATCH_RECORDS
        )
        batch_bytes = int(getattr(self.config, "batch_max_bytes", 0) or DEFAULT_BATCH_BYTES)
        self._errors = ErrorHandler(
            engine.name, self.config, engine.worker.bootstrap_servers, engine.worker.producer_overrides(), self._stop
        )
        self._assigned, self._paused_by_task, self._to_commit, self._committed = set(), set(), {}, {}
        self._task = task
        self._in_flight = None
        if task.put_in_background:
            self._writer = ThreadPoolExecutor(1, thread_name_prefix=f"sink-put-{engine.name}")
        final = False
        try:
            self._errors.start()
            task.start(_Context(self))
            self.started = True
            consumer = Consumer(settings, logger=logging.getLogger("librdkafka.consumer"))
            self._consumer = consumer
            if self.config.topics_regex:
                regex = self.config.topics_regex
                subscription = [regex if regex.startswith("^") else "^" + regex]
            else:
                subscription = self.config.topic_list()
            consumer.subscribe(
                subscription, on_assign=self._on_assign, on_revoke=self._on_revoke, on_lost=self._on_lost
            )
            log.info("sink %s consuming %s as group %s", engine.name, ",".join(subscription), settings["group.id"])
            interval_s = engine.worker.offset_flush_interval_ms / 1000
            last_commit = last_report = time.monotonic()
            put_at_report = self.records_put
            while not self._stop.is_set():
                messages = consumer.consume(batch_records, 0.5)
                if messages:
                    self._process(messages, key_converter, value_converter, chain, batch_bytes)
                elif self._assigned:
                    # As Connect does, an idle poll still calls put (with no records): tasks get a regular chance
                    # to resume paused partitions or flush time-based buffers.
                    self._finish_put()
                    self._put_with_retry([])
                now = time.monotonic()
                if now - last_commit >= interval_s:
                    self._commit("interval")
                    last_commit = now
                if now - last_report >= 30:
                    rate = (self.records_put - put_at_report) / (now - last_report)
                    log.info("%d records written (%.0f/s over the last 30 s)", self.records_put, rate)
                    last_report, put_at_report = now, self.records_put
            self._commit("stop")
            final = True
            log.info("stopped cleanly; %d records written; offsets %s", self.records_put, self._committed_text())
        finally:
            self._shutdown(final)

    def _shutdown(self, clean: bool) -> None:
        if not clean and self._in_flight is not None:
            # The worker failed while a batch was being written: let that put end (its offsets are not committed;
            # the records are written again after the restart) before the task is stopped.
            try:
                self._in_flight[0].result()
            except Exception as exc:  # noqa: BLE001 - the failure being handled already stops the worker
                log.debug("background put ended with %s during the shutdown", exc)
            self._in_flight = None
        consumer, task = self._consumer, self._task
        self._consumer = None
        if consumer is not None:
            if clean:
                try:
                    consumer.close()  # leaves the group; the revoke callback flushes and commits (nothing left)
                except (KafkaException, RuntimeError, CdcError) as exc:
                    log.warning("closing the consumer: %s", exc)
            else:
                # The final revoke must not flush a task that failed: close only our side of the connection.
                self._task = None
                try:
                    consumer.close()
                except (KafkaException, RuntimeError, CdcError) as exc:
                    log.debug("closing the consumer after a failure: %s", exc)
        if task is not None:
            try:
                if self._assigned and clean:
                    task.close(sorted(self._assigned))
            finally:
                self._assigned.clear()
                task.stop()
        self._task = None
        if self._writer is not None:
            self._writer.shutdown(wait=True)
            self._writer = None
        if self._errors is not None:
            self._errors.close()

    # -- the record path ------------------------------------------------------------------------------------------

    def _process(
        self,
        messages: list[Message],
        key_converter: Converter,
        value_converter: Converter,
        chain: Chain | None,
        batch_bytes: int,
    ) -> None:
        batch: list[Message] = []
        size = 0
        for msg in messages:
            err = msg.error()
            if err is not None:
                self._consumer_error(err)
                continue
            batch.append(msg)
            size += len(msg.value() or b"") + len(msg.key() or b"")
            if size >= batch_bytes:
                self._process_batch(batch, key_converter, value_converter, chain)
                batch, size = [], 0
        if batch:
            self._process_batch(batch, key_converter, value_converter, chain)

    def _consumer_error(self, err: KafkaError) -> None:
        if err.code() == KafkaError._PARTITION_EOF:
            return
        if err.fatal():
            raise FatalError(f"consumer: {err.str()}")
        if err.code() == KafkaError.UNKNOWN_TOPIC_OR_PART and self.config.topics_regex:
            log.debug("consumer: %s", err.str())  # no topic matches the regex yet
        elif err.code() in (KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError.TOPIC_AUTHORIZATION_FAILED):
            log.warning("consumer: %s", err.str())
        else:
            log.warning("consumer error (librdkafka retries): %s", err.str())

    def _process_batch(
        self, batch: list[Message], key_converter: Converter, value_converter: Converter, chain: Chain | None
    ) -> None:
        records: list[ConnectRecord] = []
        positions: dict[TP, int] = {}
        assigned = self._assigned
        wire = self._wire
        # A task taking WireRecords (SinkTask.accepts_wire_records; never with a chain) gets the wire form.
        key_to = key_converter.to_wire if wire else key_converter.to_connect  # type: ignore[attr-defined]
        value_to = value_converter.to_wire if wire else value_converter.to_connect  # type: ignore[attr-defined]
        apply = chain.apply if chain is not None else None
        for msg in batch:
            # Messages without an error always have a topic, partition and offset (the stubs say Optional).
            topic: str = msg.topic()  # type: ignore[assignment]
            partition: int = msg.partition()  # type: ignore[assignment]
            offset: int = msg.offset()  # type: ignore[assignment]
            tp = (topic, partition)
            if tp not in assigned:
                continue  # revoked while this batch was prepared: the new owner reads it
            positions[tp] = offset + 1
            raw_headers = msg.headers()
            headers: list[Header] = _headers(msg) if raw_headers else []
            ts_type, ts = msg.timestamp()
            # The common case in one try block; any failure replays the message through the error handler, stage
            # by stage (retries, tolerance, dead-letter topic). Converters and transforms are deterministic, so
            # running a stage again is harmless.
            try:
                raw_key, raw_value = msg.key(), msg.value()
                key_schema, key = key_to(topic, raw_key, headers)
                value_schema, value = value_to(topic, raw_value, headers)
                fields = (topic, key_schema, key, value_schema, value, partition, ts if ts_type else None, headers)
                record: ConnectRecord | None
                if wire:
                    record = WireRecord(*fields, offset, topic, raw_key, raw_value, key_converter, value_converter)
                else:
                    record = ConnectRecord(*fields, offset, topic)
                    if apply is not None:
                        record = apply(record)
            except Exception:  # noqa: BLE001 - handled record by record below, per errors.tolerance
                record = self._convert_carefully(msg, key_converter, value_converter, chain)
            if record is not None:
                records.append(record)
        self.records_consumed += len(batch)
        self._finish_put()  # the previous batch: written before this one is handed over (order, memory)
        if records and self._writer is not None and not self._stop.is_set():
            task = self._task
            assert task is not None
            self._current_batch, self._current_index = batch, None
            self._in_flight = (self._writer.submit(task.put, records), records, positions)
            return
        self._current_batch, self._current_index = batch, None
        try:
            if records:
                self._put_with_retry(records)
        finally:
            self._current_batch, self._current_index = [], None
        self._record_positions(positions)

    def _record_positions(self, positions: dict[TP, int]) -> None:
        """A batch is written: its offsets may be committed (for partitions still ours)."""
        assigned = self._assigned
        for tp, next_offset in positions.items():
            if tp in assigned:
                self._to_commit[tp] = next_offset

    def _finish_put(self, retry: bool = True) -> None:
        """Wait for the background put, if one runs; then its batch counts as written. Called before anything else
        touches the task or commits offsets.

        A failed put is retried here, on the worker thread, as a synchronous one would be; inside a rebalance
        callback (``retry=False``) it cannot be (retrying polls the consumer), so its error is raised: the batch's
        offsets are not recorded, ``consume`` raises it and the worker restarts (``run``) and reads it again.
        """
        in_flight = self._in_flight
        if in_flight is None:
            return
        self._in_flight = None
        future, records, positions = in_flight
        try:
            error = future.exception()
            if error is None:
                self.records_put += len(records)
            elif retry:
                self._put_with_retry(records, error)
            elif isinstance(error, CdcError):
                raise error
            else:
                raise FatalError(f"sink task failed in put: {type(error).__name__}: {error}") from error
        finally:
            self._current_batch, self._current_index = [], None
        self._record_positions(positions)

    def _convert_carefully(
        self, msg: Message, key_converter: Converter, value_converter: Converter, chain: Chain | None
    ) -> ConnectRecord | None:
        """One message through the error handler, stage by stage; None when it was tolerated (or dropped)."""
        with self._errors_lock:  # a background put may be reporting a rejected record meanwhile
            return self._convert_with_handler(msg, key_converter, value_converter, chain)

    def _convert_with_handler(
        self, msg: Message, key_converter: Converter, value_converter: Converter, chain: Chain | None
    ) -> ConnectRecord | None:
        errors = self._errors
        assert errors is not None
        raw = _raw(msg)
        topic, headers = raw.topic, raw.headers
        ok, key_pair = errors.execute(
            Stage.KEY_CONVERTER, self._key_class, raw, partial(key_converter.to_connect, topic, raw.key, headers)
        )
        if not ok or key_pair is None:
            return None
        ok, value_pair = errors.execute(
            Stage.VALUE_CONVERTER,
            self._value_class,
            raw,
            partial(value_converter.to_connect, topic, raw.value, headers),
        )
        if not ok or value_pair is None:
            return None
        record = ConnectRecord(
            topic,
            key_pair[0],
            key_pair[1],
            value_pair[0],
            value_pair[1],
            raw.partition,
            raw.timestamp,
            headers,
            raw.offset,
            topic,
        )
        if chain is None:
            return record
        ok, transformed = errors.execute(
            Stage.TRANSFORMATION, _transform_class(chain), raw, partial(chain.apply, record)
        )
        return transformed if ok else None

    def _put_with_retry(self, records: list[ConnectRecord], failed: BaseException | None = None) -> None:
        """``put`` until it succeeds or fails for good; ``failed``: the error of a first attempt made elsewhere (a
        background put), handled as if this loop had made it."""
        task = self._task
        consumer = self._consumer
        assert task is not None and consumer is not None
        backoff = 0.5
        paused = False
        try:
            while True:
                try:
                    if failed is not None:
                        error, failed = failed, None
                        raise error
                    task.put(records)
                    self.records_put += len(records)
                    return
                except RetriableError as exc:
                    if self._stop.is_set():
                        raise
                    log.warning("sink write failed (%s); retrying the batch in %.1fs", exc, backoff)
                    if not paused and self._assigned:
                        consumer.pause([TopicPartition(t, p) for t, p in self._assigned])
                        paused = True
                    self._wait_polling(backoff)
                    backoff = min(backoff * 2, MAX_BACKOFF_S)
                    # A rebalance during the wait may have taken partitions away: their records are not ours now.
                    records = [r for r in records if (r.original_topic or r.topic, r.partition or 0) in self._assigned]
                    if not records:
                        return
                except CdcError:
                    raise
                except Exception as exc:
                    raise FatalError(f"sink task failed in put: {type(exc).__name__}: {exc}") from exc
        finally:
            if paused:
                to_resume = [TopicPartition(t, p) for t, p in self._assigned - self._paused_by_task]
                if to_resume:
                    consumer.resume(to_resume)

    def _wait_polling(self, seconds: float) -> None:
        """Wait while keeping group membership (paused partitions deliver nothing)."""
        consumer = self._consumer
        assert consumer is not None
        deadline = time.monotonic() + seconds
        rewound: set[TP] = set()
        while time.monotonic() < deadline and not self._stop.is_set():
            for msg in consumer.consume(100, min(0.2, max(0.0, deadline - time.monotonic()))):
                # Only an already-fetched message of a partition paused just now can arrive. It was not put and its
                # offset is not recorded: rewind the partition to the first such message (later ones of the same
                # partition follow it), so it is fetched again after the resume.
                if msg.error() is not None:
                    continue
                tp = (str(msg.topic()), int(msg.partition() or 0))
                if tp not in rewound:
                    rewound.add(tp)
                    consumer.seek(TopicPartition(tp[0], tp[1], int(msg.offset() or 0)))

    # -- offsets ---------------------------------------------------------------------------------------------------

    def _commit(self, why: str, partitions: set[TP] | None = None) -> None:
        """flush → dead letters acknowledged → commit the offsets of everything put so far (of ``partitions``)."""
        task, consumer, errors = self._task, self._consumer, self._errors
        if task is None or consumer is None or errors is None:
            return
        self._finish_put(retry=why != "rebalance")
        wanted = {
            tp: off
            for tp, off in self._to_commit.items()
            if (partitions is None or tp in partitions) and self._committed.get(tp) != off
        }
        if not wanted:
            return
        self._flush_with_retry(task, retry=why != "rebalance")
        errors.flush(30)
        offsets = [TopicPartition(t, p, off) for (t, p), off in wanted.items()]
        try:
            consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as exc:
            # Not ours any more (rebalance) or the coordinator moved: the next commit or owner covers it; at worst
            # records are written again, which idempotent sinks absorb.
            log.warning("offset commit (%s) failed: %s", why, exc.args[0].str() if exc.args else exc)
            return
        self._committed.update(wanted)
        log.debug("committed (%s): %s", why, wanted)

    def _flush_with_retry(self, task: SinkTask, retry: bool = True) -> None:
        # Inside a rebalance callback there is one attempt: blocking there would stall the whole group.
        backoff = 0.5
        while True:
            try:
                task.flush()
                return
            except RetriableError as exc:
                if self._stop.is_set() or not retry:
                    raise
                log.warning("sink flush failed (%s); retrying in %.1fs", exc, backoff)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_S)
            except CdcError:
                raise
            except Exception as exc:
                raise FatalError(f"sink task failed in flush: {type(exc).__name__}: {exc}") from exc

    def _committed_text(self) -> str:
        return ", ".join(f"{t}-{p}:{o}" for (t, p), o in sorted(self._committed.items())) or "none"

    # -- rebalance callbacks (run inside consume/close, on the worker thread) ---------------------------------------

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        added = [(tp.topic, tp.partition) for tp in partitions]
        if self._task is not None:
            self._finish_put(retry=False)
        self._assigned.update(added)
        log.info("partitions assigned: %s", _tp_text(added))
        if self._task is not None and added:
            self._task.open(added)

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        revoked = {(tp.topic, tp.partition) for tp in partitions}
        log.info("partitions revoked: %s", _tp_text(sorted(revoked)))
        if self._task is not None and revoked:
            self._finish_put(retry=False)  # a failure propagates: its records must not be skipped by a commit
            try:
                self._commit("rebalance", revoked)
            except CdcError as exc:
                log.warning("could not commit revoked partitions (their records will be written again): %s", exc)
            self._task.close(sorted(revoked & self._assigned))
        self._forget(revoked)

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        lost = {(tp.topic, tp.partition) for tp in partitions}
        log.warning("partitions lost (no commit possible): %s", _tp_text(sorted(lost)))
        if self._task is not None and lost:
            self._finish_put(retry=False)
            self._task.close(sorted(lost & self._assigned))
        self._forget(lost)

    def _forget(self, partitions: set[TP]) -> None:
        self._assigned -= partitions
        self._paused_by_task -= partitions
        for tp in partitions:
            self._to_commit.pop(tp, None)
            self._committed.pop(tp, None)

    # -- SinkContext -------------------------------------------------------------------------------------------------

    def report_put_failure(self, record: ConnectRecord, error: BaseException) -> None:
        """A record the task rejected: dead-letter it (tolerance all) or stop (none)."""
        errors = self._errors
        assert errors is not None
        topic = record.original_topic or record.topic
        if self._current_index is None:  # built on the first rejection of a batch only
            self._current_index = {(m.topic(), m.partition(), m.offset()): m for m in self._current_batch}
        msg = self._current_index.get((topic, record.partition, record.kafka_offset))
        with self._errors_lock:  # a background put reports from the helper thread
            if msg is not None:
                raw = _raw(msg)
            elif isinstance(record, WireRecord):  # still holds its original bytes (its values are not Connect's)
                raw = RawRecord(
                    topic,
                    record.partition or 0,
                    record.kafka_offset if record.kafka_offset is not None else -1,
                    record.timestamp,
                    record.raw_key,
                    record.raw_value,
                    list(record.headers),
                )
            else:
                raw = self._reserialize(record, topic)
            if isinstance(error, WireDecodeError):
                # The task decoded a WireRecord late (WireRecord.decoded): report it as the converter stage it is.
                if error.is_key:
                    errors.report(Stage.KEY_CONVERTER, self._key_class, raw, error)
                else:
                    errors.report(Stage.VALUE_CONVERTER, self._value_class, raw, error)
                return
            errors.report(Stage.TASK_PUT, self.config.connector_class, raw, error)  # the class as the user wrote it

    def _reserialize(self, record: ConnectRecord, topic: str) -> RawRecord:
        # The raw bytes are kept only for the batch in progress; a record reported later (from flush) is written
        # back with the worker's converters, as Connect's reporter does with its converters.
        key = value = None
        try:
            assert self._converters is not None
            key = self._converters[0].from_connect(record.topic, record.key_schema, record.key, record.headers)
            value = self._converters[1].from_connect(record.topic, record.value_schema, record.value, record.headers)
        except CdcError as exc:
            log.warning("could not re-serialize a rejected record for the dead-letter topic: %s", exc)
        return RawRecord(
            topic, record.partition or 0, record.kafka_offset or -1, record.timestamp, key, value, list(record.headers)
        )

    def pause_partition(self, tp: TP) -> None:
        """The task is saturated for ``tp``: stop fetching it until ``resume_partition``."""
        if self._consumer is not None and tp in self._assigned and tp not in self._paused_by_task:
            self._consumer.pause([TopicPartition(tp[0], tp[1])])
            self._paused_by_task.add(tp)

    def resume_partition(self, tp: TP) -> None:
        """Fetch ``tp`` again."""
        if self._consumer is not None and tp in self._paused_by_task:
            self._consumer.resume([TopicPartition(tp[0], tp[1])])
            self._paused_by_task.discard(tp)


def _raw(msg: Message) -> RawRecord:
    """A consumed message as the error handler keeps it."""
    ts_type, ts = msg.timestamp()
    return RawRecord(
        str(msg.topic()),
        int(msg.partition() or 0),
        int(msg.offset() or 0),
        ts if ts_type else None,
        msg.key(),
        msg.value(),
        _headers(msg),
    )


def _headers(msg: Message) -> list[Header]:
    """A message's headers as (name, bytes) pairs (librdkafka hands them out as a list of tuples)."""
    raw = msg.headers()
    if not raw:
        return []
    items = raw.items() if isinstance(raw, dict) else raw
    return [(k, v.encode() if isinstance(v, str) else v) for k, v in items]


def _transform_class(chain: Chain) -> str:
    """``__connect.errors.class.name`` for the TRANSFORMATION stage: the chain's own description if it has one."""
    return str(getattr(chain, "class_name", None) or type(chain).__qualname__)


def _tp_text(tps: Sequence[TP]) -> str:
    return ", ".join(f"{t}-{p}" for t, p in tps) or "none"

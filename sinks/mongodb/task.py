"""The MongoDB sink task: records → mongo-kafka write models → pymongo bulk writes.

The sink runtime calls ``start`` / ``put`` / ``flush`` / ``stop`` (see ``sinks.task``). ``put`` builds the writes
of its batch on the runtime's thread and hands them to one writer thread, then returns: while the server works on
batch k the runtime consumes and converts batch k+1 (the end-to-end benchmark's profile showed the sink process
idle, waiting for the server, most of the time). The next ``put``, and ``flush``, first wait for the writes in
flight, so at most one batch is in flight, batches are written in order, and the runtime commits offsets only
after a ``flush`` that saw every earlier write acknowledged. Records of one namespace keep their order; each
namespace gets bulk writes of at most ``max.batch.size`` operations.

Errors: a record that cannot become a write (bad value, missing ``_id`` …) and a write the server rejects for the
document (duplicate key, invalid document) go to ``context.report`` (dead-letter topic under
``errors.tolerance=all``). With ``bulk.write.ordered=true`` the operations after a rejected one are written again
in a new bulk write, so one bad record never drops the rest of its batch. Connection problems are retried
``max.num.retries`` times ``retries.defer.timeout`` ms apart, then raised as ``RetriableError`` (the runtime
retries the whole batch; every write is idempotent, except ``InsertOneDefaultStrategy`` with generated ids).
Errors of the writes in flight surface in the next ``put`` or ``flush`` (reports are delivered there, on the
runtime's thread); the bulk writes a retriable failure left unwritten are written first by that later call.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pymongo
from pymongo.errors import (
    BulkWriteError,
    ConfigurationError,
    ConnectionFailure,
    ExecutionTimeout,
    OperationFailure,
    PyMongoError,
    WTimeoutError,
)

from cdc.errors import ConfigError, FatalError, RetriableError, SkippableRecordError
from schemas.record import ConnectRecord
from sinks.mongodb.config import MongoSinkConfig
from sinks.mongodb.documents import change_event_document, get_path, sink_document
from sinks.mongodb.processors import PostProcessorChain
from sinks.mongodb.write_models import GuardedReplaceOne, WriteOp, delete_by_key, rdbms_change, write_model
from sinks.task import SinkContext, SinkTask

log = logging.getLogger(__name__)

_TRANSIENT = (ConnectionFailure, ExecutionTimeout, WTimeoutError)


class MongoWriteRejected(SkippableRecordError):
    """MongoDB rejected the write of this record (the server's error code and message are in the text)."""


@dataclass(slots=True)
class _Chunk:
    """One bulk write: a namespace and at most ``max.batch.size`` operations with their records."""

    namespace: tuple[str, str]
    ops: list[tuple[WriteOp, ConnectRecord]]
    config: MongoSinkConfig


@dataclass(slots=True)
class _Job:
    """The bulk writes of one ``put``, run in order on the writer thread."""

    chunks: list[_Chunk]
    reports: list[tuple[ConnectRecord, BaseException]] = field(default_factory=list)


@dataclass(slots=True)
class _TopicPlan:
    config: MongoSinkConfig
    chain: PostProcessorChain


class MongoSinkTask(SinkTask):
    """``connector.class: mongodb`` (``com.mongodb.kafka.connect.MongoSinkConnector``)."""

    def __init__(self, name: str, config: MongoSinkConfig) -> None:
        self.name = name
        self.config = config
        self._client: pymongo.MongoClient[dict[str, Any]] | None = None
        self._context: SinkContext | None = None
        self._plans: dict[str, _TopicPlan] = {}
        self._writer: cf.ThreadPoolExecutor | None = None
        self._in_flight: tuple[cf.Future[None], _Job] | None = None
        self._unwritten: _Job | None = None  # what a retriable failure left: written first by the next put/flush
        #: Documents written (acknowledged operations), for tests and the benchmark.
        self.written = 0

    # -- lifecycle ----------------------------------------------------------------------------------------------

    def start(self, context: SinkContext) -> None:
        """Connect and check that the server answers.

        :raises ConfigError: ``connection.uri`` cannot be used (bad syntax or option, a ``tlsCAFile`` that cannot
            be read).
        :raises FatalError: the server refuses us (authentication) or its TLS certificate is not trusted.
        :raises RetriableError: the server does not answer (yet).
        """
        self._context = context
        uri = self.config.connection_uri.get_secret_value()
        options: dict[str, Any] = {"appname": f"cdc-engine:{self.name}"}
        if "serverselectiontimeoutms" not in uri.lower():
            options["serverSelectionTimeoutMS"] = 10_000
        try:
            self._client = pymongo.MongoClient(uri, **options)
        except (ConfigurationError, OSError, ValueError) as exc:
            # pymongo's messages name the option, never the password.
            raise ConfigError([f"config.connection.uri: {_short(exc)}"]) from None
        try:
            self._client.admin.command("ping")
        except _TRANSIENT as exc:
            if _untrusted_certificate(exc):
                raise FatalError(
                    "MongoDB TLS: the server's certificate is not trusted (certificate verify failed); check "
                    "tlsCAFile (or tlsAllowInvalidHostnames) in connection.uri"
                ) from None
            raise RetriableError(f"MongoDB not reachable: {type(exc).__name__}: {_short(exc)}") from None
        except OperationFailure as exc:
            raise FatalError(f"MongoDB refused the connection: {_short(exc)} (check connection.uri)") from None

    def stop(self) -> None:
        """Wait for the writes in flight (their errors no longer matter: nothing after them is committed), close."""
        if self._in_flight is not None:
            with contextlib.suppress(Exception):
                self._in_flight[0].result()
            self._in_flight = None
        if self._writer is not None:
            self._writer.shutdown(wait=True)
            self._writer = None
        if self._client is not None:
            self._client.close()
            self._client = None

    # -- writing ------------------------------------------------------------------------------------------------

    def put(self, records: Sequence[ConnectRecord]) -> None:
        """Build one write per record (while the previous batch is written), then hand this batch's bulk writes,
        per namespace and in order, to the writer thread (see the module docstring for the errors)."""
        batches: dict[tuple[str, str], list[tuple[WriteOp, ConnectRecord]]] = {}
        order: list[tuple[str, str]] = []
        # Records that cannot become writes are reported after the writes in flight were collected: if those
        # failed, the runtime calls put again with the same records and they must not be reported twice.
        job = _Job([])
        for record in records:
            try:
                built = self._build(record)
            except SkippableRecordError as exc:
                job.reports.append((record, exc))
                continue
            if built is None:
                continue
            namespace, op = built
            if namespace not in batches:
                batches[namespace] = []
                order.append(namespace)
            batches[namespace].append((op, record))
        for namespace in order:
            ops = batches[namespace]
            config = self._plan(ops[0][1]).config
            size = config.max_batch_size or len(ops)
            job.chunks += [_Chunk(namespace, ops[i : i + size], config) for i in range(0, len(ops), size)]
        self._wait_for_writes()
        self._deliver(job)
        if job.chunks:
            if self._writer is None:
                self._writer = cf.ThreadPoolExecutor(1, thread_name_prefix=f"{self.name}-bulk")
            self._in_flight = (self._writer.submit(self._run_job, job), job)

    def flush(self) -> None:
        """Wait until every write handed over by ``put`` is acknowledged (errors as for ``put``)."""
        self._wait_for_writes()

    def _wait_for_writes(self) -> None:
        """Collect the writes in flight, delivering their reports here, on the runtime's thread; write what a
        retriable failure left over first.

        :raises RetriableError: the writes failed transiently (they are kept and written by the next call).
        :raises FatalError: the server refused a write for good.
        """
        if self._in_flight is not None:
            future, job = self._in_flight
            self._in_flight = None
            try:
                future.result()
            except RetriableError:
                self._unwritten = job
                raise
            finally:
                self._deliver(job)
        if self._unwritten is not None:
            job = self._unwritten
            try:
                self._run_job(job)
            finally:
                self._deliver(job)
            self._unwritten = None

    def _deliver(self, job: _Job) -> None:
        reports, job.reports = job.reports, []
        for record, error in reports:
            self._report(record, error)

    def _run_job(self, job: _Job) -> None:
        """The writer thread (or ``_wait_for_writes``): the job's bulk writes in order; written chunks leave it."""
        while job.chunks:
            chunk = job.chunks[0]
            self._bulk_write(chunk.namespace, chunk.ops, chunk.config, job.reports)
            job.chunks.pop(0)

    def _plan(self, record: ConnectRecord) -> _TopicPlan:
        topic = record.original_topic or record.topic
        plan = self._plans.get(topic)
        if plan is None:
            config = self.config.for_topic(topic)
            plan = self._plans[topic] = _TopicPlan(config, PostProcessorChain(config))
        return plan

    def _build(self, record: ConnectRecord) -> tuple[tuple[str, str], WriteOp] | None:
        plan = self._plan(record)
        config = plan.config
        temporal_dates = config.debezium_temporal_mode == "date"
        op: WriteOp | None
        if config.change_data_capture_handler:
            doc = change_event_document(record, temporal_dates)
            op = rdbms_change(doc, config.change_data_capture_version_field)
        elif (doc := sink_document(record, temporal_dates)).value_doc is None:
            if not config.delete_on_null_values:
                return None
            op = delete_by_key(doc, config.document_id_strategy, plan.chain.id_strategy, record)
        else:
            plan.chain.run(doc, record)
            op = write_model(
                config.writemodel_strategy, doc, config.document_id_strategy, plan.chain.id_strategy, record
            )
        if op is None:
            return None
        return self._namespace(record, config, doc.key_doc, doc.value_doc), op

    def _namespace(
        self, record: ConnectRecord, config: MongoSinkConfig, key: dict[str, Any] | None, value: dict[str, Any] | None
    ) -> tuple[str, str]:
        database = config.database
        collection = config.collection or (record.original_topic or record.topic)
        if config.namespace_mapper == "FieldPathNamespaceMapper":
            for side_doc, db_field, coll_field in (
                (key, config.namespace_mapper_key_database_field, config.namespace_mapper_key_collection_field),
                (value, config.namespace_mapper_value_database_field, config.namespace_mapper_value_collection_field),
            ):
                for field, is_db in ((db_field, True), (coll_field, False)):
                    if not field:
                        continue
                    found = get_path(side_doc, field)
                    if isinstance(found, str) and found:
                        if is_db:
                            database = found
                        else:
                            collection = found
                    elif config.namespace_mapper_error_if_invalid:
                        raise MongoWriteRejected(f"namespace field {field!r} is missing or not a non-empty string")
        return database, collection

    def _bulk_write(
        self,
        namespace: tuple[str, str],
        ops: list[tuple[WriteOp, ConnectRecord]],
        config: Any,
        reports: list[tuple[ConnectRecord, BaseException]],
    ) -> None:
        """One bulk write with its retries; rejected records go to ``reports`` (delivered on the runtime's thread).
        An ordered write that stopped at a rejected operation continues after it; a write that failed transiently
        is retried, and after ``max.num.retries`` raised as ``RetriableError`` with nothing of ``ops`` lost."""
        assert self._client is not None, "put before start"
        collection = self._client[namespace[0]][namespace[1]]
        pending = ops
        attempts = 0
        while pending:
            try:
                result = collection.bulk_write([op for op, _ in pending], ordered=config.bulk_write_ordered)
                self.written += _acknowledged(result.bulk_api_result)
                return
            except BulkWriteError as exc:
                details = exc.details
                self.written += _acknowledged(dict(details))
                failed = sorted(details.get("writeErrors", []), key=lambda e: e["index"])
                for error in failed:
                    op, record = pending[error["index"]]
                    if error.get("code") == 11000 and isinstance(op, GuardedReplaceOne):
                        self.written += 1  # the stored document is already at this or a newer version
                        continue
                    reports.append(
                        (record, MongoWriteRejected(f"MongoDB error {error.get('code')}: {error.get('errmsg')}"))
                    )
                if details.get("writeConcernErrors"):
                    raise RetriableError(f"write concern errors: {details['writeConcernErrors']}") from None
                if not config.bulk_write_ordered or not failed:
                    return
                # An ordered bulk write stops at its first error: write what came after it again.
                pending = pending[failed[0]["index"] + 1 :]
            except _TRANSIENT as exc:
                attempts += 1
                if attempts > config.max_num_retries:
                    raise RetriableError(
                        f"MongoDB write to {namespace[0]}.{namespace[1]} failed after {attempts} attempt(s): "
                        f"{type(exc).__name__}: {_short(exc)}"
                    ) from None
                log.warning(
                    "MongoDB write failed (%s), retry %d in %d ms",
                    type(exc).__name__,
                    attempts,
                    config.retries_defer_timeout,
                )
                time.sleep(config.retries_defer_timeout / 1000)
            except PyMongoError as exc:
                raise FatalError(f"MongoDB write to {namespace[0]}.{namespace[1]} failed: {_short(exc)}") from None

    def _report(self, record: ConnectRecord, error: BaseException) -> None:
        if self._context is None:
            raise error
        self._context.report(record, error)


def _acknowledged(result: dict[str, Any]) -> int:
    return int(
        result.get("nInserted", 0) + result.get("nUpserted", 0) + result.get("nMatched", 0) + result.get("nRemoved", 0)
    )


def _untrusted_certificate(exc: BaseException) -> bool:
    text = str(exc)
    return "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text


def _short(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300]

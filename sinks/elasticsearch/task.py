"""The Elasticsearch / OpenSearch sink task: records → bulk requests, several in flight.

The sink runtime calls ``start`` / ``put`` / ``flush`` / ``stop`` (see ``sinks.task``). ``put`` turns each record
into one bulk action and buffers it; full batches (``batch.size``) and batches older than ``linger.ms`` are sent at
once, up to ``max.in.flight.requests`` at a time on a thread pool; ``put`` waits for the oldest request when
``max.buffered.records`` are pending (backpressure). ``flush`` sends the rest and waits for everything, at most
``flush.timeout.ms``. Results are handled on the caller's (the runtime's) thread.

Ordering and idempotence: in ``insert`` mode every document carries an external version (the change's source
position, see ``documents.source_version``), so the cluster keeps the newest version whatever order the requests
arrive in: a replay, a second partition with the same key or two requests in flight cannot make a document older.
A version conflict (409) therefore means "already newer" and counts as written. ``upsert`` cannot carry versions;
it runs one request at a time to keep per-key order.

Errors: a record that cannot become a document, and a document the cluster rejects as malformed (HTTP 400 in its
bulk item) under ``behavior.on.malformed.documents=fail``, go to ``context.report`` with the cluster's error (the
dead-letter topic under ``errors.tolerance=all``). Connection errors, timeouts and 429/5xx answers are retried
``max.retries`` times with exponential backoff from ``retry.backoff.ms``, then raised as ``RetriableError``.
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import logging
import random
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from cdc.errors import FatalError, RetriableError, SkippableRecordError
from schemas.record import ConnectRecord
from sinks.elasticsearch.backend import BackendError, SearchBackend, TransientError
from sinks.elasticsearch.config import ElasticsearchSinkConfig
from sinks.elasticsearch.documents import (
    DocumentError,
    document_id,
    envelope_parts,
    index_name,
    mapping,
    source_document,
    unwrapped_version,
)
from sinks.source_position import source_version
from sinks.task import SinkContext, SinkTask

log = logging.getLogger(__name__)

Flavour = Literal["elasticsearch", "opensearch"]


class MalformedDocumentError(SkippableRecordError):
    """The cluster rejected this document (its error type and reason are the message)."""


@dataclass(slots=True)
class _Action:
    record: ConnectRecord
    # The action line and, except for deletes, the source line, serialized once (orjson, newline-terminated)
    # when the record is put: a retried request re-sends the same bytes, and the HTTP clients' stdlib json
    # encoder never runs (it was a sixth of the sink's CPU time).
    lines: bytes
    delete: bool = False


def _ndjson(*lines: dict[str, Any]) -> bytes:
    try:
        return b"".join(orjson.dumps(line) + b"\n" for line in lines)
    except orjson.JSONEncodeError:
        # orjson refuses integers beyond 64 bits (MySQL BIGINT UNSIGNED, Python ints from SMTs): the stdlib writes
        # them as JSON numbers, as the HTTP clients did before.
        return b"".join(json.dumps(line, separators=(",", ":")).encode() + b"\n" for line in lines)


@dataclass(slots=True)
class _Outcome:
    action: _Action
    item: dict[str, Any]  # the bulk response item (the inner object: status, error …)


class ElasticsearchSinkTask(SinkTask):
    """``connector.class: elasticsearch`` / ``opensearch``."""

    def __init__(self, name: str, config: ElasticsearchSinkConfig, flavour: Flavour = "elasticsearch") -> None:
        self.name = name
        self.config = config
        self.flavour = flavour
        self._backend: SearchBackend | None = None
        self._context: SinkContext | None = None
        self._indices: set[str] = set()
        self._buffer: list[_Action] = []
        self._buffer_since = 0.0
        self._in_flight: deque[tuple[cf.Future[list[_Outcome]], list[_Action]]] = deque()
        self._pending_records = 0
        self._pool: cf.ThreadPoolExecutor | None = None
        max_in_flight = 1 if config.write_method == "upsert" else config.max_in_flight_requests
        self._max_in_flight = max_in_flight
        #: Documents acknowledged by the cluster (indexed, deleted, or already newer), for tests and benchmarks.
        self.written = 0

    # -- lifecycle ----------------------------------------------------------------------------------------------

    def start(self, context: SinkContext) -> None:
        """Connect and check the cluster answers (``RetriableError`` if not, ``FatalError`` if it refuses us)."""
        self._context = context
        from sinks.elasticsearch.backend import ElasticsearchBackend, OpenSearchBackend

        try:
            backend = OpenSearchBackend if self.flavour == "opensearch" else ElasticsearchBackend
            self._backend = backend(self.config)
            self._backend.ping()
        except TransientError as exc:
            raise RetriableError(f"{self.flavour} not reachable at {self.config.connection_url}: {exc}") from None
        except BackendError as exc:
            raise FatalError(f"{self.flavour} refused the connection: {exc} (check connection.*)") from None
        self._pool = cf.ThreadPoolExecutor(self._max_in_flight, thread_name_prefix=f"{self.name}-bulk")

    def stop(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        if self._backend is not None:
            self._backend.close()
            self._backend = None

    # -- writing ------------------------------------------------------------------------------------------------

    def put(self, records: Sequence[ConnectRecord]) -> None:
        """Buffer one action per record; send full or lingering batches (may block: backpressure)."""
        for record in records:
            try:
                action = self._action(record)
            except SkippableRecordError as exc:
                if self.config.drop_invalid_message and isinstance(exc, DocumentError):
                    log.warning("dropping invalid record %s: %s", _where(record), exc)
                else:
                    self._report(record, exc)
                continue
            if action is None:
                continue
            if not self._buffer:
                self._buffer_since = time.monotonic()
            self._buffer.append(action)
            if len(self._buffer) >= self.config.batch_size:
                self._send()
        if self._buffer and (time.monotonic() - self._buffer_since) * 1000 >= self.config.linger_ms:
            self._send()
        self._collect(block_until=self.config.max_buffered_records)

    def flush(self) -> None:
        """Send what is buffered and wait for every request (``RetriableError`` after ``flush.timeout.ms``)."""
        if self._buffer:
            self._send()
        deadline = time.monotonic() + self.config.flush_timeout_ms / 1000
        while self._in_flight:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RetriableError(f"flush did not complete within flush.timeout.ms={self.config.flush_timeout_ms}")
            try:
                self._in_flight[0][0].result(timeout=remaining)
            except cf.TimeoutError:
                continue
            except RetriableError:
                pass  # handled (and re-raised) by _finish_oldest
            self._finish_oldest()

    # -- building actions ---------------------------------------------------------------------------------------

    def _action(self, record: ConnectRecord) -> _Action | None:
        topic = record.original_topic or record.topic
        config = self.config
        ignore_key = config.ignores_key(topic)
        index = self._index_for(record)
        envelope = envelope_parts(record) if config.debezium_envelope == "unwrap" else None
        if envelope is not None:
            op, row, row_schema, source = envelope
            if op in ("t", "m"):
                return None  # truncate / logical message: no row to write
            if op == "d":
                if ignore_key:
                    return None  # documents are per event (topic+partition+offset): nothing to delete by key
                version = self._version(record, source)
                return _Action(record, _ndjson(self._meta("delete", index, document_id(record, False), version)), True)
            if row is None:
                raise DocumentError(f"change event op={op} without an 'after' row")
            self._ensure_index(index, row_schema, topic)
            doc = source_document(row_schema, row, config.compact_map_entries)
            doc_id = document_id(record, ignore_key)
            return self._write(record, index, doc_id, doc, None if ignore_key else self._version(record, source))
        if record.value is None:
            behaviour = config.behavior_on_null_values
            if behaviour == "ignore":
                return None
            if behaviour == "fail":
                raise DocumentError(
                    f"null value at {_where(record)}; set behavior.on.null.values to ignore or delete to accept "
                    "tombstones"
                )
            if ignore_key:
                return None
            # A tombstone has no source position: deleting with a Kafka-offset version would conflict with the
            # source-position versions of the documents, so it deletes unconditionally.
            version = self._header_version(record) if config.external_version_mode != "none" else None
            return _Action(record, _ndjson(self._meta("delete", index, document_id(record, False), version)), True)
        self._ensure_index(index, record.value_schema, topic)
        doc = source_document(record.value_schema, record.value, config.compact_map_entries)
        plain_id = document_id(record, ignore_key) if not (ignore_key and self._data_stream()) else None
        return self._write(record, index, plain_id, doc, None if ignore_key else self._version(record, None))

    def _write(
        self, record: ConnectRecord, index: str, doc_id: str | None, doc: dict[str, Any], version: int | None
    ) -> _Action:
        if self._data_stream():
            meta: dict[str, Any] = {"_index": index}
            if doc_id is not None:
                meta["_id"] = doc_id
            return _Action(record, _ndjson({"create": meta}, doc))
        if self.config.write_method == "upsert":
            assert doc_id is not None
            return _Action(
                record, _ndjson({"update": {"_index": index, "_id": doc_id}}, {"doc": doc, "doc_as_upsert": True})
            )
        assert doc_id is not None
        return _Action(record, _ndjson(self._meta("index", index, doc_id, version), doc))

    def _meta(self, op: str, index: str, doc_id: str, version: int | None) -> dict[str, Any]:
        meta: dict[str, Any] = {"_index": index, "_id": doc_id}
        if version is not None and self.config.write_method == "insert":
            meta["version"] = version
            meta["version_type"] = "external"
        return {op: meta}

    def _version(self, record: ConnectRecord, source: dict[str, Any] | None) -> int | None:
        mode = self.config.external_version_mode
        if mode == "none":
            return None
        if mode == "source":
            found = source_version(source) if source is not None else unwrapped_version(record)
            if found is not None:
                return found
        header = self._header_version(record)
        if header is not None:
            return header
        return record.kafka_offset

    def _header_version(self, record: ConnectRecord) -> int | None:
        name = self.config.external_version_header
        if not name:
            return None
        raw = record.header(name)
        if raw is None:
            raise DocumentError(f"header {name!r} (external.version.header) is missing")
        try:
            return int(raw.decode().strip('"'))
        except ValueError:
            raise DocumentError(f"header {name!r} is not a long: {raw[:40]!r}") from None

    def _data_stream(self) -> bool:
        return self.config.data_stream_type != "none"

    def _index_for(self, record: ConnectRecord) -> str:
        topic = record.topic
        if self._data_stream():
            namespace = self.config.data_stream_namespace.replace("${topic}", topic)
            return f"{self.config.data_stream_type}-{self.config.data_stream_dataset}-{namespace}".lower()
        return index_name(topic)

    def _ensure_index(self, index: str, schema: Any, topic: str) -> None:
        if index in self._indices:
            return
        assert self._backend is not None, "put before start"
        try:
            if self._data_stream():
                self._backend.create_data_stream(index)
            elif not self._backend.index_exists(index):
                mappings = None
                if schema is not None and not self.config.ignores_schema(topic):
                    mappings = mapping(schema, self.config.compact_map_entries)
                self._backend.create_index(index, mappings)
        except TransientError as exc:
            raise RetriableError(f"creating index {index!r}: {exc}") from None
        except BackendError as exc:
            raise FatalError(f"creating index {index!r} failed: {exc}") from None
        self._indices.add(index)

    # -- sending and results ------------------------------------------------------------------------------------

    def _send(self) -> None:
        batch, self._buffer = self._buffer, []
        if not batch:
            return
        assert self._pool is not None, "put before start"
        while len(self._in_flight) >= self._max_in_flight:
            self._finish_oldest()
        self._pending_records += len(batch)
        self._in_flight.append((self._pool.submit(self._bulk_with_retries, batch), batch))

    def _collect(self, block_until: int) -> None:
        """Handle finished requests; wait for the oldest while more than ``block_until`` records are pending."""
        while self._in_flight and (self._in_flight[0][0].done() or self._pending_records > block_until):
            self._finish_oldest()

    def _finish_oldest(self) -> None:
        """Wait for the oldest request and handle its items. If it failed with a retriable error its records go
        back to the front of the buffer before the error is raised: records handed to ``put`` earlier are written
        by a later ``put``/``flush``, never lost behind offsets the runtime commits."""
        future, batch = self._in_flight.popleft()
        try:
            outcomes = future.result()
        except RetriableError:
            self._pending_records -= len(batch)
            self._buffer = batch + self._buffer
            self._buffer_since = time.monotonic()
            raise
        self._handle(outcomes)

    def _bulk_with_retries(self, batch: list[_Action]) -> list[_Outcome]:
        """Runs on the pool: one bulk request, retrying transient failures and 429 items with backoff."""
        assert self._backend is not None
        outcomes: list[_Outcome] = []
        pending = batch
        attempt = 0
        while True:
            body = b"".join(action.lines for action in pending)
            try:
                response = self._backend.bulk(body)
            except TransientError as exc:
                attempt = self._backoff(attempt, str(exc))
                continue
            except BackendError as exc:
                raise FatalError(f"bulk request rejected: {exc}") from None
            retry: list[_Action] = []
            for action, item in zip(pending, response.get("items", []), strict=False):
                inner = next(iter(item.values()))
                if inner.get("status") == 429 or (inner.get("status", 0) >= 500 and "error" in inner):
                    retry.append(action)
                else:
                    outcomes.append(_Outcome(action, inner))
            if not retry:
                return outcomes
            pending = retry
            attempt = self._backoff(attempt, f"{len(retry)} item(s) rejected with 429/5xx")

    def _backoff(self, attempt: int, reason: str) -> int:
        if attempt >= self.config.max_retries:
            raise RetriableError(f"bulk request failed after {attempt + 1} attempt(s): {reason}")
        # Confluent's backoff: retry.backoff.ms * 2^attempt, with jitter.
        delay = self.config.retry_backoff_ms * (2**attempt) / 1000
        log.warning("bulk request failed (%s); retry %d in %.2fs", reason, attempt + 1, delay)
        time.sleep(delay * (0.5 + random.random() / 2))
        return attempt + 1

    def _handle(self, outcomes: list[_Outcome]) -> None:
        """Account for one finished request's items (on the runtime's thread)."""
        for outcome in outcomes:
            self._pending_records -= 1
            item = outcome.item
            status = int(item.get("status", 0))
            error = item.get("error")
            if status < 300 and not error:
                self.written += 1
                continue
            error_type = error.get("type", "") if isinstance(error, dict) else ""
            if status == 409 and error_type == "version_conflict_engine_exception":
                self.written += 1  # the stored document is already at this or a newer version
                continue
            if status == 404 and outcome.action.delete:
                self.written += 1  # deleting what is not there
                continue
            message = orjson.dumps(error).decode() if error is not None else f"HTTP {status}"
            if status == 400:
                self._malformed(outcome.action.record, message)
            else:
                raise FatalError(f"{self.flavour} rejected {_where(outcome.action.record)}: {message}")

    def _malformed(self, record: ConnectRecord, message: str) -> None:
        behaviour = self.config.behavior_on_malformed_documents
        if behaviour == "ignore":
            log.debug("ignoring malformed document %s: %s", _where(record), message)
        elif behaviour == "warn":
            log.warning("ignoring malformed document %s: %s", _where(record), message)
        else:
            self._report(record, MalformedDocumentError(f"{self.flavour} rejected the document: {message}"))

    def _report(self, record: ConnectRecord, error: BaseException) -> None:
        if self._context is None:
            raise error
        self._context.report(record, error)


def _where(record: ConnectRecord) -> str:
    return f"{record.original_topic or record.topic}-{record.partition}@{record.kafka_offset}"

"""The two HTTP clients behind the sink: elasticsearch-py for Elasticsearch, opensearch-py for OpenSearch.

elasticsearch-py refuses servers that are not Elasticsearch, so the OpenSearch flavour uses opensearch-py; both
send the same bulk API. The sink task only sees :class:`SearchBackend`. Errors are normalised: ``TransientError``
(connection refused, timeouts, TLS handshakes, HTTP 429/5xx: retry) and ``BackendError`` (anything else: fatal).
Bulk bodies arrive already serialized (NDJSON bytes, see ``sinks.elasticsearch.task``) and responses are parsed
with orjson: the clients' stdlib json was a large part of the sink's CPU time.
"""

from __future__ import annotations

from typing import Any, Protocol

import orjson

from sinks.elasticsearch.config import ElasticsearchSinkConfig


class BackendError(Exception):
    """A request failed for a reason retrying cannot fix (authentication, bad request)."""


class TransientError(BackendError):
    """A request failed for a reason that may go away (connection, timeout, overload)."""


class SearchBackend(Protocol):
    """What the sink task needs from a cluster."""

    def ping(self) -> None: ...
    def index_exists(self, name: str) -> bool: ...
    def create_index(self, name: str, mappings: dict[str, Any] | None) -> None: ...
    def create_data_stream(self, name: str) -> None: ...
    def bulk(self, body: bytes) -> dict[str, Any]: ...
    def close(self) -> None: ...


def _tls(config: ElasticsearchSinkConfig) -> dict[str, Any]:
    """The client's TLS options (the same names in elasticsearch-py and opensearch-py) from ``elastic.https.*``."""
    if config.elastic_security_protocol != "ssl" and not any(u.startswith("https://") for u in config.urls):
        return {}
    options: dict[str, Any] = {"verify_certs": True}
    if config.ssl_truststore_location:
        options["ca_certs"] = config.ssl_truststore_location
    if config.ssl_keystore_location:
        options["client_cert"] = config.ssl_keystore_location
        options["client_key"] = config.ssl_keystore_location
    if not config.ssl_endpoint_identification_algorithm:
        options["ssl_assert_hostname"] = False
    return options


def _auth(config: ElasticsearchSinkConfig) -> tuple[str, str] | None:
    if config.connection_username and config.connection_password is not None:
        return (config.connection_username, config.connection_password.get_secret_value())
    return None


def _classify(status: Any, text: str) -> BackendError:
    if isinstance(status, int) and (status == 429 or status >= 500):
        return TransientError(f"HTTP {status}: {text}")
    return BackendError(f"HTTP {status}: {text}")


def _short(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:400]


class _Backend:
    """What both flavours share; subclasses make ``_client`` and translate the client's exceptions in ``_call``."""

    _client: Any

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    def _create(self, fn: Any, **kwargs: Any) -> None:
        """Create an index or data stream; one that already exists (another task made it) is fine."""
        try:
            self._call(fn, **kwargs)
        except BackendError as exc:
            if "resource_already_exists_exception" not in str(exc):
                raise

    def ping(self) -> None:
        self._call(self._client.info)

    def index_exists(self, name: str) -> bool:
        return bool(self._call(self._client.indices.exists, index=name))

    def create_data_stream(self, name: str) -> None:
        self._create(self._client.indices.create_data_stream, name=name)

    def close(self) -> None:
        self._client.close()


class ElasticsearchBackend(_Backend):
    """elasticsearch-py (8.x client: Elasticsearch 7.11+ and 8.x servers)."""

    def __init__(self, config: ElasticsearchSinkConfig) -> None:
        from elastic_transport import OrjsonSerializer
        from elasticsearch import Elasticsearch

        orjson_serializer = OrjsonSerializer()
        self._client = Elasticsearch(
            config.urls,
            basic_auth=_auth(config),
            request_timeout=max(config.read_timeout_ms, 1000) / 1000,
            http_compress=config.connection_compression,
            max_retries=0,  # the task retries with its own backoff (retry.backoff.ms, max.retries)
            retry_on_timeout=False,
            serializers={
                "application/json": orjson_serializer,
                "application/vnd.elasticsearch+json": orjson_serializer,
            },
            **_tls(config),
        )

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        import elasticsearch

        try:
            return fn(*args, **kwargs)
        except (elasticsearch.ConnectionError, elasticsearch.ConnectionTimeout) as exc:
            raise TransientError(f"{type(exc).__name__}: {_short(exc)}") from None
        except elasticsearch.ApiError as exc:
            raise _classify(exc.meta.status, _short(exc)) from None
        except elasticsearch.TransportError as exc:
            raise TransientError(f"{type(exc).__name__}: {_short(exc)}") from None

    def create_index(self, name: str, mappings: dict[str, Any] | None) -> None:
        extra = {} if mappings is None else {"mappings": mappings}
        self._create(self._client.indices.create, index=name, **extra)

    def bulk(self, body: bytes) -> dict[str, Any]:
        return dict(self._call(self._client.bulk, operations=body))


class OpenSearchBackend(_Backend):
    """opensearch-py (OpenSearch 1.x to 3.x)."""

    def __init__(self, config: ElasticsearchSinkConfig) -> None:
        from opensearchpy import JSONSerializer, OpenSearch

        class _OrjsonSerializer(JSONSerializer):
            def loads(self, s: Any) -> Any:
                return orjson.loads(s)

        self._client = OpenSearch(
            hosts=config.urls,
            http_auth=_auth(config),
            timeout=max(config.read_timeout_ms, 1000) / 1000,
            http_compress=config.connection_compression,
            max_retries=0,
            retry_on_timeout=False,
            serializer=_OrjsonSerializer(),
            **_tls(config),
        )

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        import opensearchpy

        try:
            return fn(*args, **kwargs)
        except (opensearchpy.ConnectionError, opensearchpy.ConnectionTimeout) as exc:
            raise TransientError(f"{type(exc).__name__}: {_short(exc)}") from None
        except opensearchpy.TransportError as exc:
            raise _classify(exc.status_code, _short(exc)) from None

    def create_index(self, name: str, mappings: dict[str, Any] | None) -> None:
        self._create(self._client.indices.create, index=name, body=None if mappings is None else {"mappings": mappings})

    def bulk(self, body: bytes) -> dict[str, Any]:
        return dict(self._call(self._client.bulk, body=body))

"""The two HTTP clients behind the sink: elasticsearch-py for Elasticsearch, opensearch-py for OpenSearch.

elasticsearch-py refuses servers that are not Elasticsearch, so the OpenSearch flavour uses opensearch-py; both
send the same bulk API. The sink task only sees :class:`SearchBackend`. Errors are normalised: ``TransientError``
(connection refused, timeouts, HTTP 429/5xx: retry) and ``BackendError`` (anything else: fatal).
"""

from __future__ import annotations

from typing import Any, Protocol

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
    def bulk(self, lines: list[dict[str, Any]]) -> dict[str, Any]: ...
    def close(self) -> None: ...


def _tls(config: ElasticsearchSinkConfig) -> dict[str, Any]:
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


def _classify(status: Any, text: str) -> BackendError:
    if isinstance(status, int) and (status == 429 or status >= 500):
        return TransientError(f"HTTP {status}: {text}")
    return BackendError(f"HTTP {status}: {text}")


def _short(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:400]


class ElasticsearchBackend:
    """elasticsearch-py (8.x client: Elasticsearch 7.11+ and 8.x servers)."""

    def __init__(self, config: ElasticsearchSinkConfig) -> None:
        from elasticsearch import Elasticsearch

        auth = None
        if config.connection_username and config.connection_password is not None:
            auth = (config.connection_username, config.connection_password.get_secret_value())
        self._client = Elasticsearch(
            config.urls,
            basic_auth=auth,
            request_timeout=max(config.read_timeout_ms, 1000) / 1000,
            http_compress=config.connection_compression,
            max_retries=0,  # the task retries with its own backoff (retry.backoff.ms, max.retries)
            retry_on_timeout=False,
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

    def ping(self) -> None:
        self._call(self._client.info)

    def index_exists(self, name: str) -> bool:
        return bool(self._call(self._client.indices.exists, index=name))

    def create_index(self, name: str, mappings: dict[str, Any] | None) -> None:
        try:
            if mappings is None:
                self._call(self._client.indices.create, index=name)
            else:
                self._call(self._client.indices.create, index=name, mappings=mappings)
        except BackendError as exc:
            if "resource_already_exists_exception" not in str(exc):
                raise

    def create_data_stream(self, name: str) -> None:
        try:
            self._call(self._client.indices.create_data_stream, name=name)
        except BackendError as exc:
            if "resource_already_exists_exception" not in str(exc):
                raise

    def bulk(self, lines: list[dict[str, Any]]) -> dict[str, Any]:
        return dict(self._call(self._client.bulk, operations=lines))

    def close(self) -> None:
        self._client.close()


class OpenSearchBackend:
    """opensearch-py (OpenSearch 1.x to 3.x)."""

    def __init__(self, config: ElasticsearchSinkConfig) -> None:
        from opensearchpy import OpenSearch

        auth = None
        if config.connection_username and config.connection_password is not None:
            auth = (config.connection_username, config.connection_password.get_secret_value())
        self._client = OpenSearch(
            hosts=config.urls,
            http_auth=auth,
            timeout=max(config.read_timeout_ms, 1000) / 1000,
            http_compress=config.connection_compression,
            max_retries=0,
            retry_on_timeout=False,
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

    def ping(self) -> None:
        self._call(self._client.info)

    def index_exists(self, name: str) -> bool:
        return bool(self._call(self._client.indices.exists, index=name))

    def create_index(self, name: str, mappings: dict[str, Any] | None) -> None:
        body = {"mappings": mappings} if mappings is not None else None
        try:
            self._call(self._client.indices.create, index=name, body=body)
        except BackendError as exc:
            if "resource_already_exists_exception" not in str(exc):
                raise

    def create_data_stream(self, name: str) -> None:
        try:
            self._call(self._client.indices.create_data_stream, name=name)
        except BackendError as exc:
            if "resource_already_exists_exception" not in str(exc):
                raise

    def bulk(self, lines: list[dict[str, Any]]) -> dict[str, Any]:
        return dict(self._call(self._client.bulk, body=lines))

    def close(self) -> None:
        self._client.close()

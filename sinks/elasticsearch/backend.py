"""The two HTTP clients behind the sink: elasticsearch-py for Elasticsearch, opensearch-py for OpenSearch.

elasticsearch-py refuses servers that are not Elasticsearch, so the OpenSearch flavour uses opensearch-py; both
send the same bulk API. The sink task only sees :class:`SearchBackend`. Errors are normalised: ``TransientError``
(connection refused, timeouts, TLS handshakes, HTTP 429/5xx: retry) and ``BackendError`` (anything else: fatal).
Bulk bodies arrive already serialized (NDJSON bytes, see ``sinks.elasticsearch.task``) and responses are parsed
with orjson: the clients' stdlib json was a large part of the sink's CPU time.
"""

from __future__ import annotations

import ssl
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
    """The client's TLS options (the same in elasticsearch-py and opensearch-py) from ``elastic.https.ssl.*``.

    One ``ssl.SSLContext`` carries them all: the trust store (PEM CA certificates; the system's when none is
    given), the key store (PEM certificate + private key, for mutual TLS) with ``elastic.https.ssl.key.password``
    for an encrypted key, and the host name check (off when ``…endpoint.identification.algorithm`` is empty).

    :raises BackendError: a PEM file that cannot be read (the config checked that it exists).
    """
    if config.elastic_security_protocol != "ssl" and not any(u.startswith("https://") for u in config.urls):
        return {}
    try:
        context = ssl.create_default_context(cafile=config.ssl_truststore_location)
        if config.ssl_keystore_location:
            password = config.ssl_key_password.get_secret_value() if config.ssl_key_password else None
            context.load_cert_chain(config.ssl_keystore_location, password=password)
    except (OSError, ssl.SSLError) as exc:
        raise BackendError(f"cannot load the TLS trust/key store (elastic.https.ssl.*): {exc}") from None
    options: dict[str, Any] = {"ssl_context": context}
    if not config.ssl_endpoint_identification_algorithm:
        context.check_hostname = False
        options["ssl_assert_hostname"] = False
    return options


def _tls_problem(exc: BaseException) -> BackendError | None:
    """A certificate the client refuses is not going to change by retrying: a clear, fatal error."""
    parts: list[BaseException] = [exc]
    for part in parts:  # the SSL error hides behind the transport's wrapper exceptions
        parts += [
            e
            for e in (*getattr(part, "errors", ()), part.__cause__, part.__context__)
            if isinstance(e, BaseException) and e not in parts
        ][: 8 - len(parts)]
    text = " ".join(str(part) for part in parts)
    if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
        reason = text[text.find("certificate verify failed") :].split("(_ssl")[0].strip(" )'\"")
        return BackendError(
            f"TLS: the server's certificate is not trusted ({reason}); check elastic.https.ssl.truststore.location "
            "and the host name in connection.url"
        )
    return None


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
            if problem := _tls_problem(exc):
                raise problem from None
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
            if problem := _tls_problem(exc):
                raise problem from None
            raise TransientError(f"{type(exc).__name__}: {_short(exc)}") from None
        except opensearchpy.TransportError as exc:
            raise _classify(exc.status_code, _short(exc)) from None

    def create_index(self, name: str, mappings: dict[str, Any] | None) -> None:
        self._create(self._client.indices.create, index=name, body=None if mappings is None else {"mappings": mappings})

    def bulk(self, body: bytes) -> dict[str, Any]:
        return dict(self._call(self._client.bulk, body=body))

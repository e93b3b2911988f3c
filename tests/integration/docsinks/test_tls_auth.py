"""TLS and credentials of the document sinks, over the wire with the real clients.

The stand-ins speak neither TLS nor authentication, so a TLS-terminating proxy (``servers.tls_proxy``, with a
throwaway CA made by the ``cryptography`` package) sits in front of them; for Elasticsearch/OpenSearch it also
demands HTTP basic auth and answers 401 ``security_exception`` like a secured cluster. What is exercised:

- MongoDB: pymongo with ``tls=true&tlsCAFile=…`` in ``connection.uri`` writes through the proxy; a CA that did not
  sign the server's certificate fails at start with a clear FatalError; credentials in the URI make pymongo
  authenticate (SCRAM) — the stand-in has no authentication, so only the refusal path can be checked here;
- Elasticsearch / OpenSearch: ``https://`` URLs, ``elastic.security.protocol=SSL``,
  ``elastic.https.ssl.truststore.location`` (PEM) and ``connection.username``/``password`` write through the proxy;
  a wrong password (401) and a wrong CA fail at start with a clear FatalError that never shows the password;
- mutual TLS: a client certificate with an encrypted key (``tlsCertificateKeyFile`` + password in the URI,
  ``elastic.https.ssl.keystore.location`` + ``elastic.https.ssl.key.password``) through a proxy that demands one;
- the CLI (``cdc-engine start``) writes through TLS + basic auth without logging the password, and with a wrong
  CA exits 1 with one ``fatal:`` line and no traceback.

Runs only against the stand-ins (a real server given by URL has its own TLS set-up).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pymongo
import pytest
from docsink_records import change, row

from cdc.errors import CdcError, ConfigError, FatalError
from servers.tls import Pki, make_pki
from servers.tls_proxy import TlsProxy

HANDLER = "com.mongodb.kafka.connect.sink.cdc.debezium.rdbms.RdbmsHandler"
USER, PASSWORD = "elastic", "s3cret-Pa55"
REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def _standin(server: Any) -> None:
    if not server.is_standin:
        pytest.skip("TLS/auth tests put a proxy in front of the stand-in; a real server has its own set-up")


@pytest.fixture(scope="module")
def mongo_tls(mongodb_server: Any, pki: Pki) -> Iterator[TlsProxy]:
    _standin(mongodb_server)
    with TlsProxy(mongodb_server.host, mongodb_server.port, pki).start() as proxy:
        yield proxy


@pytest.fixture(scope="module", params=["elasticsearch", "opensearch"])
def search_tls(request: pytest.FixtureRequest, pki: Pki) -> Iterator[tuple[str, TlsProxy]]:
    server = request.getfixturevalue(f"{request.param}_server")
    _standin(server)
    url = urlparse(server.url)
    with TlsProxy(url.hostname or "127.0.0.1", url.port or 9200, pki, basic_auth=(USER, PASSWORD)).start() as proxy:
        yield request.param, proxy


def _mongo_uri(proxy: TlsProxy, ca: Path, credentials: str = "", timeout_ms: int = 10000) -> str:
    return (
        f"mongodb://{credentials}localhost:{proxy.port}/?directConnection=true&tls=true&tlsCAFile={ca}"
        f"&serverSelectionTimeoutMS={timeout_ms}"
    )


def _mongo_task(uri: str, collection: str) -> Any:
    from sinks.mongodb import SPEC

    config = SPEC.config_model.model_validate(
        {
            "connector.class": "mongodb",
            "connection.uri": uri,
            "database": "tls",
            "collection": collection,
            "topics": "t",
            "change.data.capture.handler": HANDLER,
        }
    )
    return SPEC.factory("tls-sink", config)


def test_mongodb_writes_over_tls(mongo_tls: TlsProxy, pki: Pki, sink_context: Any, unique: str) -> None:
    uri = _mongo_uri(mongo_tls, pki.ca_cert)
    task = _mongo_task(uri, unique)
    task.start(sink_context)
    before = mongo_tls.connections
    task.put([change("t", "c", 1, 100, 0, after=row(1)), change("t", "c", 2, 110, 1, after=row(2, name="two"))])
    task.flush()
    task.stop()
    assert not sink_context.reported
    client: pymongo.MongoClient[dict[str, Any]]
    with pymongo.MongoClient(uri) as client:
        names = sorted(d["name"] for d in client.tls[unique].find())
    assert names == ["two", "widget"]
    assert mongo_tls.connections >= before  # every connection of the sink went through the TLS proxy


def test_mongodb_untrusted_certificate_is_a_clear_fatal_error(
    mongo_tls: TlsProxy, pki: Pki, sink_context: Any, unique: str
) -> None:
    task = _mongo_task(_mongo_uri(mongo_tls, pki.other_ca_cert, timeout_ms=1500), unique)
    with pytest.raises(FatalError, match=r"certificate is not trusted.*tlsCAFile"):
        task.start(sink_context)
    task.stop()


def test_mongodb_missing_ca_file_is_a_config_error(mongo_tls: TlsProxy, tmp_path: Path, sink_context: Any) -> None:
    task = _mongo_task(_mongo_uri(mongo_tls, tmp_path / "missing.pem"), "x")
    with pytest.raises(ConfigError, match=r"connection.uri"):
        task.start(sink_context)


def test_mongodb_credentials_are_sent_and_a_refusal_is_fatal(
    mongo_tls: TlsProxy, pki: Pki, sink_context: Any, unique: str
) -> None:
    """pymongo authenticates when the URI has credentials (SCRAM). The stand-in has no authentication and answers
    ``saslStart`` with CommandNotFound, a real server with AuthenticationFailed for a wrong password: either way
    the task stops with a FatalError that does not show the password. A successful SCRAM login cannot be tested
    here (no server with users)."""
    task = _mongo_task(_mongo_uri(mongo_tls, pki.ca_cert, credentials="root:Wr0ng-pw@"), unique)
    with pytest.raises(FatalError, match="refused the connection") as caught:
        task.start(sink_context)
    assert "Wr0ng-pw" not in str(caught.value)
    task.stop()


def _search_task(flavour: str, proxy: TlsProxy, ca: Path, password: str = PASSWORD, **props: Any) -> Any:
    from sinks.elasticsearch import SPEC as ES
    from sinks.elasticsearch.opensearch import SPEC as OS

    spec = ES if flavour == "elasticsearch" else OS
    raw = {
        "connector.class": flavour,
        "connection.url": f"https://localhost:{proxy.port}",
        "elastic.security.protocol": "SSL",
        "elastic.https.ssl.truststore.location": str(ca),
        "elastic.https.ssl.truststore.type": "PEM",
        "connection.username": USER,
        "connection.password": password,
        "linger.ms": "0",
        "read.timeout.ms": "30000",
        **props,
    }
    return spec.factory(f"{flavour}-tls", spec.config_model.model_validate(raw))


def test_search_writes_over_tls_with_basic_auth(
    search_tls: tuple[str, TlsProxy], pki: Pki, sink_context: Any, unique: str
) -> None:
    flavour, proxy = search_tls
    topic = f"tls_{unique}"
    task = _search_task(flavour, proxy, pki.ca_cert, topics=topic)
    task.start(sink_context)
    task.put([change(topic, "c", 1, 100, 0, after=row(1)), change(topic, "c", 2, 110, 1, after=row(2, name="two"))])
    task.flush()
    task.stop()
    assert not sink_context.reported and task.written == 2
    assert proxy.rejected == 0
    # Read back through the proxy with the same credentials and CA, as a user of the secured cluster would.
    import base64
    import ssl
    import urllib.request

    request = urllib.request.Request(
        f"https://localhost:{proxy.port}/{topic}/_search?size=10",
        headers={"Authorization": "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()},
    )
    context = ssl.create_default_context(cafile=str(pki.ca_cert))
    urllib.request.urlopen(  # refresh so that the documents are searchable on a real cluster
        urllib.request.Request(f"https://localhost:{proxy.port}/{topic}/_refresh", headers=request.headers),
        context=context,
    ).read()
    with urllib.request.urlopen(request, context=context) as response:
        hits = json.loads(response.read())["hits"]["hits"]
    assert sorted(h["_source"]["name"] for h in hits) == ["two", "widget"]


def test_search_wrong_password_is_a_clear_fatal_error(
    search_tls: tuple[str, TlsProxy], pki: Pki, sink_context: Any
) -> None:
    flavour, proxy = search_tls
    rejected = proxy.rejected
    task = _search_task(flavour, proxy, pki.ca_cert, password="Wr0ng-pw", topics="t")
    with pytest.raises(FatalError, match=r"HTTP 401.*check connection") as caught:
        task.start(sink_context)
    assert "Wr0ng-pw" not in str(caught.value)
    assert proxy.rejected > rejected
    task.stop()


def test_search_untrusted_certificate_is_a_clear_fatal_error(
    search_tls: tuple[str, TlsProxy], pki: Pki, sink_context: Any
) -> None:
    flavour, proxy = search_tls
    task = _search_task(flavour, proxy, pki.other_ca_cert, topics="t")
    with pytest.raises(FatalError, match=r"certificate is not trusted.*truststore.location"):
        task.start(sink_context)
    task.stop()


def test_search_tls_config_problems_are_reported_together(tmp_path: Path) -> None:
    from cdc.config import load_engine_config

    document = {
        "name": "es-bad-tls",
        "config": {
            "connector.class": "io.confluent.connect.elasticsearch.ElasticsearchSinkConnector",
            "connection.url": "http://localhost:9200",
            "topics": "t",
            "elastic.security.protocol": "SSL",
            "elastic.https.ssl.truststore.location": str(tmp_path / "missing.pem"),
            "elastic.https.ssl.keystore.type": "JKS",
        },
        "worker": {"bootstrap.servers": "localhost:9092"},
    }
    with pytest.raises(ConfigError) as caught:
        load_engine_config(None, document=document)
    text = str(caught.value.render())
    assert "needs https:// URLs" in text and "no such file" in text and "use PEM files" in text


@pytest.mark.parametrize("search_tls", ["elasticsearch"], indirect=True)  # one CLI run: the error path is shared
def test_cli_exits_with_one_fatal_line_on_an_untrusted_certificate(
    search_tls: tuple[str, TlsProxy], pki: Pki, kafka_broker: Any, tmp_path: Path
) -> None:
    _flavour, proxy = search_tls
    document = {
        "name": "es-untrusted",
        "config": {
            "connector.class": "io.confluent.connect.elasticsearch.ElasticsearchSinkConnector",
            "connection.url": f"https://localhost:{proxy.port}",
            "elastic.security.protocol": "SSL",
            "elastic.https.ssl.truststore.location": str(pki.other_ca_cert),
            "connection.username": USER,
            "connection.password": PASSWORD,
            "topics": "t",
        },
        "worker": {"bootstrap.servers": kafka_broker.bootstrap_servers},
    }
    path = tmp_path / "sink.json"
    path.write_text(json.dumps(document))
    done = subprocess.run(
        [sys.executable, "-m", "cdc.cli", "start", "--config", str(path), "--no-progress"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "fatal:" in output and "certificate is not trusted" in output, output
    assert "Traceback" not in output and PASSWORD not in output, output


def test_mutual_tls_with_an_encrypted_client_key(
    mongodb_server: Any, elasticsearch_server: Any, pki: Pki, sink_context: Any, unique: str
) -> None:
    """Client certificates: pymongo's ``tlsCertificateKeyFile`` + ``tlsCertificateKeyFilePassword`` in the URI, and
    ``elastic.https.ssl.keystore.location`` + ``elastic.https.ssl.key.password`` (one PEM with the certificate and
    the encrypted key), through a proxy that refuses clients without a certificate signed by the CA."""
    _standin(mongodb_server)
    _standin(elasticsearch_server)
    url = urlparse(elasticsearch_server.url)
    with (
        TlsProxy(mongodb_server.host, mongodb_server.port, pki, require_client_cert=True).start() as mongo_proxy,
        TlsProxy(url.hostname or "", url.port or 0, pki, (USER, PASSWORD), require_client_cert=True).start() as es,
    ):
        uri = (
            _mongo_uri(mongo_proxy, pki.ca_cert)
            + f"&tlsCertificateKeyFile={pki.client_pem}&tlsCertificateKeyFilePassword={pki.client_key_password}"
        )
        mongo_task = _mongo_task(uri, unique)
        mongo_task.start(sink_context)
        mongo_task.put([change("t", "c", 1, 100, 0, after=row(1))])
        mongo_task.flush()
        mongo_task.stop()
        client: pymongo.MongoClient[dict[str, Any]]
        with pymongo.MongoClient(uri) as client:
            assert client.tls[unique].count_documents({}) == 1

        topic = f"mtls_{unique}"
        es_task = _search_task(
            "elasticsearch",
            es,
            pki.ca_cert,
            topics=topic,
            **{
                "elastic.https.ssl.keystore.location": str(pki.client_pem),
                "elastic.https.ssl.keystore.type": "PEM",
                "elastic.https.ssl.key.password": pki.client_key_password,
            },
        )
        es_task.start(sink_context)
        es_task.put([change(topic, "c", 1, 100, 0, after=row(1))])
        es_task.flush()
        es_task.stop()
        assert es_task.written == 1 and not sink_context.reported

        # Without its certificate the same client does not get through (the handshake is refused).
        plain = _search_task("elasticsearch", es, pki.ca_cert, topics=topic, **{"read.timeout.ms": "2000"})
        with pytest.raises(CdcError):
            plain.start(sink_context)
        plain.stop()


@pytest.mark.parametrize("search_tls", ["elasticsearch"], indirect=True)  # one CLI run: shared connection code
def test_cli_writes_through_tls_and_basic_auth_without_logging_the_password(
    search_tls: tuple[str, TlsProxy], pki: Pki, kafka_broker: Any, tmp_path: Path, unique: str
) -> None:
    """The issue's Elasticsearch config with TLS and credentials added, run by ``cdc-engine start``: the documents
    arrive through the proxy (which refuses requests without the credentials) and the log never shows the
    password."""
    import time

    from confluent_kafka import Producer
    from docsink_records import Cluster

    from servers.engine import EngineProcess

    _flavour, proxy = search_tls
    topic = f"users_{unique}"
    producer = Producer({"bootstrap.servers": kafka_broker.bootstrap_servers})
    for i in range(3):
        producer.produce(topic, json.dumps({"name": f"user {i}"}).encode(), partition=0)
    assert producer.flush(30) == 0
    document = {
        "name": f"es-tls-{unique}",
        "config": {
            "connector.class": "io.confluent.connect.elasticsearch.ElasticsearchSinkConnector",
            "connection.url": f"https://localhost:{proxy.port}",
            "elastic.security.protocol": "SSL",
            "elastic.https.ssl.truststore.location": str(pki.ca_cert),
            "elastic.https.ssl.truststore.type": "PEM",
            "connection.username": USER,
            "connection.password": PASSWORD,
            "topics": topic,
            "key.ignore": "true",
            "schema.ignore": "true",
            "tasks.max": "1",
            "value.converter": "org.apache.kafka.connect.json.JsonConverter",
            "value.converter.schemas.enable": "false",
        },
        "worker": {"bootstrap.servers": kafka_broker.bootstrap_servers, "offset.flush.interval.ms": 500},
    }
    engine = EngineProcess(document, tmp_path).start()
    cluster = Cluster("http://{}:{}".format(*proxy.upstream))  # read behind the proxy
    connections = proxy.connections
    try:
        deadline = time.monotonic() + 90
        while len(cluster.all_docs(topic) if cluster.get(topic)[0] == 200 else {}) < 3:
            assert engine.proc is not None and engine.proc.poll() is None, engine.log()[-3000:]
            assert time.monotonic() < deadline, engine.log()[-3000:]
            time.sleep(0.3)
        assert engine.terminate() == 0, engine.log()[-3000:]
    finally:
        engine.kill_if_running()
    assert sorted(d["name"] for d in cluster.all_docs(topic).values()) == ["user 0", "user 1", "user 2"]
    assert proxy.connections > connections  # the sink came through the TLS proxy
    assert PASSWORD not in engine.log() and "Traceback" not in engine.log()

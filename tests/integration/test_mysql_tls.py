"""``database.ssl.mode`` against a real MariaDB 10.11 with TLS (certificates made with ``openssl`` in a temp dir).

The connector's user is altered to ``REQUIRE SSL``, so a connector that connects at all — catalog, snapshot and
binlog connections — proves it speaks TLS. Each run takes a snapshot of one row and streams one insert.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from engine_helpers import EngineThread, payloads, wait_for_records
from mysql_helpers import mysql_document, run_sql

from cdc.errors import CdcError
from servers import MariaDBServer, MySQLFamilyServer
from servers.tls import Pki, make_pki, mysql_tls_args

DB = "tls"


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """The server's certificates, and a second, unrelated CA (a truststore that must not be accepted)."""
    pki = make_pki(tmp_path_factory.mktemp("tls"))
    pki.server_key.chmod(0o644)  # the server may run as another user than the one that made the files
    return pki


@pytest.fixture(scope="module")
def tls_mariadb(tls_files: Pki) -> Iterator[MySQLFamilyServer]:
    server = MariaDBServer()
    server.start(mysql_tls_args(tls_files))
    try:
        have_ssl = server.execute("SHOW GLOBAL VARIABLES LIKE 'have_ssl'")
        assert have_ssl and have_ssl[0][1] == "YES", have_ssl
        server.create_database(DB)
        run_sql(server, DB, "CREATE TABLE t (id INT PRIMARY KEY)", "INSERT INTO t VALUES (1)")
        server.execute(f"ALTER USER '{server.user}'@'%' REQUIRE SSL")
        yield server
    finally:
        server.stop()


def _capture(server: MySQLFamilyServer, bootstrap: str, new_id: int, **props: Any) -> list[tuple[str, int]]:
    """Snapshot then one streamed insert with ``props``; the (op, id) pairs delivered."""
    doc = mysql_document(server, bootstrap, DB, **props)
    topic = f"{doc['name']}.{DB}.t"
    with EngineThread(doc):
        wait_for_records(bootstrap, topic, new_id - 1)
        run_sql(server, DB, f"INSERT INTO t VALUES ({new_id})")
        records = wait_for_records(bootstrap, topic, new_id)
    return sorted((p["op"], p["after"]["id"]) for p in payloads(records) if p)


def _refused(server: MySQLFamilyServer, bootstrap: str, **props: Any) -> str:
    """Start a connector that must fail at start-up; its error message."""
    engine = EngineThread(mysql_document(server, bootstrap, DB, **props))
    engine.start()
    assert engine.wait_finished(60), "the connector kept retrying instead of failing"
    assert isinstance(engine.error, CdcError), engine.error
    return str(engine.error)


def test_tls_modes_against_mariadb(
    tls_mariadb: MySQLFamilyServer, tls_files: Pki, kafka_broker: Any, tmp_path: Path
) -> None:
    server, bootstrap = tls_mariadb, kafka_broker.bootstrap_servers
    pki = tls_files
    accepts_before = int(server.execute("SHOW GLOBAL STATUS LIKE 'Ssl_accepts'")[0][1])
    # required: TLS without checking the certificate.
    assert _capture(server, bootstrap, 2, **{"database.ssl.mode": "required"}) == [("c", 2), ("r", 1)]
    # verify_identity with the CA as a PEM truststore: the certificate names 127.0.0.1 / localhost.
    props = {"database.ssl.mode": "verify_identity", "database.ssl.truststore": str(pki.ca_cert)}
    assert _capture(server, bootstrap, 3, **props) == [("c", 3), ("r", 1), ("r", 2)]
    # verify_ca with a PKCS#12 truststore made by Java's keytool (what Debezium users have).
    if shutil.which("keytool"):
        store = tmp_path / "trust.p12"
        subprocess.run(
            [
                "keytool",
                "-importcert",
                "-noprompt",
                "-alias",
                "ca",
                "-file",
                str(pki.ca_cert),
                "-keystore",
                str(store),
                "-storetype",
                "PKCS12",
                "-storepass",
                "changeit",
            ],
            check=True,
            capture_output=True,
        )
        props = {
            "database.ssl.mode": "verify_ca",
            "database.ssl.truststore": str(store),
            "database.ssl.truststore.password": "changeit",
        }
        assert _capture(server, bootstrap, 4, **props) == [("c", 4), ("r", 1), ("r", 2), ("r", 3)]
    assert int(server.execute("SHOW GLOBAL STATUS LIKE 'Ssl_accepts'")[0][1]) > accepts_before
    # An untrusted CA, and the system CAs (no truststore), are refused at once (fatal, not retried).
    props = {"database.ssl.mode": "verify_ca", "database.ssl.truststore": str(pki.other_ca_cert)}
    assert "TLS failed" in _refused(server, bootstrap, **props)
    assert "TLS failed" in _refused(server, bootstrap, **{"database.ssl.mode": "verify_identity"})
    # disabled: plain TCP, which this server refuses for a REQUIRE SSL user.
    message = _refused(server, bootstrap, **{"database.ssl.mode": "disabled"})
    assert "Access denied" in message and "database.user" in message, message


def test_tls_required_without_server_tls(mariadb_server: MySQLFamilyServer, kafka_broker: Any) -> None:
    """``required`` against a server without TLS (the plain MariaDB fixture): a fatal error naming the setting;
    ``preferred`` falls back to plain TCP."""
    have_ssl = mariadb_server.execute("SHOW GLOBAL VARIABLES LIKE 'have_ssl'")
    if have_ssl and have_ssl[0][1] == "YES":
        pytest.skip("the plain MariaDB fixture has TLS on")
    bootstrap = kafka_broker.bootstrap_servers
    mariadb_server.create_database(DB)
    try:
        run_sql(mariadb_server, DB, "CREATE TABLE t (id INT PRIMARY KEY)", "INSERT INTO t VALUES (1)")
        message = _refused(mariadb_server, bootstrap, **{"database.ssl.mode": "required"})
        assert "TLS failed" in message and "database.ssl.mode" in message, message
        assert _capture(mariadb_server, bootstrap, 2, **{"database.ssl.mode": "preferred"}) == [("c", 2), ("r", 1)]
    finally:
        mariadb_server.drop_database(DB)

"""TLS for the connector's connections (``database.ssl.mode``, ``database.ssl.truststore``), as Debezium means them.

Called by ``cdc.mysql.catalog.connect`` (catalog and snapshot connections) and ``cdc.mysql.binlog.BinlogConnection``
(the binlog connection): :func:`tls_arguments` gives the PyMySQL keyword arguments of the configured mode.

- ``disabled``: plain TCP. PyMySQL would otherwise try TLS whenever the server offers it, so it is switched off.
- ``preferred``: TLS when the server offers it, else plain; the certificate is not checked.
- ``required``: TLS or no connection; the certificate is not checked.
- ``verify_ca``: TLS, and the server certificate must chain to a trusted CA: those of ``database.ssl.truststore``
  (a PEM file, or a PKCS#12 keystore as Java's ``keytool`` writes, with ``database.ssl.truststore.password``), else
  the system's CAs (Debezium: the JVM's default truststore).
- ``verify_identity``: as ``verify_ca``, and the certificate must name ``database.hostname``.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cdc.errors import ConfigError

if TYPE_CHECKING:
    from cdc.mysql.config import MySqlConnectorConfig


def tls_arguments(cfg: MySqlConnectorConfig) -> dict[str, Any]:
    """PyMySQL ``connect`` keyword arguments for ``database.ssl.mode``; ConfigError when the truststore is
    unreadable."""
    mode = cfg.database_ssl_mode
    if mode == "disabled":
        return {"ssl_disabled": True}
    if mode == "preferred":
        return {}  # PyMySQL's own default: TLS if the server offers it, unverified
    if mode == "required":
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return {"ssl": ctx}
    ctx = ssl.create_default_context()
    if cfg.database_ssl_truststore:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(cadata=_trusted_pem(cfg))
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.check_hostname = mode == "verify_identity"
    return {"ssl": ctx}


def _trusted_pem(cfg: MySqlConnectorConfig) -> str:
    """The CA certificates of ``database.ssl.truststore`` as PEM text."""
    path = Path(cfg.database_ssl_truststore or "")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError([f"database.ssl.truststore: cannot read {path}: {exc.strerror}"]) from None
    if b"-----BEGIN CERTIFICATE-----" in data:
        return data.decode("ascii", "replace")
    from cryptography.hazmat.primitives.serialization import Encoding, pkcs12

    password = cfg.database_ssl_truststore_password.get_secret_value().encode() or None
    try:
        store = pkcs12.load_pkcs12(data, password)
    except ValueError as exc:
        raise ConfigError(
            [
                f"database.ssl.truststore: {path} is neither a PEM file nor a PKCS#12 keystore that "
                f"database.ssl.truststore.password opens ({exc})"
            ]
        ) from None
    certs = [c.certificate for c in store.additional_certs]
    if store.cert is not None:
        certs.append(store.cert.certificate)
    if not certs:
        raise ConfigError([f"database.ssl.truststore: {path} holds no certificate"])
    return "".join(c.public_bytes(Encoding.PEM).decode("ascii") for c in certs)

"""Throwaway TLS certificates for servers started with TLS in tests (the ``cryptography`` package).

:func:`make_pki` writes a CA, a server certificate it signs for ``localhost`` and ``127.0.0.1`` (subjectAltName,
so clients that check the host name accept it for those and refuse it for any other), an unrelated CA (a trust
store that must make the handshake fail) and a client certificate with an encrypted key (mutual TLS). Keys are
EC P-256, valid for two days. Used by the MySQL/MariaDB TLS tests (:func:`mysql_tls_args`) and by
:mod:`servers.tls_proxy` in front of the document-store stand-ins.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from servers.common import _LOOPBACK


@dataclass(frozen=True)
class Pki:
    """PEM files of a throwaway PKI (see :func:`make_pki`)."""

    ca_cert: Path  # the CA that signed the server certificate: the clients' trust store
    server_cert: Path
    server_key: Path
    other_ca_cert: Path  # an unrelated CA: a trust store that must make the handshake fail
    client_pem: Path  # a client certificate signed by the CA and its private key, encrypted with client_key_password
    client_key_password: str


def make_pki(directory: Path) -> Pki:
    """Write a CA, a server certificate for 127.0.0.1/localhost signed by it and an unrelated CA into ``directory``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.UTC)

    def name(common: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])

    def ca(common: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(name(common))
            .issuer_name(name(common))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        return cert, key

    ca_cert, ca_key = ca("cdc-engine test CA")
    other_cert, _ = ca("cdc-engine unrelated CA")
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(name("localhost"))
        .issuer_name(ca_cert.subject)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(_LOOPBACK))]),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    client_key = ec.generate_private_key(ec.SECP256R1())
    client_cert = (
        x509.CertificateBuilder()
        .subject_name(name("cdc-engine sink"))
        .issuer_name(ca_cert.subject)
        .public_key(client_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    pki = Pki(
        directory / "ca.pem",
        directory / "server.pem",
        directory / "server-key.pem",
        directory / "other-ca.pem",
        directory / "client.pem",
        "client-key-pw",
    )
    pki.client_pem.write_bytes(
        client_cert.public_bytes(serialization.Encoding.PEM)
        + client_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(pki.client_key_password.encode()),
        )
    )
    pki.ca_cert.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    pki.other_ca_cert.write_bytes(other_cert.public_bytes(serialization.Encoding.PEM))
    pki.server_cert.write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    pki.server_key.write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return pki


def mysql_tls_args(pki: Pki) -> list[str]:
    """MySQL / MariaDB server options that turn TLS on with the server certificate of ``pki``."""
    return [f"--ssl-ca={pki.ca_cert}", f"--ssl-cert={pki.server_cert}", f"--ssl-key={pki.server_key}"]

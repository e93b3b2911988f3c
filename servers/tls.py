"""Throwaway TLS certificates made with ``openssl``: a CA and a server certificate it signs, for servers started with
TLS in tests (e.g. ``MariaDBServer().start(mysql_tls_args(make_certificates(dir)))``).

The server certificate names ``localhost`` and ``127.0.0.1`` (subjectAltName), so clients that check the host name
accept it for those and refuse it for any other name. Keys are RSA 2048, valid for a day.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from servers.common import ServerStartError


@dataclass(frozen=True)
class Certificates:
    """PEM files: ``ca`` (the CA certificate clients trust), ``cert``/``key`` (the server's)."""

    ca: Path
    cert: Path
    key: Path


def make_certificates(directory: Path, subject: str = "cdc-engine test") -> Certificates:
    """Create a CA and a server certificate for localhost/127.0.0.1 in ``directory``.

    :raises ServerStartError: when ``openssl`` is missing or fails.
    """
    openssl = shutil.which("openssl")
    if openssl is None:
        raise ServerStartError("openssl not found; install it with `apt-get install -y openssl`")
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, ca = directory / "ca-key.pem", directory / "ca.pem"
    key, csr, cert = directory / "server-key.pem", directory / "server.csr", directory / "server-cert.pem"
    ext = directory / "server.ext"
    ext.write_text("subjectAltName = DNS:localhost, IP:127.0.0.1\n")
    steps = [
        [
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            f"/CN={subject} CA",
            "-keyout",
            str(ca_key),
            "-out",
            str(ca),
        ],
        ["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(csr)],
        [
            "x509",
            "-req",
            "-in",
            str(csr),
            "-CA",
            str(ca),
            "-CAkey",
            str(ca_key),
            "-CAcreateserial",
            "-days",
            "1",
            "-extfile",
            str(ext),
            "-out",
            str(cert),
        ],
    ]
    for step in steps:
        done = subprocess.run([openssl, *step], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise ServerStartError(f"openssl {' '.join(step[:2])} failed: {done.stderr.strip()}")
    key.chmod(0o644)  # the server may run as another user than the one that made the files
    return Certificates(ca, cert, key)


def mysql_tls_args(certs: Certificates) -> list[str]:
    """MySQL / MariaDB server options that turn TLS on with ``certs``."""
    return [f"--ssl-ca={certs.ca}", f"--ssl-cert={certs.cert}", f"--ssl-key={certs.key}"]

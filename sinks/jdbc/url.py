"""Parsing JDBC URLs as users write them for Debezium (``jdbc:postgresql://…``, ``jdbc:mysql://…``,
``jdbc:mariadb://…``) into what the Python drivers need."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote, urlsplit

from cdc.errors import ConfigError

DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306, "mariadb": 3306}


@dataclass(frozen=True)
class JdbcUrl:
    """The parts of a JDBC URL: dialect (postgresql / mysql / mariadb), host, port, database and parameters."""

    dialect: str
    host: str
    port: int
    database: str
    params: dict[str, str] = field(default_factory=dict)

    @property
    def family(self) -> str:
        """``postgresql`` or ``mysql`` (MariaDB speaks the MySQL protocol and SQL used here)."""
        return "postgresql" if self.dialect == "postgresql" else "mysql"


def parse_jdbc_url(url: str) -> JdbcUrl:
    """Parse ``url``; ``ConfigError`` naming the property when it is not a supported JDBC URL."""
    if not url.startswith("jdbc:"):
        raise ConfigError([f"connection.url: expected a jdbc: URL (got {url!r})"])
    parts = urlsplit(url[len("jdbc:") :])
    dialect = parts.scheme.lower()
    if dialect not in DEFAULT_PORTS:
        raise ConfigError([f"connection.url: unsupported database {dialect!r}; use postgresql, mysql or mariadb"])
    if "," in parts.netloc:
        raise ConfigError(["connection.url: several hosts are not supported; give one host"])
    try:
        port = parts.port or DEFAULT_PORTS[dialect]
    except ValueError:
        raise ConfigError([f"connection.url: invalid port in {parts.netloc!r}"]) from None
    database = unquote(parts.path.lstrip("/"))
    if not database:
        raise ConfigError(["connection.url: the database name is missing (…://host:port/<database>)"])
    return JdbcUrl(dialect, parts.hostname or "localhost", port, database, dict(parse_qsl(parts.query)))

"""Server prerequisite checks for ``cdc-engine validate`` and start-up (MySQL / MariaDB).

Each failed check names the setting to change. ``MySqlSource.start`` raises a ConfigError listing every failed
check at once (exit code 2), so a misconfigured server is reported completely on the first attempt.
"""

from __future__ import annotations

from cdc.errors import CdcError
from cdc.mysql.catalog import Catalog
from cdc.mysql.config import MySqlConnectorConfig
from cdc.validation import Check

_REQUIRED_PRIVILEGES = ("REPLICATION SLAVE", "REPLICATION CLIENT", "SELECT")


def server_checks(catalog: Catalog, cfg: MySqlConnectorConfig) -> list[Check]:
    """Binlog settings, GTID mode and privileges (the server must be reachable)."""
    flavor = catalog.flavor
    names = ["log_bin", "binlog_format", "binlog_row_image", "binlog_row_metadata", "gtid_mode", "server_id"]
    values = catalog.variables(*names)
    checks = [Check("connect", True, f"{'MariaDB' if flavor == 'mariadb' else 'MySQL'} {catalog.version()}")]

    def setting(name: str, wanted: str, fix: str) -> None:
        value = values.get(name, "(not set)")
        checks.append(Check(name, value.upper() == wanted, f"{name}={value}", fix))

    setting("log_bin", "ON", "start the server with --log-bin (log_bin=ON)")
    setting("binlog_format", "ROW", "set binlog_format=ROW (SET GLOBAL binlog_format='ROW' and in my.cnf)")
    setting("binlog_row_image", "FULL", "set binlog_row_image=FULL (SET GLOBAL binlog_row_image='FULL' and in my.cnf)")
    setting(
        "binlog_row_metadata",
        "FULL",
        "set binlog_row_metadata=FULL (SET GLOBAL binlog_row_metadata='FULL' and in my.cnf); column names and "
        "types of row events come from it",
    )
    if flavor == "mysql":
        row_value_options = catalog.variables("binlog_row_value_options").get("binlog_row_value_options", "")
        checks.append(
            Check(
                "binlog_row_value_options",
                "PARTIAL_JSON" not in row_value_options.upper(),
                f"binlog_row_value_options={row_value_options!r}",
                "set binlog_row_value_options='' (SET GLOBAL binlog_row_value_options='' and in my.cnf): partial "
                "JSON updates cannot be captured",
            )
        )
        gtid_mode = values.get("gtid_mode", "OFF")
        checks.append(
            Check(
                "gtid_mode",
                True,
                f"gtid_mode={gtid_mode}" + ("" if gtid_mode == "ON" else " (resuming by binlog file/position)"),
            )
        )
    if str(values.get("server_id", "")) == str(cfg.database_server_id):
        checks.append(
            Check(
                "database.server.id",
                False,
                f"database.server.id={cfg.database_server_id} is the server's own server_id",
                "choose a database.server.id no server or replica in the topology uses",
            )
        )
    grants = " ".join(str(r[0]).upper() for r in catalog.query("SHOW GRANTS"))
    has_all = "ALL PRIVILEGES ON *.*" in grants
    for privilege in _REQUIRED_PRIVILEGES:
        ok = has_all or privilege in grants or (privilege == "REPLICATION CLIENT" and "BINLOG MONITOR" in grants)
        checks.append(
            Check(
                f"privilege {privilege}",
                ok,
                f"user {cfg.database_user}: {'granted' if ok else 'missing'}",
                f"GRANT {privilege} ON *.* TO '{cfg.database_user}'@'%'",
            )
        )
    lock_ok = has_all or "RELOAD" in grants or "LOCK TABLES" in grants or cfg.snapshot_locking_mode == "none"
    checks.append(
        Check(
            "snapshot lock",
            lock_ok,
            "RELOAD (FLUSH TABLES WITH READ LOCK) or LOCK TABLES " + ("granted" if lock_ok else "missing"),
            f"GRANT RELOAD ON *.* TO '{cfg.database_user}'@'%' (or LOCK TABLES, or snapshot.locking.mode=none)",
        )
    )
    return checks


def check_prerequisites(cfg: MySqlConnectorConfig) -> list[Check]:
    """For ``cdc-engine validate``: connect, then every server check."""
    catalog = Catalog(cfg)
    try:
        catalog.version()
    except CdcError as exc:
        return [Check("connect", False, str(exc), "check database.hostname/port/user/password")]
    try:
        return server_checks(catalog, cfg)
    except CdcError as exc:
        return [Check("server checks", False, str(exc))]
    finally:
        catalog.close()

"""Server prerequisite checks for ``cdc-engine validate`` (PostgreSQL).

Each check names the setting to change when it fails. Called by the CLI after the config itself validated.
"""

from __future__ import annotations

from cdc.errors import CdcError
from cdc.postgres.catalog import Catalog
from cdc.postgres.config import PostgresConnectorConfig
from cdc.postgres.replication import ssl_hint
from cdc.postgres.slot_health import lost_message, slot_state
from cdc.postgres.source import conninfo_for
from cdc.validation import Check


def check_prerequisites(cfg: PostgresConnectorConfig) -> list[Check]:
    checks: list[Check] = []
    catalog = Catalog(conninfo_for(cfg))
    try:
        version = catalog.server_version()
    except CdcError as exc:
        fix = ssl_hint(str(exc)) or "check database.hostname/port/user/password/dbname"
        return [Check("connect", False, str(exc), fix)]
    try:
        checks.append(Check("connect", True, f"PostgreSQL {version // 10000}.{version % 10000}"))
        wal_level = catalog.setting("wal_level")
        checks.append(
            Check(
                "wal_level",
                wal_level == "logical",
                f"wal_level={wal_level}",
                "set wal_level = logical in postgresql.conf (or ALTER SYSTEM) and restart PostgreSQL",
            )
        )
        slots = int(catalog.setting("max_replication_slots"))
        senders = int(catalog.setting("max_wal_senders"))
        checks.append(
            Check(
                "max_replication_slots",
                slots > 0,
                f"max_replication_slots={slots}",
                "set max_replication_slots to at least 1 and restart",
            )
        )
        checks.append(
            Check(
                "max_wal_senders",
                senders > 0,
                f"max_wal_senders={senders}",
                "set max_wal_senders to at least 1 and restart",
            )
        )
        superuser, replication = catalog.role_flags()
        checks.append(
            Check(
                "replication privilege",
                superuser or replication,
                f"user {cfg.database_user}: superuser={superuser} replication={replication}",
                f"ALTER ROLE {cfg.database_user} REPLICATION",
            )
        )
        slot = catalog.slot(cfg.slot_name)
        if slot is None:
            checks.append(Check("replication slot", True, f"{cfg.slot_name} does not exist yet; start creates it"))
        else:
            ok = slot["plugin"] == "pgoutput" and slot["database"] == cfg.database_dbname
            detail = (
                f"{cfg.slot_name}: plugin={slot['plugin']} database={slot['database']} "
                f"active={slot['active']} confirmed_flush={slot['confirmed_flush_lsn']}"
            )
            checks.append(
                Check(
                    "replication slot",
                    ok,
                    detail,
                    "drop the slot (SELECT pg_drop_replication_slot(...)) or choose another slot.name",
                )
            )
            state = slot_state(catalog, cfg.slot_name)
            if state is not None and state.wal_status == "lost":
                checks.append(
                    Check(
                        "replication slot health",
                        False,
                        lost_message(cfg.slot_name, catalog, cfg.snapshot_mode),
                        f"snapshot.mode=when_needed, or SELECT pg_drop_replication_slot('{cfg.slot_name}')",
                    )
                )
            if state is not None and state.active_pid is not None:
                checks.append(
                    Check(
                        "replication slot in use",
                        False,
                        f"{cfg.slot_name} is held by {state.holder}; start would wait for it, then stop",
                        f"stop that consumer (SELECT pg_terminate_backend({state.active_pid})) or choose another "
                        "slot.name",
                    )
                )
        table_filter = cfg.table_filter()
        captured = [(r, s, t) for r, s, t in catalog.capture_candidates() if table_filter.includes_table(s, t)]
        checks.append(
            Check(
                "captured tables",
                bool(captured),
                f"{len(captured)} table(s) match the filters",
                "check table.include.list / schema.include.list",
            )
        )
        pub_exists = catalog.publication_exists(cfg.publication_name)
        if pub_exists:
            published = catalog.publication_tables(cfg.publication_name)
            missing = [f"{s}.{t}" for _, s, t in captured if (s, t) not in published]
            ok = not missing or cfg.publication_autocreate_mode == "filtered"
            checks.append(
                Check(
                    "publication",
                    ok,
                    f"{cfg.publication_name} exists" + (f"; not covering {missing}" if missing else ""),
                    f"ALTER PUBLICATION {cfg.publication_name} ADD TABLE ...",
                )
            )
        else:
            ok = cfg.publication_autocreate_mode != "disabled"
            checks.append(
                Check(
                    "publication",
                    ok,
                    f"{cfg.publication_name} does not exist" + ("; start creates it" if ok else ""),
                    f"CREATE PUBLICATION {cfg.publication_name} FOR ALL TABLES, or set "
                    "publication.autocreate.mode=all_tables",
                )
            )
        for relid, schema, name in captured:
            info = catalog.table(relid)
            if info is None:
                continue
            if info.replica_identity == "n":
                checks.append(
                    Check(
                        f"replica identity {schema}.{name}",
                        False,
                        "REPLICA IDENTITY NOTHING: updates and deletes cannot be captured",
                        f"ALTER TABLE {schema}.{name} REPLICA IDENTITY DEFAULT (or FULL)",
                    )
                )
            elif not info.primary_key and info.replica_identity == "d":
                checks.append(
                    Check(
                        f"replica identity {schema}.{name}",
                        False,
                        "no primary key and REPLICA IDENTITY DEFAULT: PostgreSQL rejects its "
                        "updates and deletes while it is published",
                        f"ALTER TABLE {schema}.{name} REPLICA IDENTITY FULL, or add a primary key",
                    )
                )
    except CdcError as exc:
        checks.append(Check("server", False, str(exc), "see the message"))
    finally:
        catalog.close()
    return checks

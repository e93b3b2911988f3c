"""The source table the JDBC sink tests replicate, and reading it back from either side."""

from __future__ import annotations

from typing import Any

import psycopg

SOURCE_DDL = """
CREATE TABLE items (
    id serial PRIMARY KEY,
    name text NOT NULL,
    price numeric(10,2),
    qty integer DEFAULT 0,
    big bigint,
    ratio double precision,
    active boolean,
    day date,
    at time,
    created timestamptz,
    local_ts timestamp,
    doc jsonb,
    ident uuid,
    raw bytea
);
ALTER TABLE items REPLICA IDENTITY FULL;
"""

COLUMNS = "id, name, price, qty, big, ratio, active, day, at, created, local_ts, doc, ident, raw"


def insert_rows(dsn: str, first: int, count: int) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO items (name, price, qty, big, ratio, active, day, at, created, local_ts, doc, ident, raw) "
            "SELECT 'item ' || g, (g * 1.25)::numeric(10,2), g %% 7, g * 1000000000::bigint, g / 3.0, g %% 2 = 0, "
            "date '2024-01-01' + g, time '08:00' + g * interval '1 second', "
            "timestamptz '2024-01-01 00:00:00+00' + g * interval '1 minute', "
            "timestamp '2024-01-01 00:00:00.123456' + g * interval '1 hour', "
            "jsonb_build_object('g', g, 'tags', jsonb_build_array('a', g)), md5(g::text)::uuid, "
            "decode(lpad(to_hex(g), 8, '0'), 'hex') "
            "FROM generate_series(%s::int, %s::int) AS g",
            (first, first + count - 1),
        )


def table_rows(dsn: str, table: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(f"SELECT {COLUMNS} FROM {table} ORDER BY id").fetchall()

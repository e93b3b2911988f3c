"""The generated row decoder against real binlogs: MariaDB 10.11 and MySQL 9.x write rows events of every column
type (NULLs, zero dates, negative times, 65-digit decimals, extreme integers, multi-byte text, spatial, JSON);
each event is decoded by ``cdc.mysql.row_decoder`` and by the library followed by the table's row function (the
path it replaces), under two sets of value-handling modes, and the results must be identical. Reads the binlog
directly (no engine, no broker): a few seconds per flavour.
"""

from __future__ import annotations

import random
import time
from typing import Any

from mysql_helpers import run_sql
from pymysqlreplication import BinLogStreamReader
from pymysqlreplication.row_event import DeleteRowsEvent, UpdateRowsEvent, WriteRowsEvent

from cdc.capture.converters import SourceConverters
from cdc.filters import TableFilter
from cdc.mysql.binlog import EVENTS
from cdc.mysql.row_decoder import compile_decoder
from cdc.mysql.tables import MySqlTable, MySqlTableRegistry
from cdc.mysql.types import MySqlTypeMapper
from schemas.json_converter import JsonConverter
from servers import MySQLFamilyServer

COLUMNS = """
    id INT PRIMARY KEY,
    c_tinyint TINYINT, c_utinyint TINYINT UNSIGNED, c_smallint SMALLINT, c_usmallint SMALLINT UNSIGNED,
    c_mediumint MEDIUMINT, c_umediumint MEDIUMINT UNSIGNED, c_int INT NOT NULL DEFAULT 7, c_uint INT UNSIGNED,
    c_bigint BIGINT, c_ubigint BIGINT UNSIGNED, c_decimal DECIMAL(10,3), c_dec0 DECIMAL(18,0),
    c_dec65 DECIMAL(65,30), c_float FLOAT, c_double DOUBLE, c_bit1 BIT(1), c_bit12 BIT(12), c_bit64 BIT(64),
    c_bool BOOL, c_char CHAR(5), c_varchar VARCHAR(20), c_longvarchar VARCHAR(400), c_latin VARCHAR(10)
    CHARACTER SET latin1, c_text TEXT, c_mediumtext MEDIUMTEXT, c_binary BINARY(4), c_varbinary VARBINARY(10),
    c_blob BLOB, c_longblob LONGBLOB, c_date DATE, c_time TIME, c_time3 TIME(3), c_time6 TIME(6),
    c_datetime DATETIME, c_datetime2 DATETIME(2), c_datetime6 DATETIME(6), c_timestamp TIMESTAMP NULL,
    c_timestamp3 TIMESTAMP(3) NULL, c_timestamp6 TIMESTAMP(6) NULL, c_year YEAR, c_json JSON,
    c_enum ENUM('a','b','c'), c_set SET('x','y','z'), c_geometry GEOMETRY, c_point POINT
"""
ROWS = [
    """1, -5, 255, -300, 65535, -8000000, 16777215, -2000000000, 4294967295, -9000000000000000000,
    18446744073709551615, 1234.567, -123456789012345678,
    -12345678901234567890123456789012345.123456789012345678901234567891,
    1.5, 2.25, b'1', b'101000000001', b'1111111111111111111111111111111111111111111111111111111111111111', TRUE,
    'ab', 'hello', REPEAT('é✓', 150), 'café', 'some text', 'medium', 'ab', x'0102ff', x'deadbeef', x'00ff',
    '2024-02-29', '-838:59:59', '12:34:56.789', '-01:00:00.5', '2024-01-02 03:04:05', '2024-01-02 03:04:05.12',
    '2024-01-02 03:04:05.123456', '2024-01-02 03:04:05', '2024-01-02 03:04:05.5', '2038-01-19 03:14:07.999999',
    2024, '{"a": [1, 2.5, "x"], "b": null}', 'b', 'z,x', ST_GeomFromText('LINESTRING(0 0,1 1)'), POINT(1, 2)""",
    """2, 127, 0, 32767, 0, 8388607, 0, 2147483647, 0, 9223372036854775807, 9223372036854775808, -0.001, 0,
    0.000000000000000000000000000001, -1e30, -1e300, b'0', b'0', b'0', FALSE, '', '', '', '', '', '', '', '',
    '', '', '0000-00-00', '00:00:00', '838:59:59.000', '-00:00:00.000001', '0000-00-00 00:00:00',
    '9999-12-31 23:59:59.99', '1000-01-01 00:00:00.000001', '1970-01-01 00:00:01', '1970-01-01 00:00:01.000',
    '2000-01-01 00:00:00.000001', 1901, '[]', 'a', '', ST_GeomFromText('POINT(0 0)', 4326), POINT(-1.5, 1e10)""",
]

MODES = [
    MySqlTypeMapper("precise", "adaptive_time_microseconds", "long", "bytes"),
    MySqlTypeMapper("string", "connect", "precise", "base64"),
]


def _names() -> list[str]:
    """The column names of COLUMNS (every name starts with ``id`` or ``c_``)."""
    return [word for word in COLUMNS.replace(",", " ").split() if word == "id" or word.startswith("c_")]


def _registry(mapper: MySqlTypeMapper) -> MySqlTableRegistry:
    converters = SourceConverters(key=JsonConverter(False), value=JsonConverter(False))
    return MySqlTableRegistry("mysql", TableFilter(), "p", mapper, converters, "__debezium_unavailable_value")


def _library(event: Any, table: MySqlTable) -> list[dict[str, Any]]:
    if type(event) is UpdateRowsEvent:
        out = []
        for row in event.rows:
            out += [table.row_from_dict(row["before_values"]), table.row_from_dict(row["after_values"])]
        return out
    return [table.row_from_dict(row["values"]) for row in event.rows]


def test_generated_decoder_matches_the_library_on_real_binlogs(
    binlog_server: MySQLFamilyServer, binlog_database: str
) -> None:
    server = binlog_server
    run_sql(server, binlog_database, f"CREATE TABLE types ({COLUMNS})")
    file, pos = server.binlog_position()
    all_nulls = ", ".join("3" if name == "id" else "0" if name == "c_int" else "NULL" for name in _names())
    server.execute(
        "SET SESSION sql_mode = ''",  # zero dates
        *(f"INSERT INTO types VALUES ({row})" for row in [*ROWS, all_nulls]),
        "UPDATE types SET c_int = c_int + 1, c_varchar = 'changed'",
        "DELETE FROM types",
        database=binlog_database,
    )
    settings = {"host": server.host, "port": server.port, "user": server.user, "password": server.password}
    stream = BinLogStreamReader(
        connection_settings=settings,
        server_id=random.randint(10_000, 2**30),
        blocking=True,
        only_events=EVENTS,
        log_file=file,
        log_pos=pos,
        resume_stream=True,
        enable_logging=False,
        slave_heartbeat=1.0,
    )
    seen = {WriteRowsEvent: 0, UpdateRowsEvent: 0, DeleteRowsEvent: 0}
    rows = 0
    deadline = time.monotonic() + 60
    try:
        while seen[DeleteRowsEvent] == 0 and time.monotonic() < deadline:
            event = stream.fetchone()
            kind = type(event)
            if kind not in seen or event.table != "types":
                continue
            tm = stream.table_map[event.table_id]
            results = []
            for mapper in MODES:
                table = _registry(mapper).for_binlog(tm.schema, tm.table, tm.columns, tm.data.get("primary_key"))
                decoder = compile_decoder(tm.columns, table)
                assert decoder is not None
                fast = decoder.decode(event)  # before event.rows: the library has not parsed the rows yet
                assert fast is not None
                results.append((fast, table))
            for fast, table in results:
                expected = _library(event, table)
                assert repr(fast) == repr(expected)
            seen[kind] += 1
            rows += len(results[0][0])
    finally:
        stream.close()
    assert all(seen.values()), seen
    assert rows == 4 * (len(ROWS) + 1)  # inserted, updated (before and after), deleted

"""What the differential conformance suite does to the database, and the connector variants that watch it.

One database gets the schema and the snapshot rows (``SETUP``), then both Debezium and cdc-engine start with the
same variants of connector properties (``VARIANTS``), then ``CHANGES`` run while both stream. The last change
inserts into ``zz_done``: once every connector has written that row, everything before it has been written too.

The types table follows Debezium's PostgreSQL data type tables (numeric, character, binary, temporal, JSON, XML,
UUID, network, geometric, bit strings, ranges, enums, domains, arrays, hstore, ltree, citext, tsvector, money,
oid, interval), each in a typical row, a row of nulls and a row of edge values (NaN/±Infinity, extremes, empty
values). The same rows arrive once through the snapshot (ids 1-3) and once streamed (ids 101-103).
"""

from __future__ import annotations

import re

TYPE_COLUMNS = """
    c_smallint smallint, c_int integer, c_bigint bigint, c_real real, c_double double precision,
    c_bool boolean, c_char char(3), c_varchar varchar(20), c_text text, c_name name, c_qchar "char",
    c_bytea bytea, c_json json, c_jsonb jsonb, c_xml xml, c_uuid uuid,
    c_date date, c_time time, c_time3 time(3), c_timetz timetz, c_ts timestamp, c_ts3 timestamp(3),
    c_tstz timestamptz, c_tstz0 timestamptz(0), c_interval interval,
    c_num numeric(10,3), c_num_var numeric, c_decimal decimal(5,0), c_money money,
    c_bit1 bit(1), c_bit8 bit(8), c_varbit varbit(16),
    c_point point, c_box box, c_circle circle, c_line line, c_lseg lseg, c_path path, c_polygon polygon,
    c_inet inet, c_cidr cidr, c_macaddr macaddr, c_macaddr8 macaddr8,
    c_int4range int4range, c_int8range int8range, c_numrange numrange, c_tsrange tsrange, c_tstzrange tstzrange,
    c_daterange daterange,
    c_enum mood, c_domain positive_int, c_hstore hstore, c_ltree ltree, c_citext citext, c_tsvector tsvector,
    c_oid oid, c_int_arr int[], c_text_arr text[], c_varchar_arr varchar(5)[], c_uuid_arr uuid[],
    c_date_arr date[], c_num_arr numeric(5,2)[], c_enum_arr mood[]
"""

# Column names: split on the commas that are not inside a type's parentheses (numeric(10,3)).
TYPE_NAMES = [m.group(1) for m in re.finditer(r"(?:^|,)\s*(c_\w+)", TYPE_COLUMNS)]

TYPICAL = """
    1, 100000, 10000000000, 1.5, 2.25,
    true, 'ab', 'varchar', 'some text', 'a_name', 'x',
    '\\x0102ff', '{"a": [1, 2.5]}', '{"b": {"c": null}}', '<a>x</a>', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
    '2024-02-29', '13:14:15.123456', '13:14:15.123', '13:14:15.5+02', '2024-01-02 03:04:05.678901',
    '2024-01-02 03:04:05.678', '2024-01-02 03:04:05.678901+01', '2024-01-02 03:04:05+00', 'P1Y2M3DT4H5M6.789S',
    12.345, 3.14159265358979, 12345, 1234.56,
    B'1', B'10100101', B'1000000000000101',
    '(1.5,2.5)', '((0,0),(1,1))', '<(1,2),3>', '{1,-1,0}', '[(0,0),(1,1)]', '((0,0),(1,1),(2,0))',
    '((0,0),(1,1),(1,0))',
    '192.168.0.1/24', '10.0.0.0/8', '08:00:2b:01:02:03', '08:00:2b:01:02:03:04:05',
    '[1,10)', '[1,100)', '[1.5,2.5]', '[2024-01-01 00:00,2024-01-02 00:00)',
    '[2024-01-01 00:00+00,2024-01-02 00:00+00)', '[2024-01-01,2024-01-31)',
    'happy', 42, 'a=>1, b=>NULL', 'Top.Science.Astronomy', 'MiXeD', 'a fat cat sat on a mat',
    12345, '{1,2,NULL}', '{"x","y z"}', '{"ab","c"}', '{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}',
    '{2024-01-01,NULL}', '{1.50,-2.25}', '{ok,sad}'
"""

EDGE = """
    -32768, -2147483648, 9223372036854775807, 'NaN', 'Infinity',
    false, '', '', '', '', ' ',
    '\\x', '[]', '{}', '<a/>', '00000000-0000-0000-0000-000000000000',
    '1970-01-01', '00:00:00', '23:59:59.999', '00:00:00+00', '1970-01-01 00:00:00',
    '1970-01-01 00:00:00', '1970-01-01 00:00:00+00', '1999-12-31 23:59:59-05', '-1 days -02:03:04',
    -9999999.999, 'NaN', -99999, -0.01,
    B'0', B'00000000', B'',
    '(-1,-1e10)', '((-1,-1),(1,1))', '<(0,0),0.5>', '{0,1,-2}', '[(0,0),(0,0)]', '[(0,0),(1,1),(2,0)]',
    '((0,0))',
    '::1', '::/0', '00:00:00:00:00:00', 'ff:ff:ff:ff:ff:ff:ff:ff',
    'empty', '(,)', '(-1.5,)', 'empty', '(,2024-01-01 00:00+00]', 'empty',
    'sad', 1, '', 'Top', '', '',
    0, '{}', '{}', '{}', '{}',
    '{}', '{}', '{}'
"""

NULLS = ", ".join(["NULL"] * len(TYPE_NAMES))

SETUP = (
    "CREATE EXTENSION IF NOT EXISTS hstore",
    "CREATE EXTENSION IF NOT EXISTS ltree",
    "CREATE EXTENSION IF NOT EXISTS citext",
    "CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')",
    "CREATE DOMAIN positive_int AS integer CHECK (VALUE > 0)",
    f"CREATE TABLE all_types (id integer PRIMARY KEY, {TYPE_COLUMNS})",
    f"INSERT INTO all_types VALUES (1, {TYPICAL}), (2, {NULLS}), (3, {EDGE})",
    # Column defaults (constants, NOT NULL, serials) and nulls written into defaulted columns.
    "CREATE TABLE defaults (id serial PRIMARY KEY, big bigserial, status text NOT NULL DEFAULT 'new',"
    " qty integer DEFAULT 7, ratio double precision DEFAULT 1.5, flag boolean NOT NULL DEFAULT true,"
    " note varchar(10) DEFAULT 'n/a', price numeric(6,2) DEFAULT 9.99, created date DEFAULT '2020-01-01',"
    " stamp timestamp DEFAULT now(), zero_nn integer NOT NULL DEFAULT 0, mood_d mood DEFAULT 'ok')",
    "INSERT INTO defaults (qty) VALUES (1)",
    "INSERT INTO defaults (qty, note, ratio, price, created, mood_d) VALUES (NULL, NULL, NULL, NULL, NULL, NULL)",
    "CREATE TABLE pk_change (id integer PRIMARY KEY, v text)",
    "INSERT INTO pk_change VALUES (1, 'one'), (2, 'two')",
    "CREATE TABLE composite (a integer, b text, v text, PRIMARY KEY (b, a))",
    "INSERT INTO composite VALUES (1, 'x', 'first')",
    "CREATE TABLE keyless (a integer, b text)",
    "ALTER TABLE keyless REPLICA IDENTITY FULL",
    "INSERT INTO keyless VALUES (1, 'k1'), (2, 'k2')",
    "CREATE TABLE toast_full (id integer PRIMARY KEY, big text, small integer)",
    "ALTER TABLE toast_full REPLICA IDENTITY FULL",
    "CREATE TABLE toast_default (id integer PRIMARY KEY, big text, big_arr text[], small integer)",
    "CREATE TABLE ddl_table (id integer PRIMARY KEY, v text)",
    "INSERT INTO ddl_table VALUES (1, 'before ddl')",
    "CREATE TABLE trunc (id integer PRIMARY KEY)",
    "INSERT INTO trunc VALUES (1)",
    "CREATE TABLE zz_done (id integer PRIMARY KEY)",
)

# Incompressible text larger than the TOAST threshold (md5 chains do not compress).
_BIG = "(SELECT string_agg(md5(i::text), '') FROM generate_series(1, 200) i)"

CHANGES = (
    f"INSERT INTO all_types VALUES (101, {TYPICAL}), (102, {NULLS}), (103, {EDGE})",
    "UPDATE all_types SET c_text = 'changed', c_int = 7, c_num = 1.5 WHERE id = 101",
    "DELETE FROM all_types WHERE id = 102",
    "INSERT INTO defaults (qty) VALUES (2)",
    "INSERT INTO defaults (qty, note, ratio, price, created, mood_d) VALUES (NULL, NULL, NULL, NULL, NULL, NULL)",
    "UPDATE defaults SET qty = NULL WHERE id = 3",
    "UPDATE pk_change SET id = 10 WHERE id = 1",
    "UPDATE pk_change SET v = 'deux' WHERE id = 2",
    "DELETE FROM pk_change WHERE id = 2",
    "INSERT INTO composite VALUES (2, 'y', 'second')",
    "UPDATE composite SET v = 'changed' WHERE a = 1",
    "UPDATE composite SET a = 3 WHERE a = 2",
    "DELETE FROM composite WHERE a = 1",
    "INSERT INTO keyless VALUES (3, 'k3')",
    "UPDATE keyless SET b = 'k1b' WHERE a = 1",
    "DELETE FROM keyless WHERE a = 2",
    f"INSERT INTO toast_full VALUES (1, {_BIG}, 1)",
    "UPDATE toast_full SET small = 2 WHERE id = 1",
    "DELETE FROM toast_full WHERE id = 1",
    f"INSERT INTO toast_default VALUES (1, {_BIG}, ARRAY[{_BIG}], 1)",
    "UPDATE toast_default SET small = 2 WHERE id = 1",
    "DELETE FROM toast_default WHERE id = 1",
    # A transaction with a rolled-back savepoint, and a rolled-back transaction.
    "BEGIN; INSERT INTO pk_change VALUES (20, 'kept'); SAVEPOINT s; INSERT INTO pk_change VALUES (21, 'undone');"
    " ROLLBACK TO SAVEPOINT s; INSERT INTO pk_change VALUES (22, 'kept too'); COMMIT",
    "BEGIN; INSERT INTO pk_change VALUES (30, 'rolled back'); ROLLBACK",
    # DDL mid-stream: a column with a default, then a dropped column.
    "ALTER TABLE ddl_table ADD COLUMN added integer NOT NULL DEFAULT 5",
    # No default here: Debezium reads defaults from the catalog when it handles the Relation message, which can be
    # after the DROP below, so a default on this column would make its output depend on timing.
    "ALTER TABLE ddl_table ADD COLUMN added_text text",
    "INSERT INTO ddl_table (id, v) VALUES (2, 'after ddl')",
    "UPDATE ddl_table SET v = 'updated after ddl' WHERE id = 1",
    "ALTER TABLE ddl_table DROP COLUMN added_text",
    "INSERT INTO ddl_table (id, v) VALUES (3, 'after drop')",
    "TRUNCATE trunc",
    "INSERT INTO trunc VALUES (2)",
    # Logical decoding messages: transactional (inside a transaction with a change) and not.
    "BEGIN; INSERT INTO trunc VALUES (3); SELECT pg_logical_emit_message(true, 'conformance', 'in a tx'); COMMIT",
    "SELECT pg_logical_emit_message(false, 'conformance', 'outside a tx')",
    "INSERT INTO zz_done VALUES (1)",
)

# Connector variants: (suffix, properties on top of the connection, slot and topic prefix). Every variant runs
# in Debezium and in cdc-engine with the same properties.
_TYPES_ONLY = {"table.include.list": "public.all_types,public.defaults,public.zz_done"}
VARIANTS: dict[str, dict[str, str]] = {
    # Defaults, plus truncates (skipped by default) and heartbeats.
    "dflt": {"skipped.operations": "none", "heartbeat.interval.ms": "1000"},
    # The non-default numeric/time/binary modes.
    "modes": {
        **_TYPES_ONLY,
        "decimal.handling.mode": "double",
        "time.precision.mode": "connect",
        "interval.handling.mode": "string",
        "binary.handling.mode": "base64",
        "hstore.handling.mode": "map",
    },
    # Strings everywhere, payload-only values, nulls kept as nulls.
    "strs": {
        **_TYPES_ONLY,
        "decimal.handling.mode": "string",
        "time.precision.mode": "adaptive_time_microseconds",
        "binary.handling.mode": "hex",
        "money.fraction.digits": "3",
        "value.converter.schemas.enable": "false",
        "value.converter.replace.null.with.default": "false",
    },
    # Transaction metadata, messages, key columns, masking and source-type propagation.
    "extra": {
        "table.include.list": "public.all_types,public.pk_change,public.keyless,public.trunc,public.zz_done",
        "provide.transaction.metadata": "true",
        "message.key.columns": "public.keyless:a",
        "column.mask.with.5.chars": "public.all_types.c_varchar",
        "column.mask.hash.SHA-256.with.salt.s4lt": "public.all_types.c_text",
        "column.truncate.to.3.chars": "public.pk_change.v",
        "column.propagate.source.type": "public.all_types.c_num.*,public.all_types.c_varchar",
        "datatype.propagate.source.type": ".+\\.FLOAT8",
        "include.unknown.datatypes": "true",
        "snapshot.select.statement.overrides": "public.keyless",
        "snapshot.select.statement.overrides.public.keyless": "SELECT * FROM public.keyless WHERE a > 1",
        "slot.stream.params": "binary=false",
    },
}

"""Column defaults as Debezium 3.6 puts them into field schemas (its PostgresDefaultValueConverter).

The catalog gives a default as an expression (``pg_get_expr``): ``7``, ``'n/a'::character varying``,
``nextval('t_id_seq'::regclass)``, ``now()``. Debezium keeps literals and replaces function calls and the
current-time keywords by a per-type placeholder (``0``, ``1970-01-01`` …), for a fixed set of types only; for other
types (bytea, money, hstore, domains, geometric types …) a column has no default in its schema. :func:`default_text`
returns the default in PostgreSQL's text form, so the column's own value converter turns it into the Connect value,
exactly as a value of that column would be (Debezium also runs its defaults through the column's converter).

Called by the table registry when it builds a table version; nothing here runs per row.
"""

from __future__ import annotations

import re

from cdc.postgres import types as t

_LITERAL = re.compile(r"'([^']*(?:''[^']*)*)'")
_FUNCTION = re.compile(r"^[(]?[A-Za-z0-9_.]+\((?:.+(?:, ?.+)*)?\)")
_CURRENT_DATE_TIMES = frozenset({"current_timestamp", "current_time", "current_date", "localtime", "localtimestamp"})

# Built-in types Debezium parses defaults of → (placeholder for generated defaults, whether NULL::type means null).
_PLACEHOLDERS: dict[int, tuple[str, bool]] = {
    t.BOOL: ("false", True),
    t.BPCHAR: ("", False),
    t.VARCHAR: ("", False),
    t.TEXT: ("", False),
    t.NUMERIC: ("0.0", True),
    t.FLOAT4: ("0.0", True),
    t.FLOAT8: ("0.0", True),
    t.INT2: ("0", True),
    t.INT4: ("0", True),
    t.INT8: ("0", True),
    t.JSON: ("{}", False),
    t.JSONB: ("{}", False),
    t.XML: ("", False),
    t.UUID: ("00000000-0000-0000-0000-000000000000", False),
    t.DATE: ("1970-01-01", False),
    t.TIME: ("00:00:00", False),
    t.TIMESTAMP: ("1970-01-01 00:00:00", False),
    t.TIMESTAMPTZ: ("1970-01-01 00:00:00+00", False),
    t.BIT: ("00", False),
    t.VARBIT: ("0", False),
}


def _extract(expression: str, placeholder: str) -> str | None:
    """Debezium's extractDefault: the placeholder for a function call, else the literal (or the raw text)."""
    if _FUNCTION.search(expression) or expression.lower() in _CURRENT_DATE_TIMES:
        return placeholder
    if "'" not in expression:
        return None if expression.startswith("NULL::") else expression
    m = _LITERAL.search(expression)
    return None if m is None else m.group(1).replace("''", "'")


def default_text(type_oid: int, is_enum: bool, expression: str | None) -> str | None:
    """The default of a column of ``type_oid`` as PostgreSQL text, or None when Debezium has no default for it."""
    if expression is None:
        return None
    if is_enum:
        cast = expression.rfind("::")
        literal = expression[:cast] if cast >= 0 else ""
        return literal[1:-1] if len(literal) >= 2 and literal[0] == literal[-1] == "'" else None
    known = _PLACEHOLDERS.get(type_oid)
    if known is None:
        return None
    placeholder, null_literal = known
    if null_literal and expression.startswith("NULL::"):
        return None
    expression = expression.strip()
    text = _extract(expression, placeholder)
    if text is None:
        return None
    if type_oid == t.BOOL:  # Java's Boolean.parseBoolean: "true" in any case is true, anything else false
        return "t" if text.lower() == "true" else "f"
    if type_oid == t.BIT and len(text) == 1:
        return text
    if type_oid in (t.BIT, t.VARBIT) and text.startswith("B"):
        return None
    return text

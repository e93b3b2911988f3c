"""The hot path's specialized code paths give exactly what the reference implementations give.

``CapturedTable.row`` and ``.key`` (cdc.capture.table) are generated per table, ``pgoutput._tuple`` unrolls its
column loop, and two converters have fast paths (docs/performance.md); each is checked here against its generic
counterpart or an independent reference, on fixed-seed random inputs.
"""

from __future__ import annotations

import random
import struct
from decimal import Decimal, localcontext
from typing import Any

from cdc.capture.table import CapturedTable
from cdc.postgres import pgoutput
from cdc.postgres.pgoutput import UNCHANGED_TOAST
from cdc.postgres.types import _fixed_decimal, _to_bool, _to_str, _zoned_timestamp_converter
from schemas.json_converter import JsonConverter

_EMPTY = JsonConverter(False).serializer(None)


def _outcome(fn: Any, arg: Any) -> tuple[str, Any]:
    try:
        return "ok", fn(arg)
    except Exception as exc:  # noqa: BLE001 - the exception type is what is compared
        return "error", type(exc)


def _table(names: list[str], converters: list[Any], kept: tuple[int, ...] | None) -> CapturedTable:
    positions = kept if kept is not None else tuple(range(len(names)))
    columns = tuple(names[i] for i in positions)
    return CapturedTable(
        table_id=1,
        namespace="s",
        name="t",
        topic="p.s.t",
        columns=columns,
        kept=kept,
        converters=tuple(converters[i] for i in positions),
        key_names=(columns[0],),
        placeholders=tuple("__placeholder" for _ in positions),
        zero_fill={},
        serialize_key=_EMPTY,
        serialize_value=_EMPTY,
        has_key=True,
    )


def test_generated_row_and_key_match_the_generic_row() -> None:
    rnd = random.Random(7)
    kinds = [
        (_to_str, lambda: rnd.choice(["a", "", "x'y\"z", "é ✓"])),
        (_to_bool, lambda: rnd.choice("tf")),
        (int, lambda: str(rnd.randint(-99, 99))),
        (_fixed_decimal(2), lambda: f"{rnd.randint(-999, 999)}.{rnd.randint(0, 99):02d}"),
        (_zoned_timestamp_converter(6), lambda: "2024-01-01 00:00:00.5+00"),
    ]
    for _ in range(500):
        width = rnd.randint(1, 8)
        names = [rnd.choice(["id", "a b", "'q'", 'd"q', "é", "x\\y", "class"]) + str(i) for i in range(width)]
        chosen = [rnd.choice(kinds) for _ in range(width)]
        kept = None if rnd.random() < 0.5 else tuple(sorted(rnd.sample(range(width), rnd.randint(1, width))))
        table = _table(names, [c for c, _ in chosen], kept)
        for _ in range(10):
            values: Any = [
                rnd.choice([None, UNCHANGED_TOAST, make()]) if rnd.random() < 0.4 else make() for _, make in chosen
            ]
            if rnd.random() < 0.5:
                values = tuple(values)
            fast, generic = _outcome(table.row, values), _outcome(table.generic_row, values)
            assert fast == generic
            if fast[0] == "ok":
                assert list(fast[1]) == list(generic[1])  # same key order, hence same JSON
                assert table.key(fast[1]) == {table.columns[0]: fast[1][table.columns[0]]}
        too_long = [chosen[0][1]()] * (width + 1)
        assert _outcome(table.row, too_long)[0] == _outcome(table.generic_row, too_long)[0]


def _tuple_data(rnd: random.Random, count: int) -> tuple[bytes, list[Any]]:
    out, expected = [struct.pack(">h", count)], []
    for _ in range(count):
        roll = rnd.random()
        if roll < 0.2:
            out.append(b"n")
            expected.append(None)
        elif roll < 0.25:
            out.append(b"u")
            expected.append(UNCHANGED_TOAST)
        else:
            text = "".join(rnd.choice('ab\x00"é✓🚀') for _ in range(rnd.randint(0, 6)))
            raw = text.encode()
            out.append(b"t" + struct.pack(">i", len(raw)) + raw)
            expected.append(text)
    return b"".join(out), expected


def test_unrolled_tuple_decoder_matches_the_generic_loop() -> None:
    rnd = random.Random(11)
    for _ in range(2000):
        count = rnd.randint(0, 12)
        body, expected = _tuple_data(rnd, count)
        buf = b"I\x00\x00\x00\x01N" + body + b"trailing"
        assert pgoutput._tuple(buf, 6) == pgoutput._tuple_generic(buf, 6) == (expected, len(buf) - 8)


def test_fixed_decimal_matches_a_decimal_reference() -> None:
    rnd = random.Random(3)
    for scale in range(0, 6):
        convert = _fixed_decimal(scale)
        for special in ("NaN", "Infinity", "-Infinity"):
            assert convert(special) is None
        for _ in range(3000):
            digits = str(rnd.randint(0, 10 ** rnd.randint(0, 25)))
            text = ("-" if rnd.random() < 0.5 else "") + digits
            if scale:
                text += "." + "".join(rnd.choice("0123456789") for _ in range(scale))
            with localcontext(prec=100):
                unscaled = int(Decimal(text).scaleb(scale))
            length = (unscaled if unscaled >= 0 else ~unscaled).bit_length() // 8 + 1
            assert convert(text) == unscaled.to_bytes(length, "big", signed=True), text


def test_zoned_timestamp_fast_path_matches_the_general_formatting() -> None:
    rnd = random.Random(5)
    for precision in range(0, 7):
        convert = _zoned_timestamp_converter(precision)
        for _ in range(3000):
            base = (
                f"{rnd.randint(1, 9999):04d}-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d} "
                f"{rnd.randint(0, 23):02d}:{rnd.randint(0, 59):02d}:{rnd.randint(0, 59):02d}"
            )
            digits = rnd.randint(0, 6)
            frac = "".join(rnd.choice("0123456789") for _ in range(digits - 1)) + rnd.choice("123456789")
            frac = frac if digits else ""
            text = base + ("." + frac if frac else "") + "+00"
            iso = base.replace(" ", "T")
            if precision > 0:
                expected = f"{iso}.{frac.ljust(precision, '0')}Z"
            else:
                expected = f"{iso}.{frac}Z" if frac else iso + "Z"
            assert convert(text) == expected, (precision, text)

"""Java ``SimpleDateFormat`` patterns, formatted and parsed in UTC, for TimestampRouter and TimestampConverter.

Both SMTs take a ``java.text.SimpleDateFormat`` pattern (``yyyyMMdd``, ``yyyy-MM-dd'T'HH:mm:ss.SSSX`` …) and use
it with the UTC time zone. Supported letters: ``G y Y M L d D E u a H k K h m s S z Z X`` and quoted literals
(``'T'``, ``''``). Count rules follow Java: ``yy`` is a two-digit year, ``MMM``/``MMMM`` month names, ``EEE``/``EEEE``
day names, numbers are zero-padded to the count, ``S`` is milliseconds (not a fraction: ``SSS`` pads to three
digits, ``S`` does not). Parsing is strict about the pattern's literals and lenient like Java about digit counts.
"""

from __future__ import annotations

import calendar
import datetime
import re
from dataclasses import dataclass

_UTC = datetime.UTC
_MONTHS = list(calendar.month_name)[1:]
_DAYS = list(calendar.day_name)  # Monday first, as datetime.weekday()
_LETTERS = set("GyYMLdDEuaHkKhmsSzZX")


@dataclass(frozen=True)
class _Token:
    letter: str  # "" for a literal
    count: int
    text: str = ""


class PatternError(ValueError):
    """The pattern is not a valid SimpleDateFormat pattern (Java: IllegalArgumentException)."""


def _tokenize(pattern: str) -> list[_Token]:
    tokens: list[_Token] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "'":
            end = i + 1
            text = ""
            while True:
                nxt = pattern.find("'", end)
                if nxt == -1:
                    raise PatternError(f"Unterminated quote in pattern {pattern!r}")
                text += pattern[end:nxt]
                if nxt + 1 < len(pattern) and pattern[nxt + 1] == "'":
                    text += "'"
                    end = nxt + 2
                    continue
                end = nxt + 1
                break
            tokens.append(_Token("", 0, text if text or end - i > 2 else "'"))
            i = end
        elif c.isascii() and c.isalpha():
            if c not in _LETTERS:
                raise PatternError(f"Illegal pattern character '{c}'")
            j = i
            while j < len(pattern) and pattern[j] == c:
                j += 1
            tokens.append(_Token(c, j - i))
            i = j
        else:
            tokens.append(_Token("", 0, c))
            i += 1
    return tokens


class SimpleDateFormat:
    """One compiled pattern; formats and parses in UTC."""

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self.tokens = _tokenize(pattern)
        self._regex: re.Pattern[str] | None = None

    def format(self, when: datetime.datetime) -> str:
        """Format an aware or UTC-naive datetime."""
        when = when.astimezone(_UTC) if when.tzinfo else when.replace(tzinfo=_UTC)
        out: list[str] = []
        for t in self.tokens:
            if not t.letter:
                out.append(t.text)
            else:
                out.append(_format_field(t, when))
        return "".join(out)

    def parse(self, text: str) -> datetime.datetime:
        """Parse ``text`` into an aware UTC datetime; raises ValueError when it does not match."""
        if self._regex is None:
            self._regex = re.compile("".join(_parse_regex(t, i) for i, t in enumerate(self.tokens)), re.IGNORECASE)
        m = self._regex.match(text)
        if m is None:
            raise ValueError(f'Unparseable date: "{text}"')
        year, month, day, hour, minute, second, milli = 1970, 1, 1, 0, 0, 0, 0
        pm: bool | None = None
        offset = datetime.timedelta(0)
        day_of_year: int | None = None
        for i, t in enumerate(self.tokens):
            if not t.letter:
                continue
            v = m.group(f"g{i}")
            if v is None:
                continue
            c = t.letter
            if c in "yY":
                year = int(v)
                if t.count <= 2 and len(v) <= 2:
                    year += 2000 if year < 50 else 1900  # Java's 80-years-before/20-after window, approximately
            elif c in "ML":
                month = _MONTHS.index(_month_full(v)) + 1 if not v.isdigit() else int(v)
            elif c == "d":
                day = int(v)
            elif c == "D":
                day_of_year = int(v)
            elif c in "Hk":
                hour = int(v) % 24
            elif c in "hK":
                hour = int(v) % 12
            elif c == "m":
                minute = int(v)
            elif c == "s":
                second = int(v)
            elif c == "S":
                milli = int(v)
            elif c == "a":
                pm = v.upper() == "PM"
            elif c in "zZX":
                offset = _parse_offset(v)
        if pm is not None:
            hour = hour % 12 + (12 if pm else 0)
        base = datetime.datetime(year, month, day, hour, minute, second, tzinfo=_UTC)
        if day_of_year is not None:
            base = base.replace(month=1, day=1) + datetime.timedelta(days=day_of_year - 1)
        return base + datetime.timedelta(milliseconds=milli) - offset


def _month_full(text: str) -> str:
    for name in _MONTHS:
        if name.lower().startswith(text.lower()):
            return name
    raise ValueError(f"unknown month {text!r}")


def _parse_offset(text: str) -> datetime.timedelta:
    if text.upper() in ("Z", "UTC", "GMT"):
        return datetime.timedelta(0)
    m = re.fullmatch(r"(?:GMT|UTC)?([+-])(\d{1,2}):?(\d{2})?", text, re.IGNORECASE)
    if m is None:
        raise ValueError(f"unknown time zone {text!r}")
    delta = datetime.timedelta(hours=int(m.group(2)), minutes=int(m.group(3) or 0))
    return delta if m.group(1) == "+" else -delta


def _pad(number: int, count: int) -> str:
    return str(number).zfill(count)


def _format_field(t: _Token, when: datetime.datetime) -> str:
    c, n = t.letter, t.count
    if c == "G":
        return "AD"
    if c in "yY":
        return _pad(when.year % 100, 2) if n == 2 else _pad(when.year, n)
    if c in "ML":
        if n >= 4:
            return _MONTHS[when.month - 1]
        if n == 3:
            return _MONTHS[when.month - 1][:3]
        return _pad(when.month, n)
    if c == "d":
        return _pad(when.day, n)
    if c == "D":
        return _pad(when.timetuple().tm_yday, n)
    if c == "E":
        name = _DAYS[when.weekday()]
        return name if n >= 4 else name[:3]
    if c == "u":
        return _pad(when.isoweekday(), n)
    if c == "a":
        return "AM" if when.hour < 12 else "PM"
    if c == "H":
        return _pad(when.hour, n)
    if c == "k":
        return _pad(when.hour or 24, n)
    if c == "K":
        return _pad(when.hour % 12, n)
    if c == "h":
        return _pad(when.hour % 12 or 12, n)
    if c == "m":
        return _pad(when.minute, n)
    if c == "s":
        return _pad(when.second, n)
    if c == "S":
        return _pad(when.microsecond // 1000, n)
    if c == "z":
        return "Coordinated Universal Time" if n >= 4 else "UTC"
    if c == "Z":
        return "+0000"
    # X: ISO 8601 zone; UTC is "Z" whatever the count.
    return "Z"


def _parse_regex(t: _Token, i: int) -> str:
    if not t.letter:
        return re.escape(t.text)
    c, n = t.letter, t.count
    name = f"g{i}"
    if c in "ML" and n >= 3:
        return f"(?P<{name}>[A-Za-z]+)"
    if c == "E":
        return f"(?:[A-Za-z]+)(?P<{name}>)?"
    if c == "a":
        return f"(?P<{name}>AM|PM)"
    if c == "G":
        return f"(?:AD|BC)(?P<{name}>)?"
    if c in "zZX":
        return f"(?P<{name}>Z|(?:GMT|UTC)?[+-]\\d{{1,2}}(?::?\\d{{2}})?|GMT|UTC)"
    if c in "yY" and n == 1:
        return f"(?P<{name}>\\d+)"
    if n >= 3:
        return f"(?P<{name}>\\d{{{n}}})"
    width = 3 if c == "S" else 2
    return f"(?P<{name}>\\d{{1,{width}}})"

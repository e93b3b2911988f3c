"""Reading an SMT's or predicate's properties the way Kafka's ``ConfigDef`` does, collecting every problem.

Each transform's ``configure`` builds one :class:`Properties` over its own properties (prefix removed), reads what
it declares with the typed getters (which record a problem instead of raising), and finally calls
:meth:`Properties.check`, which raises one ``ConfigError`` listing them all. The chain builder catches that error
and re-labels each problem with the transform's full property names (``transforms.<alias>.<name>``).

Parsing follows ``ConfigDef.parseType``: lists split on commas with surrounding whitespace trimmed (an empty string
is an empty list), booleans are ``true``/``false`` in any case, integers are trimmed decimal numbers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from cdc.errors import ConfigError

_LIST_SPLIT = re.compile(r"\s*,\s*")


class Properties:
    """Typed access to one transform's properties; problems accumulate until :meth:`check`."""

    def __init__(self, properties: Mapping[str, str]) -> None:
        self.raw = dict(properties)
        self.problems: list[str] = []

    def problem(self, message: str) -> None:
        """Record a problem found by the transform itself (cross-property checks)."""
        self.problems.append(message)

    def has(self, name: str) -> bool:
        """True when ``name`` was given (even empty)."""
        return name in self.raw

    def string(self, name: str, default: str | None = None, *, required: bool = False) -> str | None:
        """A string property; ``required`` reports it missing (Connect: "Missing required configuration")."""
        value = self.raw.get(name)
        if value is None:
            if required:
                self.problems.append(f"{name} is required")
            return default
        return str(value)

    def required_string(self, name: str, *, non_empty: bool = False) -> str:
        """A required string; ``non_empty`` also rejects "" (ConfigDef.NonEmptyString)."""
        value = self.string(name, required=True)
        if value is None:
            return ""
        if non_empty and value.strip() == "":
            self.problems.append(f"{name} must not be empty")
        return value

    def choice(self, name: str, choices: Sequence[str], default: str, *, case_insensitive: bool = True) -> str:
        """An enumerated string property (ConfigDef.ValidString / CaseInsensitiveValidString)."""
        value = self.string(name, default)
        assert value is not None
        for choice in choices:
            if value == choice or (case_insensitive and value.lower() == choice.lower()):
                return choice
        self.problems.append(f"{name}={value!r} is invalid; expected one of: {', '.join(choices)}")
        return default

    def boolean(self, name: str, default: bool) -> bool:
        """A boolean property: ``true`` or ``false`` in any case."""
        value = self.raw.get(name)
        if value is None:
            return default
        text = str(value).strip().lower()
        if text in ("true", "false"):
            return text == "true"
        self.problems.append(f"{name}={value!r} is not a boolean (expected true or false)")
        return default

    def integer(
        self, name: str, default: int | None = None, *, required: bool = False, minimum: int | None = None
    ) -> int | None:
        """An integer property, optionally bounded below."""
        value = self.raw.get(name)
        if value is None:
            if required:
                self.problems.append(f"{name} is required")
            return default
        try:
            number = int(str(value).strip())
        except ValueError:
            self.problems.append(f"{name}={value!r} is not an integer")
            return default
        if minimum is not None and number < minimum:
            self.problems.append(f"{name}={value!r} must be at least {minimum}")
            return default
        return number

    def string_list(
        self, name: str, default: Sequence[str] = (), *, required: bool = False, non_empty: bool = False
    ) -> list[str]:
        """A comma-separated list property."""
        value = self.raw.get(name)
        if value is None:
            if required:
                self.problems.append(f"{name} is required")
            return list(default)
        items = parse_list(value)
        if non_empty and not items:
            self.problems.append(f"{name} must not be empty")
        return items

    def regex(self, name: str, default: str | None = None, *, required: bool = False) -> re.Pattern[str] | None:
        """A Java regular expression property, compiled with Python's ``re`` (see README for differences)."""
        text = self.string(name, default, required=required)
        if text is None:
            return None
        try:
            return re.compile(java_regex(text))
        except re.error as exc:
            self.problems.append(f"{name}={text!r} is not a valid regular expression: {exc}")
            return None

    def check(self) -> None:
        """Raise one ``ConfigError`` with every problem recorded so far; called at the end of ``configure``."""
        if self.problems:
            raise ConfigError(self.problems)


def parse_list(value: str) -> list[str]:
    """Connect's LIST parsing: comma-separated, whitespace around items trimmed, empty string → empty list."""
    text = value.strip()
    if not text:
        return []
    return _LIST_SPLIT.split(text)


_POSIX_CLASSES = {
    "Lower": "a-z",
    "Upper": "A-Z",
    "ASCII": "\\x00-\\x7F",
    "Alpha": "a-zA-Z",
    "Digit": "0-9",
    "Alnum": "a-zA-Z0-9",
    "Punct": "!-/:-@\\[-`{-~",
    "Graph": "!-~",
    "Print": " -~",
    "Blank": " \\t",
    "Cntrl": "\\x00-\\x1F\\x7F",
    "XDigit": "0-9a-fA-F",
    "Space": " \\t\\n\\x0B\\f\\r",
}


def java_regex(pattern: str) -> str:
    """Translate the Java regex spellings Python lacks: named groups ``(?<name>…)``, ``\\Q…\\E`` quoting and the
    POSIX classes ``\\p{Lower}``, ``\\P{Alpha}`` …, inside or outside ``[…]``. Possessive quantifiers and atomic
    groups need no translation (Python 3.11 has them). Anything else Java-only fails to compile and is reported."""
    out: list[str] = []
    i, in_class = 0, False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            nxt = pattern[i + 1]
            if nxt == "Q":
                end = pattern.find("\\E", i + 2)
                literal = pattern[i + 2 :] if end == -1 else pattern[i + 2 : end]
                out.append(re.escape(literal))
                i = len(pattern) if end == -1 else end + 2
                continue
            if nxt in "pP" and pattern.startswith("{", i + 2) and "}" in pattern[i + 2 :]:
                close = pattern.index("}", i + 2)
                name = pattern[i + 3 : close].removeprefix("Is")
                members = _POSIX_CLASSES.get(name)
                if members is not None:
                    negate = nxt == "P"
                    if in_class and not negate:
                        out.append(members)
                    else:
                        out.append(f"[{'^' if negate else ''}{members}]")
                    i = close + 1
                    continue
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if c == "[" and not in_class:
            in_class = True
        elif c == "]" and in_class:
            in_class = False
        elif c == "(" and pattern.startswith("(?<", i) and not pattern.startswith(("(?<=", "(?<!"), i):
            out.append("(?P<")
            i += 3
            continue
        out.append(c)
        i += 1
    return "".join(out)


def java_replacement(replacement: str) -> str:
    """Translate a Java ``Matcher.replaceFirst`` replacement (``$1``, ``${name}``, ``\\$``) to Python's ``re.sub``."""
    out: list[str] = []
    i = 0
    while i < len(replacement):
        c = replacement[i]
        if c == "\\" and i + 1 < len(replacement):
            nxt = replacement[i + 1]
            out.append("\\\\" if nxt == "\\" else nxt)
            i += 2
        elif c == "$" and replacement.startswith("{", i + 1) and replacement.find("}", i) > 0:
            end = replacement.find("}", i)
            out.append(f"\\g<{replacement[i + 2 : end]}>")
            i = end + 1
        elif c == "$" and i + 1 < len(replacement) and replacement[i + 1].isdigit():
            j = i + 1
            while j < len(replacement) and replacement[j].isdigit():
                j += 1
            out.append(f"\\g<{replacement[i + 1 : j]}>")
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)

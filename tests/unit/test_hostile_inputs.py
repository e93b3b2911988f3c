"""Hostile or mistaken inputs get one clear message: bad bytes, huge files, alias bombs, typos, bad librdkafka
properties, bad log levels; and --log-level DEBUG shows tracebacks."""

from __future__ import annotations

import logging
import resource
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cdc import cli
from cdc.config import MAX_CONFIG_BYTES, load_engine_config
from cdc.errors import ConfigError
from cdc.logs import JsonFormatter, TextFormatter

GOOD = """name: shop
config:
  connector.class: postgres
  database.hostname: db
  database.user: cdc
  database.dbname: shop
  topic.prefix: shop
worker:
  bootstrap.servers: kafka:9092
"""


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """cli.main installs a handler on the (captured) stderr of this test; later tests must not log into it."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def _problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_engine_config(str(path))
    return info.value.problems


def test_non_utf8_and_binary_files_are_config_errors(tmp_path: Path) -> None:
    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes(GOOD.replace("db\n", "d\xe9b\n").encode("latin-1"))
    assert "not UTF-8" in _problems(latin1)[0]
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\x00\x01\x02 name: x\x00")
    assert "NUL bytes" in _problems(binary)[0]
    # Through the CLI: exit code 2, no "internal error".
    assert cli.main(["validate", "--config", str(latin1), "--skip-kafka"]) == 2


def test_huge_file_is_refused_without_reading_it(tmp_path: Path) -> None:
    huge = tmp_path / "huge.yaml"
    with huge.open("w") as fh:
        fh.write(GOOD)
        fh.write("# padding\n" * (12 * MAX_CONFIG_BYTES // 10))  # ~12 MiB, the 115 MB case only takes longer to write
    started = time.monotonic()
    assert "larger than" in _problems(huge)[0]
    assert time.monotonic() - started < 2


def test_alias_bomb_is_refused_quickly_with_bounded_memory(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 10)]  # 10^10 values
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(GOOD + "\n".join(lines) + "\n")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    assert "aliases are expanded" in _problems(bomb)[0]
    assert time.monotonic() - started < 5
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100_000  # KiB
    many = tmp_path / "many.yaml"
    many.write_text(GOOD + "x: &x 1\nl: [" + ", ".join(["*x"] * 500) + "]\n")
    assert "aliases" in _problems(many)[0]


def test_a_few_aliases_are_fine(tmp_path: Path) -> None:
    doc = tmp_path / "anchors.yaml"
    doc.write_text(GOOD.replace("database.user: cdc", "database.user: &user cdc\n  slot.name: *user"))
    assert load_engine_config(str(doc)).connector.slot_name == "cdc"


def test_misspelled_property_suggests_the_known_one(tmp_path: Path) -> None:
    typo = tmp_path / "typo.yaml"
    typo.write_text(GOOD.replace("database.hostname", "databse.hostname"))
    problems = _problems(typo)
    assert problems == [
        "config.database.hostname: required property is missing "
        "('databse.hostname' is given: a typo of 'database.hostname'?)"
    ]
    optional = tmp_path / "optional.yaml"
    optional.write_text(GOOD.replace("topic.prefix: shop", "topic.prefix: shop\n  slot.nmae: s"))
    warnings = load_engine_config(str(optional)).warnings
    assert "connector property 'slot.nmae' is not used by cdc-engine; did you mean 'slot.name'?" in warnings


def test_unknown_or_malformed_producer_property_fails_validation(tmp_path: Path) -> None:
    bad = tmp_path / "producer.yaml"
    bad.write_text(GOOD + "  producer.no.such.thing: 1\n")
    problems = _problems(bad)
    assert len(problems) == 1 and 'No such configuration property: "no.such.thing"' in problems[0]
    malformed = tmp_path / "malformed.yaml"
    malformed.write_text(GOOD + "  producer.compression.type: zstd-ish\n")
    assert "compression" in _problems(malformed)[0]
    # acks=1 contradicts the idempotent producer the engine relies on: librdkafka says so before start.
    acks = tmp_path / "acks.yaml"
    acks.write_text(GOOD + "  producer.acks: 1\n")
    assert "`acks` must be set to `all` when `enable.idempotence` is true" in _problems(acks)[0]
    fine = tmp_path / "fine.yaml"
    fine.write_text(GOOD + "  producer.linger.ms: 20\n  producer.buffer.memory: 33554432\n")
    assert load_engine_config(str(fine)).worker.producer_overrides()["linger.ms"] == "20"


def test_bad_log_level_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(["--log-level", "FOO", "describe", "worker"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'FOO'" in err and "Traceback" not in err
    assert cli.main(["--log-level", "debug", "describe", "worker"]) == 0  # case-insensitive


def _record_with_traceback() -> logging.LogRecord:
    try:
        raise ValueError("boom")
    except ValueError:
        return logging.LogRecord("cdc.cli", logging.DEBUG, __file__, 1, "traceback", (), sys.exc_info())


def test_debug_log_lines_carry_the_traceback() -> None:
    record = _record_with_traceback()
    text = TextFormatter().format(record)
    assert "Traceback (most recent call last)" in text and "ValueError: boom" in text
    assert "ValueError: boom" in JsonFormatter().format(record)


def test_cli_internal_error_shows_traceback_only_at_debug(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def explode(_args: Any) -> int:
        raise RuntimeError("unexpected")

    monkeypatch.setattr(cli, "cmd_describe", explode)
    assert cli.main(["describe", "worker"]) == 1
    assert "Traceback" not in capsys.readouterr().err
    assert cli.main(["--log-level", "DEBUG", "describe", "worker"]) == 1
    err = capsys.readouterr().err
    assert "internal error: RuntimeError: unexpected" in err and "Traceback (most recent call last)" in err

"""sinks.tasks helpers and the task label on log lines (no servers)."""

from __future__ import annotations

import logging
import signal

import pytest

from cdc import logs
from sinks.tasks import TASK_ENV, child_task_index, describe_exit


def test_child_task_index_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TASK_ENV, raising=False)
    assert child_task_index() is None
    monkeypatch.setenv(TASK_ENV, "3:1234")
    assert child_task_index() == 3
    monkeypatch.setenv(TASK_ENV, "garbage")
    assert child_task_index() is None


def test_describe_exit() -> None:
    assert describe_exit(1) == "exit code 1"
    assert describe_exit(-int(signal.SIGKILL)) == "killed by SIGKILL"


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_log_lines_carry_the_task_index(fmt: str, capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    logs.configure(fmt, "INFO")
    try:
        logs.set_task(2)
        logging.getLogger("sinks.runtime").info("hello")
        logs.set_task(None)
        logging.getLogger("sinks.runtime").info("single")
    finally:
        logs.set_task(None)
        root.handlers[:], level = saved
        root.setLevel(level)
    err = capsys.readouterr().err.splitlines()
    if fmt == "text":
        assert err[0].endswith("task-2 sinks.runtime: hello") and err[1].endswith(" sinks.runtime: single")
        assert "task-" not in err[1]
    else:
        assert '"task":2' in err[0] and '"task"' not in err[1]

"""Structured logging: ``text`` (human, key=value) or ``json`` (one object per line) on stderr.

Secrets never reach a log: configs are logged only through their pydantic models, whose passwords are SecretStr.
"""

from __future__ import annotations

import logging
import sys
import time

import orjson

_STANDARD_ATTRS = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime", "task"}

_task: int | None = None  # the sink task index when tasks.max > 1 (set_task); None for a single task


class _TaskFilter(logging.Filter):
    """Stamps every record with the task index: ``task-1`` before the logger name in text, ``"task": 1`` in JSON."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.task = _task
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        task = getattr(record, "task", None)
        if task is not None:
            out["task"] = task
        out.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD_ATTRS})
        if record.exc_info:
            out["traceback"] = self.formatException(record.exc_info)
        return orjson.dumps(out, default=str).decode()


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        ts = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(record.created))
        extra = " ".join(f"{k}={v}" for k, v in record.__dict__.items() if k not in _STANDARD_ATTRS)
        task = getattr(record, "task", None)
        name = record.name if task is None else f"task-{task} {record.name}"
        line = f"{ts} {record.levelname:<7} {name}: {record.getMessage()}"
        if extra:
            line = f"{line} {extra}"
        if record.exc_info:  # only logged at DEBUG (cli.main): --log-level DEBUG shows the traceback
            line = f"{line}\n{self.formatException(record.exc_info)}"
        return line


def configure(fmt: str = "text", level: str = "INFO") -> None:
    """Install the formatter on the root logger; called once by the CLI."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(_TaskFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


def set_task(index: int | None) -> None:
    """Label every later log line with sink task ``index`` (``cdc.cli``: the tasks of a sink with tasks.max > 1)."""
    global _task
    _task = index

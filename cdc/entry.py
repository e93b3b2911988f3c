"""The ``cdc-engine`` console script (and ``python -m cdc``): SIGTERM handling from the first moment.

Importing the engine (pydantic, confluent-kafka, the connector packages) takes a few hundred milliseconds. A
SIGTERM in that window used to end the process with the default action (exit -15, as if killed). This module
imports nothing heavy: it turns SIGTERM into an exception (:class:`StartupInterrupted`) before anything else is
imported, so an early stop ends with exit 130 ("interrupted before start-up finished", README "Exit codes") and
one line on stderr. ``cdc.cli.cmd_start`` replaces the handler with the orderly-stop one once the runtime exists.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
from types import FrameType

# sinks.tasks.TASK_ENV, repeated here so that this module stays import-light.
_TASK_ENV = "CDC_ENGINE_SINK_TASK"
_PR_SET_PDEATHSIG = 1


class StartupInterrupted(BaseException):
    """Raised by the early SIGTERM handler. A BaseException, so that no ``except Exception`` on the way swallows it,
    and not ``KeyboardInterrupt``: CPython re-raises SIGINT at exit after a KeyboardInterrupt it considers
    unhandled (exit -2 was seen here even though this module caught it)."""


def _interrupt(_signum: int, _frame: FrameType | None) -> None:
    raise StartupInterrupted


def die_with_parent() -> None:
    """In a child task of a sink with ``tasks.max`` > 1 (``sinks.tasks``): get SIGTERM when the parent process dies,
    even by SIGKILL (Linux ``PR_SET_PDEATHSIG``), so that no task outlives its connector. The parent's pid travels
    in the environment: if it died before ``prctl`` ran, the signal would never come, so stop right away."""
    value = os.environ.get(_TASK_ENV)
    if not value:
        return
    _index, _, parent = value.partition(":")
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM))
    if parent.isdigit() and os.getppid() != int(parent):
        os.kill(os.getpid(), signal.SIGTERM)


def main() -> int:
    """Entry point of ``cdc-engine``; returns the process exit code (see :mod:`cdc.cli`)."""
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        die_with_parent()
        from cdc.cli import main as cli_main

        return cli_main()
    except (StartupInterrupted, KeyboardInterrupt):
        print("cdc-engine: stopped before start-up finished", file=sys.stderr)
        return 130

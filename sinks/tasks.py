"""``tasks.max`` > 1 for a sink connector: task 0 in this process, tasks 1..N-1 as child processes.

Each task is a plain ``SinkRuntime`` member of the consumer group ``connect-<name>``: the group protocol spreads the
topic partitions over the tasks and moves a dead task's partitions to the others (at-least-once: what it had not
committed is read again by its successor). One process per task, because one ``SinkRuntime`` is CPU-bound under
the GIL (JSON decoding and conversion); N processes use N cores.

A child is the same command line (``python -m cdc start …``) with :data:`TASK_ENV` set to ``<index>:<parent pid>``;
``cdc.entry`` reads it before anything else (:func:`cdc.entry.die_with_parent`) so that a child gets SIGTERM, and
flushes and commits like a stopped worker, when the parent dies, even by SIGKILL (``PR_SET_PDEATHSIG``). Children
run in their own session, so a Ctrl-C on the terminal reaches only the parent, which forwards each SIGTERM/SIGINT
once to every child (a direct SIGINT as well would count as the "second signal" in the child and skip its commit).

A task that dies (non-zero exit, or killed by a signal) while no stop was requested is marked FAILED in the log and
not restarted, as Kafka Connect does with a failed task; the other tasks keep running. The parent exits when every
task has ended: 0 if all of them stopped cleanly, 1 if any failed (``cdc.cli.cmd_start``).

Called by ``cdc.cli.cmd_start`` only; everything here runs on the main thread except :meth:`TaskSupervisor._watch`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from cdc.errors import FatalError

log = logging.getLogger("sinks.tasks")

TASK_ENV = "CDC_ENGINE_SINK_TASK"
"""Set in a child task's environment: ``<task index>:<parent pid>``. Internal; not a user setting."""

_POLL_S = 0.2  # how often the watcher looks for children that exited


def child_task_index() -> int | None:
    """The task index when this process is a child task started by :class:`TaskSupervisor`, else ``None``."""
    value = os.environ.get(TASK_ENV)
    if not value:
        return None
    index, _, _parent = value.partition(":")
    return int(index) if index.isdigit() else None


def describe_exit(code: int) -> str:
    """``exit code 1`` or ``killed by SIGKILL`` for a ``Popen.returncode``."""
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


@dataclass
class _Child:
    index: int
    proc: subprocess.Popen[bytes]
    reported: bool = False
    failed: bool = False


class TaskSupervisor:
    """Starts, watches and stops the child tasks 1..``tasks``-1 of one sink connector.

    ``argv`` is the command line after the program name (``start --config …``); each child runs it again with
    :data:`TASK_ENV` set. ``start`` must be called on the main thread: ``PR_SET_PDEATHSIG`` fires when the *thread*
    that created the child ends, and the main thread lives as long as the process.
    """

    def __init__(self, connector: str, tasks: int, argv: Sequence[str]) -> None:
        self.connector = connector
        self.tasks = tasks
        self.argv = list(argv)
        self._children: list[_Child] = []
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._watcher: threading.Thread | None = None

    # -- called by cmd_start ------------------------------------------------------------------------------------

    def start(self) -> None:
        """Start tasks 1..N-1 (task 0 is the caller's own ``SinkRuntime``) and the watcher thread.

        Raises ``FatalError`` when a child cannot be started (the ones already started are stopped first)."""
        parent = os.getpid()
        for index in range(1, self.tasks):
            if self._stopping.is_set():  # a signal came while starting: start no more
                break
            env = {**os.environ, TASK_ENV: f"{index}:{parent}", "PYTHONUNBUFFERED": "1"}
            try:
                proc = subprocess.Popen(
                    [sys.executable, "-m", "cdc", *self.argv],
                    env=env,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,  # Ctrl-C reaches the parent only; it forwards (module docstring)
                )
            except OSError as exc:
                self.stop(signal.SIGTERM)
                self.wait()
                raise FatalError(f"cannot start task {index} of connector {self.connector}: {exc}") from exc
            self._children.append(_Child(index, proc))
            if self._stopping.is_set():  # the signal handler ran between Popen and the append: it missed this one
                with contextlib.suppress(OSError):
                    proc.send_signal(signal.SIGTERM)
            log.info("started task-%d of %d (pid %d)", index, self.tasks, proc.pid)
        self._watcher = threading.Thread(target=self._watch, name="task-watcher", daemon=True)
        self._watcher.start()

    def stop(self, signum: int) -> None:
        """Forward a stop signal to every running child (from the parent's signal handler: no blocking, no lock)."""
        self._stopping.set()
        for child in self._children:
            if child.proc.returncode is None:
                with contextlib.suppress(OSError):  # exited in between; the watcher reports it
                    child.proc.send_signal(signum)

    def wait(self) -> None:
        """Block until every child has exited and was reported. Signals are still handled meanwhile (the join is
        sliced so the main thread returns to the interpreter between slices)."""
        if self._watcher is None:
            for child in self._children:
                child.proc.wait()
            return
        while self._watcher.is_alive():
            self._watcher.join(0.5)

    @property
    def failed(self) -> list[int]:
        """Indexes of the child tasks that failed."""
        return [c.index for c in self._children if c.failed]

    @property
    def pids(self) -> list[int]:
        """Process ids of the children started (running or not)."""
        return [c.proc.pid for c in self._children]

    # -- watcher thread ------------------------------------------------------------------------------------------

    def _watch(self) -> None:
        """Report each child's exit once: FAILED when no stop was requested (or it did not stop cleanly)."""
        while True:
            pending = 0
            for child in self._children:
                if child.reported:
                    continue
                code = child.proc.poll()
                if code is None:
                    pending += 1
                    continue
                child.reported = True
                self._report(child, code)
            if not pending:
                return
            time.sleep(_POLL_S)

    def _report(self, child: _Child, code: int) -> None:
        if self._stopping.is_set() and code in (0, 130):  # 130: stopped before its start-up finished
            log.info("task-%d stopped (%s)", child.index, describe_exit(code))
            return
        child.failed = True
        log.error(
            "task-%d FAILED (%s); not restarted, as Kafka Connect does with a failed task: the consumer group "
            "connect-%s moves its partitions to the tasks still running; restart the connector to run %d tasks again",
            child.index,
            describe_exit(code),
            self.connector,
            self.tasks,
        )

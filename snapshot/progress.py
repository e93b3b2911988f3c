"""Snapshot progress: a rich progress bar per table when attached to a terminal, periodic log lines otherwise."""

from __future__ import annotations

import logging
import sys
import time
from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

log = logging.getLogger("cdc.snapshot")


class SnapshotProgress:
    """Tracks rows done / estimated per table. Called by ``cdc.capture.snapshot`` as rows are emitted."""

    def __init__(self, enabled: bool | None = None, log_interval_s: float = 10.0) -> None:
        self.interactive = sys.stderr.isatty() if enabled is None else enabled
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self._table = ""
        self._rows = 0
        self._estimate = 0
        self._last_log = 0.0
        self._log_interval_s = log_interval_s

    def __enter__(self) -> SnapshotProgress:
        if self.interactive:
            self._progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("rows"),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=False,
            )
            self._progress.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Stop the bar; called when the snapshot ends, also on an error (then possibly twice: idempotent)."""
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
            self._task = None

    def start_table(self, name: str, estimated_rows: int) -> None:
        # PostgreSQL's estimate is -1 (shown as 0) for a table never vacuumed or analyzed: unknown, not empty.
        self._table, self._rows, self._estimate = name, 0, max(estimated_rows, 0)
        if self._estimate:
            log.info("snapshot of %s started (about %d rows)", name, self._estimate)
        else:
            log.info("snapshot of %s started (row count not estimated yet)", name)
        if self._progress is not None:
            self._task = self._progress.add_task(name, total=self._estimate or None)

    def advance(self, rows: int) -> None:
        self._rows += rows
        if self._progress is not None and self._task is not None:
            total = max(self._estimate, self._rows) if self._estimate else None  # None: no bar length, a count
            self._progress.update(self._task, completed=self._rows, total=total)
        now = time.monotonic()
        if not self.interactive and now - self._last_log >= self._log_interval_s:
            self._last_log = now
            if self._rows <= self._estimate:
                log.info("snapshot of %s: %d of about %d rows", self._table, self._rows, self._estimate)
            else:
                log.info("snapshot of %s: %d rows so far", self._table, self._rows)

    def finish_table(self) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, completed=self._rows, total=self._rows)
        log.info("snapshot of %s done: %d rows", self._table, self._rows)

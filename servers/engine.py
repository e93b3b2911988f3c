"""``cdc-engine start`` as a real subprocess, for the tests, the benchmarks and the fault-injection suite.

Tests use it when they need to kill the engine (SIGTERM, SIGKILL) or measure its memory; a thread is enough when a
test only needs events (``tests/integration/engine_helpers.py`` ``EngineThread``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


class EngineProcess:
    """One engine process running the config ``document``; output goes to ``<workdir>/<name>.log``."""

    def __init__(self, document: dict[str, Any], workdir: Path) -> None:
        self.config_path = workdir / f"{document['name']}.json"
        self.config_path.write_text(json.dumps(document))
        self.log_path = workdir / f"{document['name']}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> EngineProcess:
        """Start ``python -m cdc start --config … --no-progress`` (``cdc-engine``) from the repository root."""
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cdc", "start", "--config", str(self.config_path), "--no-progress"],
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        return self

    def terminate(self, timeout: float = 60) -> int:
        """SIGTERM the engine and return its exit code (``subprocess.TimeoutExpired`` if it does not exit)."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def kill(self) -> None:
        """SIGKILL the engine and reap it."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)

    def kill_if_running(self) -> None:
        """SIGKILL the process unless it was never started or has already exited (for ``finally`` blocks)."""
        if self.proc is not None and self.proc.poll() is None:
            self.kill()

    def wait_logged(self, text: str, timeout: float = 60) -> None:
        """Wait until the engine's log contains ``text``; ``TimeoutError`` (with the log's tail) otherwise."""
        deadline = time.monotonic() + timeout
        while text not in self.log():
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(
                    f"engine exited ({self.proc.returncode}) before logging {text!r}:\n{self.log()[-3000:]}"
                )
            if time.monotonic() > deadline:
                raise TimeoutError(f"engine did not log {text!r} within {timeout}s:\n{self.log()[-3000:]}")
            time.sleep(0.1)

    def wait_logged_streaming(self, timeout: float = 60) -> None:
        """Wait until the engine logged that it streams from its slot."""
        self.wait_logged("streaming from slot", timeout)

    @property
    def pid(self) -> int:
        """The engine's process id."""
        assert self.proc is not None
        return self.proc.pid

    def log(self) -> str:
        """The engine's output so far."""
        return self.log_path.read_text(errors="replace")

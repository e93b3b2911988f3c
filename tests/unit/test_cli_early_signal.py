"""A SIGTERM during start-up ends the process promptly with exit 130 and no traceback.

Before ``cdc/entry.py`` a SIGTERM while the engine was still importing ended it with -15 (the default action, as
if killed), and one while it waited for an unreachable broker took the whole 15 s metadata timeout.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONFIG = (
    "name: early\nconfig:\n  connector.class: postgres\n  database.hostname: 127.0.0.1\n"
    "  database.user: u\n  database.dbname: d\n  topic.prefix: t\nworker:\n  bootstrap.servers: 127.0.0.1:1\n"
)


def _catches_sigterm(pid: int) -> bool:
    """True once the process has a SIGTERM handler (``SigCgt`` in /proc/PID/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) & (1 << (signal.SIGTERM - 1)))
    return False


def _start(tmp_path: Path) -> subprocess.Popen[bytes]:
    config = tmp_path / "c.yaml"
    config.write_text(CONFIG)
    return subprocess.Popen(
        [sys.executable, "-m", "cdc", "start", "--config", str(config), "--no-progress"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _stop(proc: subprocess.Popen[bytes]) -> tuple[int, float, str]:
    proc.send_signal(signal.SIGTERM)
    signalled = time.monotonic()
    _out, err = proc.communicate(timeout=30)
    return proc.returncode, time.monotonic() - signalled, err.decode()


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc to see the signal handler")
def test_sigterm_while_still_importing_exits_130(tmp_path: Path) -> None:
    proc = _start(tmp_path)
    deadline = time.monotonic() + 20
    while not _catches_sigterm(proc.pid):
        assert time.monotonic() < deadline, "no SIGTERM handler after 20 s"
        time.sleep(0.002)
    # The handler is there from the entry point on: the engine is still importing now.
    code, took, err = _stop(proc)
    assert code == 130, (code, err)
    assert "Traceback" not in err, err
    assert "cdc-engine: stopped before start-up finished" in err, err  # cdc/entry.py, not the runtime
    assert took < 5, f"took {took:.1f} s to stop"


def test_sigterm_while_waiting_for_an_unreachable_broker_stops_within_seconds(tmp_path: Path) -> None:
    proc = _start(tmp_path)
    time.sleep(2.0)
    code, took, err = _stop(proc)
    assert code == 130, (code, err)
    assert "Traceback" not in err, err
    assert took < 5, f"took {took:.1f} s to stop (the broker metadata timeout is 15 s)"

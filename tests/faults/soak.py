"""Soak: SIGKILL the engine again and again under continuous mixed writes; lost must be 0. ``make soak``.

Starts a throwaway PostgreSQL cluster and tansu broker, creates the fault harness's table, runs the engine (the real
CLI in a subprocess, offsets committed every ``--flush-ms``) and a writer committing small transactions of inserts,
updates and deletes (3% large ones of 300-1500 rows, so that offsets are also stored *inside* transactions). Then,
``--cycles`` times: let it run for a random while, SIGKILL it, read back the topic and the stored offset, start it
again. One kill in five comes 0.2-1 s after the previous restart (often during the engine's start-up); the others
1-4 s after the restarted engine streams again.

At the end the writer stops, the engine catches up and is stopped with SIGTERM, and the topic is compared with the
writer's ledger and the table (``fault_harness.compare``). Printed:

- lost / unexpected / out-of-order / final-state mismatches (all must be 0; exit status 1 otherwise);
- the duplicate window per restart: the distinct changes that were in Kafka *past the stored offset* when the engine
  died (what the restart must re-send), next to the duplicates the restart actually delivered; a restart re-sending
  anything from before its stored offset is a failure.

Usage: ``python tests/faults/soak.py [--cycles 100] [--seed N] [--json out.json]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
for _path in (REPO, REPO / "tests" / "integration", REPO / "tests" / "faults"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from fault_harness import FaultReport, FaultRun  # noqa: E402

from servers import PostgresServer, TansuBroker  # noqa: E402


def _percentile(values: list[int], share: float) -> int:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0


def soak(cycles: int, seed: int | None, flush_ms: int, workdir: Path) -> tuple[FaultReport, FaultRun]:
    with PostgresServer().start() as pg, TansuBroker().start() as broker:
        dbname = f"soak_{uuid.uuid4().hex[:8]}"
        pg.create_database(dbname)
        with FaultRun(
            f"soak kill -9 x{cycles}",
            pg,
            broker.bootstrap_servers,
            dbname,
            workdir,
            seed=seed,
            worker={"offset.flush.interval.ms": flush_ms},
            writer={"pause_s": 0.05},
        ) as run:
            run.create_table()
            run.start_engine()
            run.wait_streaming()
            run.writer.start()
            for n in range(1, cycles + 1):
                if run.rng.random() < 0.2:
                    run.drain(run.rng.uniform(0.2, 1.0))  # the restarted engine may still be starting up
                else:
                    run.wait_streaming()
                    run.drain(run.rng.uniform(1.0, 4.0))
                cycle = run.restart_cycle("kill")
                offset = cycle.offset or {}
                where = (
                    f"inside tx {offset.get('txId')} after {offset['events']} changes" if offset.get("events") else ""
                )
                print(
                    f"[soak] kill {n:3d}/{cycles} at {cycle.at_s:6.1f}s: {len(run.log.seen)} changes in Kafka, "
                    f"window past the stored offset {cycle.window} {where}".rstrip(),
                    flush=True,
                )
            run.drain(2.0)
            report = run.finish(catch_up_s=300)
            return report, run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=100, help="SIGKILLs (default 100)")
    parser.add_argument("--seed", type=int, default=None, help="replay a run's schedule and transaction mix")
    parser.add_argument("--flush-ms", type=int, default=200, help="offset.flush.interval.ms (default 200)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    args = parser.parse_args(argv)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="cdc-soak-") as tmp:
        report, run = soak(args.cycles, args.seed, args.flush_ms, Path(tmp))
        log = run.engine.log()
    windows = [c.window for c in report.cycles]
    resent = [c.resent for c in report.cycles]
    outside = sum(len(c.outside) for c in report.cycles)
    inside = sum(1 for c in report.cycles if (c.offset or {}).get("events"))
    full = sum(1 for c in report.cycles if c.resent == c.window)
    figures = {
        "seed": run.seed,
        "cycles": len(report.cycles),
        "flush_ms": args.flush_ms,
        "transactions": run.writer.transactions,
        "large_transactions": run.writer.large_transactions,
        "committed_changes": report.committed,
        "records": report.records,
        "lost": len(report.lost),
        "unexpected": len(report.unexpected),
        "out_of_order_keys": len(report.out_of_order),
        "state_mismatches": len(report.state_mismatches),
        "duplicates": report.duplicates,
        "resent_before_stored_offset": outside,
        "kills_with_offset_inside_transaction": inside,
        "restarts_resuming_inside_transaction": log.count("resuming inside transaction"),
        "window_per_kill": {
            "mean": round(statistics.fmean(windows), 1) if windows else 0,
            "p50": _percentile(windows, 0.5),
            "p95": _percentile(windows, 0.95),
            "max": max(windows, default=0),
            "total": sum(windows),
        },
        "resent_per_restart": {
            "mean": round(statistics.fmean(resent), 1) if resent else 0,
            "p50": _percentile(resent, 0.5),
            "p95": _percentile(resent, 0.95),
            "max": max(resent, default=0),
            "total": sum(resent),
        },
        "restarts_resending_their_whole_window": full,
        "seconds": round(time.monotonic() - started, 1),
    }
    print(report.line())
    print(f"[soak] lost = {figures['lost']}")
    print(
        f"[soak] duplicate window (distinct changes in Kafka past the stored offset at each kill): "
        f"{figures['window_per_kill']}"
    )
    print(f"[soak] duplicates delivered by each restart: {figures['resent_per_restart']}")
    print(
        f"[soak] {full} of {len(resent)} restarts re-sent exactly their window (the others were killed again before "
        f"they had); re-sent from before the stored offset: {outside}; {inside} kills had an offset inside a "
        f"transaction; {figures['seconds']} s"
    )
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    try:
        report.assert_clean()
    except AssertionError as exc:
        print(f"[soak] FAILED: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

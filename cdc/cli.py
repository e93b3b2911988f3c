"""``cdc-engine``: start | validate | offsets | describe | demo.

The only place errors become exit codes: 0 ok, 1 fatal/runtime problem or failed check, 2 configuration error,
130 interrupted before start-up finished. No traceback reaches the user for errors we raise on purpose.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
from types import FrameType
from typing import Any

from cdc import __version__
from cdc.config import EngineConfig, load_engine_config
from cdc.errors import CdcError, ConfigError, FatalError, RetriableError
from cdc.gc_tuning import tune_for_streaming

log = logging.getLogger("cdc.cli")


def _worker_overrides(args: argparse.Namespace) -> dict[str, str]:
    overrides: dict[str, str] = {}
    for item in args.worker_property or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise ConfigError([f"--worker-property {item!r}: expected key=value"])
        overrides[key.strip()] = value.strip()
    if args.bootstrap_servers:
        overrides["bootstrap.servers"] = args.bootstrap_servers
    return overrides


def _load(args: argparse.Namespace) -> EngineConfig:
    return load_engine_config(args.config, _worker_overrides(args))


def cmd_start(args: argparse.Namespace) -> int:
    from cdc.runtime import ConnectorRuntime

    engine = _load(args)
    runtime: Any
    if args.log_format is None and engine.worker.log_format != "text":
        from cdc import logs

        logs.configure(engine.worker.log_format, args.log_level)
    for warning in engine.warnings:
        log.warning(warning)
    supervisor: Any = None
    if engine.kind == "sink":
        from cdc import logs
        from sinks.runtime import SinkRuntime
        from sinks.tasks import TaskSupervisor, child_task_index

        task_index = child_task_index()
        tasks = engine.connector.tasks_max
        if task_index is not None:
            logs.set_task(task_index)
        elif tasks > 1:
            logs.set_task(0)
            supervisor = TaskSupervisor(engine.name, tasks, args.argv)
        runtime = SinkRuntime(engine)
    else:
        runtime = ConnectorRuntime(engine, progress=None if not args.no_progress else False)

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        if runtime.stopping:
            if supervisor is not None:
                supervisor.stop(signum)
            log.warning("second signal: exiting without a final offset commit")
            raise SystemExit(130)
        log.info("received %s: flushing, storing offsets, then stopping", signal.Signals(signum).name)
        if supervisor is not None:
            supervisor.stop(signum)
        runtime.request_stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    log.info("starting connector %s (%s)", engine.name, engine.connector_class)
    tune_for_streaming()  # cdc.gc_tuning: fewer cyclic GC passes over the record path's short-lived objects
    if supervisor is not None:
        return _run_tasks(runtime, supervisor)
    runtime.run()
    if runtime.stopping and not runtime.started:
        log.info("stopped before start-up finished")
        return 130  # README "Exit codes": interrupted before start-up finished
    return 0


def _run_tasks(runtime: Any, supervisor: Any) -> int:
    """A sink with tasks.max > 1 (``sinks.tasks``): task 0 is ``runtime`` on this thread, the others are children.

    A failed task (this one included) is logged and not restarted, and the others keep running, as in Kafka
    Connect; returns when every task has ended: 0 if all stopped cleanly on request, 1 if any failed, 130 if
    stopped before task 0's start-up finished and no task failed."""
    supervisor.start()
    failed0 = False
    try:
        runtime.run()
    except CdcError as exc:
        failed0 = True
        log.error("task-0 FAILED: %s; the other tasks keep running (README 'tasks.max')", exc)
        log.debug("traceback", exc_info=True)
    except Exception as exc:  # task 0 must not take the parent down before its children are reaped
        failed0 = True
        log.error("task-0 FAILED: internal error: %s: %s; the other tasks keep running", type(exc).__name__, exc)
        log.debug("traceback", exc_info=True)
    supervisor.wait()
    failed = ([0] if failed0 else []) + supervisor.failed
    if failed:
        log.error("connector stopped; failed task(s): %s", ", ".join(f"task-{i}" for i in failed))
        return 1
    if not runtime.started:
        log.info("stopped before start-up finished")
        return 130
    log.info("all %d tasks stopped cleanly", supervisor.tasks)
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from cdc.connectors import lookup_connector
    from cdc.kafka.probe import broker_problem

    engine = _load(args)
    print(f"configuration: OK ({engine.connector_class} connector {engine.name!r})")
    for warning in engine.warnings:
        print(f"  warning: {warning}")
    spec = lookup_connector(engine.connector_class)
    assert spec is not None
    checker = spec.spec().prerequisite_checker
    checks = checker(engine.connector) if checker is not None else []
    failed = 0
    for check in checks:
        mark = "OK  " if check.ok else "FAIL"
        print(f"{mark} {check.name}: {check.detail}")
        if not check.ok:
            failed += 1
            if check.fix:
                print(f"     fix: {check.fix}")
    if not args.skip_kafka:
        problem = broker_problem(engine.worker.bootstrap_servers)
        if problem is None:
            print(f"OK   kafka: {engine.worker.bootstrap_servers} reachable")
        else:
            failed += 1
            print(f"FAIL kafka: {problem}")
            print("     fix: start the broker or correct worker bootstrap.servers")
    print("all checks passed" if not failed else f"{failed} check(s) failed")
    return 0 if not failed else 1


def cmd_offsets(args: argparse.Namespace) -> int:
    from cdc.kafka.offset_store import OffsetStore
    from cdc.kafka.probe import broker_problem, quiet_librdkafka_logs

    engine = _load(args)
    if engine.kind == "sink":
        from sinks.offsets import print_sink_offsets

        return print_sink_offsets(engine, reset=args.reset)
    worker = engine.worker
    quiet_librdkafka_logs()
    problem = broker_problem(worker.bootstrap_servers)
    if problem is not None:
        raise RetriableError(problem)
    store = OffsetStore(worker.bootstrap_servers, worker.offset_storage_topic)
    server = engine.connector.topic_prefix
    if args.reset:
        store.write(engine.name, server, None)
        store.close()
        print(f"offset of {engine.name} deleted")
        return 0
    offset = store.read(engine.name, server)
    print(json.dumps({"key": [engine.name, {"server": server}], "offset": offset}, indent=2))
    return 0


def cmd_describe(args: argparse.Namespace) -> int:
    from cdc.config import WorkerConfig
    from cdc.connectors import lookup_connector

    models: list[tuple[str, Any]] = []
    if args.connector == "worker":
        models.append(("worker", WorkerConfig))
    else:
        spec = lookup_connector(args.connector)
        if spec is None:
            raise ConfigError([f"unknown connector {args.connector!r}"])
        models.append((spec.short_name, spec.config_model()))
    for title, model in models:
        print(f"# {title} properties")
        for field in model.model_fields.values():
            required = field.is_required()
            default = "required" if required else f"default {field.get_default()!r}"
            if field.alias and "password" in field.alias:
                default = "secret" + ("" if required else ", default ''")
            print(f"{field.alias:<36} {default:<28} {field.description or ''}".rstrip())
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from cdc.demo import main as demo_main

    return int(demo_main())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cdc-engine", description="Change data capture to Kafka, Debezium-style")
    parser.add_argument("--version", action="version", version=f"cdc-engine {__version__}")
    parser.add_argument("--log-format", choices=["text", "json"], default=None)
    parser.add_argument(
        "--log-level",
        default="INFO",
        type=str.upper,
        choices=["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"],
        help="DEBUG also shows tracebacks of errors (default INFO)",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def with_config(p: argparse.ArgumentParser) -> None:
        p.add_argument("--config", "-c", required=True, help="YAML/JSON file: {name, config, worker}")
        p.add_argument("--bootstrap-servers", help="worker bootstrap.servers (overrides the file)")
        p.add_argument("--worker-property", action="append", metavar="KEY=VALUE", help="any worker property")

    p = sub.add_parser("start", help="run the connector until SIGINT/SIGTERM")
    with_config(p)
    p.add_argument("--no-progress", action="store_true", help="no progress bars even on a terminal")
    p.set_defaults(func=cmd_start)
    p = sub.add_parser("validate", help="check the config and the server prerequisites")
    with_config(p)
    p.add_argument("--skip-kafka", action="store_true", help="do not check the broker")
    p.set_defaults(func=cmd_validate)
    p = sub.add_parser("offsets", help="print (or --reset) the stored offset")
    with_config(p)
    p.add_argument("--reset", action="store_true", help="delete the stored offset (next start re-snapshots)")
    p.set_defaults(func=cmd_offsets)
    p = sub.add_parser("describe", help="list a connector's properties (or 'worker')")
    p.add_argument("connector")
    p.set_defaults(func=cmd_describe)
    p = sub.add_parser("demo", help="throwaway PostgreSQL + broker + engine, prints change events")
    p.set_defaults(func=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    from cdc import logs

    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    args.argv = list(argv)  # sinks.tasks starts child tasks with the same command line
    logs.configure(args.log_format or "text", args.log_level)
    try:
        code: int = args.func(args)
        return code
    except ConfigError as exc:
        print(exc.render(), file=sys.stderr)
        return 2
    except FatalError as exc:
        log.error("fatal: %s", exc)
        log.debug("traceback", exc_info=True)
        return 1
    except CdcError as exc:
        log.error("%s", exc)
        log.debug("traceback", exc_info=True)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # last line of defence: one-line message; the traceback only at DEBUG
        log.error("internal error: %s: %s (run with --log-level DEBUG for the traceback)", type(exc).__name__, exc)
        log.debug("traceback", exc_info=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())

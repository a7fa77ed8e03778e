"""``backbone``: the command line (argparse). ``asyncio.run`` happens here and nowhere else.

Exit codes: 0 success, 1 the command ran but found a problem (job not found, a queue down),
2 bad input or settings (one line naming the field and the rule), 3 broker unavailable (the URL
redacted). See ``docs/cli.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any, NoReturn

from bootstrap import commands
from bootstrap.bench import BenchParameters, run_benchmark
from bootstrap.broker_table import DISTRIBUTION
from bootstrap.container import Container, build_container, shutdown
from bootstrap.demo import DemoOptions, run_demo
from bootstrap.logging_setup import configure_logging
from bootstrap.settings import Settings, SettingsError, load_settings
from domain.queue.errors import BrokerNotSupportedError, BrokerUnavailableError, InvalidJobError, QueueError
from domain.queue.job import JobState

Command = Callable[[argparse.Namespace, Container], Awaitable[int]]
ContainerHook = Callable[[Container], None]


class UsageError(Exception):
    """argparse refused the command line."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: error: {message}")


def _common_options(defaults: Any) -> _Parser:
    common = _Parser(add_help=False)
    common.add_argument("--config", metavar="FILE", default=defaults, help="TOML or JSON settings file")
    common.add_argument("--broker", metavar="URL", default=defaults, help="broker URL (default memory://)")
    common.add_argument("--log-level", default=defaults, choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    common.add_argument("--log-format", default=defaults, choices=["text", "json"])
    common.add_argument(
        "--module",
        dest="modules",
        action="append",
        metavar="IMPORT_PATH",
        default=defaults,
        help="enable this module (package.module:ATTRIBUTE); repeatable; replaces [app] modules",
    )
    return common


def _version() -> str:
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:  # running from a source tree that was never installed
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    common = _common_options(argparse.SUPPRESS)
    parser = _Parser(prog="backbone", description="Messaging backbone: queues, workers, demo, benchmark.")
    for action in _common_options(None)._actions:
        if action.option_strings:
            parser._add_action(action)
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help_text, parents=[common])

    p = command("worker", "run workers for queues until SIGTERM/SIGINT")
    p.add_argument(
        "queues",
        nargs="*",
        metavar="QUEUE",
        help="queues to work (default: every queue the enabled modules handle)",
    )
    p.add_argument("--concurrency", type=int)
    p.add_argument("--prefetch", type=int)
    p.add_argument("--lease-ms", type=int)
    p.add_argument("--shutdown-grace-ms", type=int)
    p.add_argument("--run-for-ms", type=int, help="stop by itself after this long")
    p.add_argument(
        "--metrics-port",
        type=int,
        metavar="N",
        help="serve /metrics, /healthz and /readyz on this port (default: worker.metrics_port; off)",
    )

    p = command("enqueue", "add one job and print it as JSON")
    p.add_argument("queue")
    p.add_argument("name", help="job name, e.g. transaction.settlement.v1")
    p.add_argument("--data", required=True, help="payload as JSON")
    p.add_argument("--priority", type=int, default=5, help="1 highest .. 10 lowest")
    p.add_argument("--delay", type=int, default=0, metavar="MS")
    p.add_argument("--attempts", type=int)
    p.add_argument("--job-id")
    p.add_argument("--idempotency-key")
    p.add_argument("--correlation-id")
    p.add_argument("--tenant")

    p = command("stats", "counts per state")
    p.add_argument("queues", nargs="*", metavar="QUEUE")
    p.add_argument("--json", action="store_true")

    p = command("job", "show one job")
    p.add_argument("queue")
    p.add_argument("job_id")

    p = command("dlq", "dead letters")
    dlq = p.add_subparsers(dest="dlq_command", required=True, parser_class=_Parser)
    d = dlq.add_parser("list", parents=[common])
    d.add_argument("queue")
    d.add_argument("--limit", type=int, default=100)
    d.add_argument("--offset", type=int, default=0)
    d.add_argument("--json", action="store_true")
    d = dlq.add_parser("reprocess", parents=[common])
    d.add_argument("queue")
    d.add_argument("job_id", nargs="?")
    d.add_argument("--all", action="store_true")
    d.add_argument("--name", help="with --all: only dead letters of this job name")
    d = dlq.add_parser("purge", parents=[common])
    d.add_argument("queue")
    d.add_argument("--older-than-ms", type=int, required=True)

    for name in ("pause", "resume"):
        p = command(name, f"{name} a queue")
        p.add_argument("queue")

    p = command("clean", "remove finished jobs older than a grace period")
    p.add_argument("queue")
    p.add_argument("--state", required=True, choices=[JobState.COMPLETED.value, JobState.FAILED.value])
    p.add_argument("--grace-ms", type=int, required=True)
    p.add_argument("--limit", type=int, default=1000)

    p = command("health", "per-queue up/down, counts and failure rate (exit 1 when a queue is down)")
    p.add_argument("queues", nargs="*", metavar="QUEUE")
    p.add_argument("--json", action="store_true")
    p.add_argument("--timeout-ms", type=int, default=5000)

    p = command("schedules", "the enabled modules' schedules (repeatable jobs)")
    sched = p.add_subparsers(dest="schedules_command", required=True, parser_class=_Parser)
    s = sched.add_parser("list", parents=[common], help="each schedule with its next fire times")
    s.add_argument("--next", type=int, default=3, metavar="N", help="how many next fire times (default 3)")
    s.add_argument("--json", action="store_true")

    p = command("demo", "the payment-completed scenario end to end")
    p.add_argument("--payments", type=int)
    p.add_argument("--seed", type=int)

    p = command("bench", "benchmark as JSON")
    defaults = BenchParameters()
    p.add_argument("--jobs", type=int, default=defaults.e2e_jobs, help="end-to-end no-op jobs")
    p.add_argument("--add-jobs", type=int, default=defaults.add_jobs)
    p.add_argument("--bulk-jobs", type=int, default=defaults.bulk_jobs)
    p.add_argument("--bulk-batch", type=int, default=defaults.bulk_batch)
    p.add_argument("--concurrency", type=int, default=defaults.concurrency)
    p.add_argument("--prefetch", type=int, default=defaults.prefetch)
    p.add_argument("--latency-jobs", type=int, default=defaults.latency_jobs)
    p.add_argument("--latency-gap-ms", type=float, default=defaults.latency_gap_ms)
    p.add_argument("--repeat", type=int, default=defaults.repeat, help="end-to-end runs (median reported)")
    p.add_argument(
        "--cross-process",
        action="store_true",
        help="also measure latency with the worker in a child process (not for memory://)",
    )
    p.add_argument(
        "--realistic",
        action="store_true",
        help="worker in its own process timed from its spawn, a handler doing one I/O round trip, "
        "the queue's default retention (docs/benchmarks.md)",
    )
    p.add_argument("--realistic-concurrency", type=int, default=defaults.realistic_concurrency)
    p.add_argument("--rate", type=float, default=defaults.rate_per_s, help="realistic latency: jobs/s")
    p.add_argument("--io", metavar="URL", help="realistic handler's round trip: redis://... or tcp://H:P")
    p.add_argument(
        "--cold-start",
        action="store_true",
        help="only a new producer's first add and a new worker's first job behind a backlog",
    )
    p.add_argument(
        "--backlog", type=int, default=defaults.cold_start_backlog, help="cold start: waiting jobs"
    )
    p.add_argument("--cold-start-adds", type=int, default=defaults.cold_start_adds)
    p.add_argument("--output", metavar="FILE", help="also write the JSON here")

    p = command("contract", "run the queue contract against --broker URL (exit code: pytest's)")
    p.add_argument("pytest_args", nargs=argparse.REMAINDER, metavar="-- PYTEST_ARGS", help="passed to pytest")
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    """Settings read once: the CLI flags are merged into the file's and environment's tables."""
    overrides: dict[str, Any] = {}
    if args.broker is not None:
        overrides["broker"] = {"url": args.broker}
    if args.modules is not None:
        overrides["app"] = {"modules": args.modules}
    log = {key: value for key, value in (("level", args.log_level), ("format", args.log_format)) if value}
    if log:
        overrides["log"] = log
    settings = load_settings(args.config, **overrides)
    quiet = args.command in ("demo", "bench") and "level" not in settings.log.model_fields_set
    if quiet:  # the demo and bench print their own summary; their logs stay at warnings unless asked
        settings = settings.model_copy(update={"log": settings.log.model_copy(update={"level": "WARNING"})})
    return settings


async def _cmd_demo(args: argparse.Namespace, container: Container) -> int:
    settings: Settings = container.settings()
    options = DemoOptions.from_settings(settings.demo, payments=args.payments, seed=args.seed)
    summary = await run_demo(container, options)
    return commands.EXIT_OK if summary.drained else commands.EXIT_FAILED


async def _cmd_bench(args: argparse.Namespace, container: Container) -> int:
    params = BenchParameters(
        add_jobs=args.add_jobs,
        bulk_jobs=args.bulk_jobs,
        bulk_batch=args.bulk_batch,
        e2e_jobs=args.jobs,
        concurrency=args.concurrency,
        prefetch=args.prefetch,
        latency_jobs=args.latency_jobs,
        latency_gap_ms=args.latency_gap_ms,
        repeat=args.repeat,
        cross_process=args.cross_process,
        realistic=args.realistic,
        realistic_concurrency=args.realistic_concurrency,
        rate_per_s=args.rate,
        io_url=args.io,
        cold_start=args.cold_start,
        cold_start_backlog=args.backlog,
        cold_start_adds=args.cold_start_adds,
    )
    try:
        params.validate()
    except ValueError as exc:
        raise SettingsError("bench", str(exc)) from None
    config_file = str(args.config) if args.config else None
    broker_url = container.settings().broker.url  # with its credentials: the worker processes connect
    result = await run_benchmark(container.broker(), params, config_file=config_file, broker_url=broker_url)
    text = json.dumps(result, indent=2)
    commands.out(text)
    if args.output:
        await asyncio.to_thread(_write_output, Path(args.output), text)
    return commands.EXIT_OK


def _write_output(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n", encoding="utf-8")


COMMANDS: dict[str, Command] = {
    "worker": commands.cmd_worker,
    "enqueue": commands.cmd_enqueue,
    "stats": commands.cmd_stats,
    "job": commands.cmd_job,
    "dlq": commands.cmd_dlq,
    "pause": commands.cmd_pause,
    "resume": commands.cmd_pause,
    "clean": commands.cmd_clean,
    "health": commands.cmd_health,
    "schedules": commands.cmd_schedules,
    "demo": _cmd_demo,
    "bench": _cmd_bench,
}


async def _run(args: argparse.Namespace, container: Container) -> int:
    try:
        return await COMMANDS[args.command](args, container)
    finally:
        await shutdown(container)


def _fail(code: int, message: str) -> int:
    print(f"backbone: error: {message}", file=sys.stderr, flush=True)
    return code


CONTRACT_SUITE = "backbone.testing.contract.suite"  # shipped in the package (docs/testing.md)


def _run_contract(args: argparse.Namespace) -> int:
    """pytest on the shipped contract suite against ``--broker``; its exit code is the command's."""
    if not args.broker:
        raise UsageError("backbone contract: error: --broker URL is required")
    load_settings(args.config, broker={"url": args.broker})  # a bad URL is refused here, naming the rule
    for needed in ("pytest", "pytest_asyncio"):  # looked up, not imported: pytest imports its plugins
        if importlib.util.find_spec(needed) is None:
            hint = f"pip install '{DISTRIBUTION}[testing]'"
            raise SettingsError("contract", f"needs {needed}, which is not installed: {hint}")
    import pytest

    pytest_args = list(args.pytest_args)
    if pytest_args[:1] == ["--"]:
        pytest_args = pytest_args[1:]
    argv = [
        "--pyargs",
        CONTRACT_SUITE,
        f"--backbone-contract-url={args.broker}",
        "-c",
        os.devnull,  # the caller's own pytest configuration does not apply to the contract
        "--rootdir",
        os.getcwd(),
        "-p",
        "no:cacheprovider",
        "-o",
        "asyncio_mode=auto",
        "-o",
        "asyncio_default_fixture_loop_scope=function",
        "-rfE",
        *pytest_args,
    ]
    # Only the two plugins the suite needs: the caller's other plugins (and their rewrite of our
    # already imported packages) stay out of the run.
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    argv[:0] = ["-p", "pytest_asyncio.plugin", "-p", "backbone.testing.plugin"]
    return int(pytest.main(argv))


def main(argv: Sequence[str] | None = None, *, container_hook: ContainerHook | None = None) -> int:
    """Run one command; returns the exit code. ``container_hook`` lets tests override providers."""
    try:
        args = build_parser().parse_args(argv)
        if args.command == "contract":
            return _run_contract(args)
        settings = _settings(args)
        configure_logging(settings.log)
        container = build_container(settings)
        if container_hook is not None:
            container_hook(container)
        return asyncio.run(_run(args, container))
    except UsageError as exc:
        print(f"{exc} (see --help)", file=sys.stderr, flush=True)
        return commands.EXIT_USAGE
    except (SettingsError, InvalidJobError, BrokerNotSupportedError) as exc:
        return _fail(commands.EXIT_USAGE, str(exc))
    except BrokerUnavailableError as exc:
        return _fail(commands.EXIT_BROKER, str(exc))
    except QueueError as exc:
        return _fail(commands.EXIT_FAILED, str(exc))

"""``backbone bench`` and ``backbone contract``: the tools around the framework (see ``bootstrap.cli``).

Their defaults live with the code that uses them (``BenchParameters``), imported only when the
command runs; a flag left out is ``None`` here and takes that default.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bootstrap.cli_common import EXIT_OK, UsageError, out

if TYPE_CHECKING:
    from bootstrap.container import Container

CONTRACT_SUITE = "backbone.testing.contract.suite"  # shipped in the package (docs/testing.md)

# flag dest -> BenchParameters field
_BENCH_FIELDS = {
    "jobs": "e2e_jobs",
    "add_jobs": "add_jobs",
    "bulk_jobs": "bulk_jobs",
    "bulk_batch": "bulk_batch",
    "concurrency": "concurrency",
    "prefetch": "prefetch",
    "latency_jobs": "latency_jobs",
    "latency_gap_ms": "latency_gap_ms",
    "repeat": "repeat",
    "realistic_concurrency": "realistic_concurrency",
    "rate": "rate_per_s",
    "backlog": "cold_start_backlog",
    "cold_start_adds": "cold_start_adds",
}


async def cmd_bench(args: argparse.Namespace, container: Container) -> int:
    from bootstrap.bench import BenchParameters, run_benchmark
    from bootstrap.settings import SettingsError

    given: dict[str, Any] = {
        field: getattr(args, dest) for dest, field in _BENCH_FIELDS.items() if getattr(args, dest) is not None
    }
    params = BenchParameters(
        **given,
        cross_process=args.cross_process,
        realistic=args.realistic,
        io_url=args.io,
        cold_start=args.cold_start,
    )
    try:
        params.validate()
    except ValueError as exc:
        raise SettingsError("bench", str(exc)) from None
    config_file = str(args.config) if args.config else None
    broker_url = container.settings().broker.url  # with its credentials: the worker processes connect
    result = await run_benchmark(container.broker(), params, config_file=config_file, broker_url=broker_url)
    text = json.dumps(result, indent=2)
    out(text)
    if args.output:
        await asyncio.to_thread(_write_output, Path(args.output), text)
    return EXIT_OK


def _write_output(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n", encoding="utf-8")


def run_contract(args: argparse.Namespace) -> int:
    """pytest on the shipped contract suite against ``--broker``; its exit code is the command's."""
    import importlib.util

    from bootstrap.broker_table import DISTRIBUTION
    from bootstrap.settings import SettingsError, load_settings

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


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add ``bench`` and ``contract`` to the ``backbone`` subparsers (see ``bootstrap.cli``)."""
    p = sub.add_parser("bench", help="benchmark as JSON", parents=[common])
    p.set_defaults(run=cmd_bench)
    default = "(default: docs/benchmarks.md)"
    p.add_argument("--jobs", type=int, help=f"end-to-end no-op jobs {default}")
    p.add_argument("--add-jobs", type=int, help=f"jobs added one await at a time {default}")
    p.add_argument("--bulk-jobs", type=int, help=f"jobs added through add_bulk {default}")
    p.add_argument("--bulk-batch", type=int, help=f"jobs per add_bulk call {default}")
    p.add_argument("--concurrency", type=int, help=f"the benchmark worker's concurrency {default}")
    p.add_argument("--prefetch", type=int, help=f"the benchmark worker's prefetch {default}")
    p.add_argument("--latency-jobs", type=int, help=f"jobs of the latency phase {default}")
    p.add_argument(
        "--latency-gap-ms", type=float, help=f"pause between two adds of the latency phase {default}"
    )
    p.add_argument("--repeat", type=int, help="end-to-end runs (median reported; default 1)")
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
    p.add_argument("--realistic-concurrency", type=int, help=f"the realistic worker's concurrency {default}")
    p.add_argument("--rate", type=float, help=f"realistic latency: jobs/s {default}")
    p.add_argument("--io", metavar="URL", help="realistic handler's round trip: redis://... or tcp://H:P")
    p.add_argument(
        "--cold-start",
        action="store_true",
        help="only a new producer's first add and a new worker's first job behind a backlog",
    )
    p.add_argument("--backlog", type=int, help=f"cold start: waiting jobs behind which it starts {default}")
    p.add_argument("--cold-start-adds", type=int, help=f"cold start: sequential adds timed {default}")
    p.add_argument("--output", metavar="FILE", help="also write the JSON here")

    p = sub.add_parser(
        "contract", help="run the queue contract against --broker URL (exit code: pytest's)", parents=[common]
    )
    p.set_defaults(run_without_container=run_contract)
    p.add_argument("pytest_args", nargs=argparse.REMAINDER, metavar="-- PYTEST_ARGS", help="passed to pytest")

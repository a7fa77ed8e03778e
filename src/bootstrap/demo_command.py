"""``backbone demo``: the payment-completed scenario end to end (see ``bootstrap.cli``)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from bootstrap.cli_common import EXIT_FAILED, EXIT_OK

if TYPE_CHECKING:
    from bootstrap.container import Container


async def cmd_demo(args: argparse.Namespace, container: Container) -> int:
    from bootstrap.demo import DemoOptions, run_demo
    from bootstrap.settings import Settings

    settings: Settings = container.settings()
    options = DemoOptions.from_settings(
        settings.demo, payments=args.payments, seed=args.seed, verbose=args.verbose, log_file=args.log_file
    )
    summary = await run_demo(container, options, as_json=args.json)
    return EXIT_OK if summary.drained else EXIT_FAILED


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("demo", help="the payment-completed scenario end to end", parents=[common])
    p.set_defaults(run=cmd_demo)
    p.add_argument("--payments", type=int, help="how many payment events (default: demo.payments)")
    p.add_argument(
        "--seed", type=int, help="random seed of amounts and injected failures (default: demo.seed)"
    )
    p.add_argument(
        "--verbose",
        action="store_true",
        help="print every job's failure log line on the terminal instead of the log file",
    )
    p.add_argument(
        "--log-file",
        metavar="FILE",
        help="where the per-job log lines go (default: a new file in the temp dir, named in the output)",
    )

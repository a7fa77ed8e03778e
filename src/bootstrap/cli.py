"""``backbone``: the command line (argparse). ``asyncio.run`` happens here and nowhere else.

Exit codes: 0 success, 1 the command ran but found a problem (job not found, a queue down),
2 bad input or settings (one line naming the field and the rule; an unknown queue, a malformed
URL), 3 broker unavailable (the URL redacted, the driver's own last words folded into the line).
Every error is one line on stderr (a JSON object with ``--json``). See ``docs/cli.md``.

Adding a subcommand is a local edit: write a module ``bootstrap/cli_<thing>.py`` with
``register(subparsers, common)`` that adds its parser(s) with ``parents=[common]`` and sets
``run=<async function (args, container) -> exit code>`` on each with ``set_defaults`` (or
``run_without_container=<function (args) -> exit code>`` for a command that builds no container),
then add the module's import path to ``COMMAND_MODULES`` below. Keep the module's top-level
imports light (argparse, typing, ``bootstrap.cli_common``): import what the command needs inside its
function, so ``backbone --version`` and the other commands do not pay for it (ADR 0027). Every
argument needs ``help=`` (a test walks the parser tree) and a line in ``docs/cli.md``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from importlib import metadata
from typing import TYPE_CHECKING, Any

from bootstrap.cli_common import (
    EXIT_BROKER,
    EXIT_FAILED,
    EXIT_USAGE,
    CliParser,
    DriverNoise,
    UsageError,
)

if TYPE_CHECKING:
    from bootstrap.container import Container
    from bootstrap.settings import Settings

ContainerHook = Any  # Callable[[Container], None]; tests override providers with it

COMMAND_MODULES: tuple[str, ...] = (
    "bootstrap.commands",  # worker, enqueue, stats, job, remove, drain, queues, dlq, pause/resume, ...
    "bootstrap.demo_command",  # demo
    "bootstrap.cli_tools",  # bench, contract
    "bootstrap.cli_jobs",  # jobs
    "bootstrap.cli_workers",  # workers
    "bootstrap.cli_keys",  # keys rotate/list/generate
    "bootstrap.cli_audit",  # audit
    "bootstrap.cli_schedules",  # schedules list/add/remove
)

QUIET_COMMANDS = ("worker",)  # every other command logs warnings only unless a level is asked for


def _common_options(defaults: Any) -> CliParser:
    common = CliParser(add_help=False)
    common.add_argument("--config", metavar="FILE", default=defaults, help="TOML or JSON settings file")
    common.add_argument("--broker", metavar="URL", default=defaults, help="broker URL (default memory://)")
    common.add_argument(
        "--log-level",
        default=defaults,
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="log level (default: log.level; WARNING for every command but worker)",
    )
    common.add_argument(
        "--log-format", default=defaults, choices=["text", "json"], help="log lines as text or JSON lines"
    )
    common.add_argument(
        "--module",
        dest="modules",
        action="append",
        metavar="IMPORT_PATH",
        default=defaults,
        help="enable this module (package.module:ATTRIBUTE); repeatable; replaces [app] modules",
    )
    common.add_argument(
        "--json",
        action="store_true",
        default=defaults if defaults is not None else False,
        help="machine-readable output: one JSON document per command, errors as one JSON line",
    )
    common.add_argument(
        "--actor", default=defaults, help="who acts, in the audit log (default: audit.actor, the OS user)"
    )
    return common


DISTRIBUTION = "messaging-backbone"  # as in bootstrap.broker_table, which imports far more


def _version() -> str:
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:  # running from a source tree that was never installed
        return "unknown (not installed)"


class _Version(argparse.Action):
    """``--version``: the distribution's version, looked up only when asked."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        kwargs.setdefault("help", "print the version and exit")
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *_args: Any, **_kwargs: Any) -> None:
        print(f"{parser.prog} {_version()}", flush=True)
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    common = _common_options(argparse.SUPPRESS)
    parser = CliParser(prog="backbone", description="Messaging backbone: queues, workers, demo, benchmark.")
    for action in _common_options(None)._actions:
        if action.option_strings:
            parser._add_action(action)
    parser.add_argument("--version", action=_Version)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=CliParser, metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(sub, common)
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    """Settings read once: the CLI flags are merged into the file's and environment's tables."""
    from bootstrap.settings import load_settings

    overrides: dict[str, Any] = {}
    if args.broker is not None:
        overrides["broker"] = {"url": args.broker}
    if args.modules is not None:
        overrides["app"] = {"modules": args.modules}
    log = {key: value for key, value in (("level", args.log_level), ("format", args.log_format)) if value}
    if log:
        overrides["log"] = log
    if args.actor is not None:
        overrides["audit"] = {"actor": args.actor}
    settings = load_settings(args.config, **overrides)
    quiet = args.command not in QUIET_COMMANDS and "level" not in settings.log.model_fields_set
    if quiet:  # the commands print their own output; their logs stay at warnings unless asked
        settings = settings.model_copy(update={"log": settings.log.model_copy(update={"level": "WARNING"})})
    return settings


async def _run(args: argparse.Namespace, container: Container) -> int:
    from bootstrap.container import shutdown

    try:
        code: int = await args.run(args, container)
        return code
    finally:
        await shutdown(container)


def _exit_code_of(exc: BaseException) -> int | None:
    """The documented exit code of an error a command may end with (None: not one of ours)."""
    from bootstrap.settings import SettingsError
    from domain.queue.errors import (
        BrokerNotSupportedError,
        BrokerUnavailableError,
        InvalidJobError,
        QueueError,
    )

    if isinstance(exc, SettingsError | InvalidJobError | BrokerNotSupportedError):
        return EXIT_USAGE
    if isinstance(exc, BrokerUnavailableError):
        return EXIT_BROKER
    if isinstance(exc, QueueError):
        return EXIT_FAILED
    return None


def _fail(code: int, message: str, *, as_json: bool) -> int:
    from bootstrap.render import error_line

    print(error_line(message, code, as_json=as_json), file=sys.stderr, flush=True)
    return code


def main(argv: Sequence[str] | None = None, *, container_hook: ContainerHook | None = None) -> int:
    """Run one command; returns the exit code. ``container_hook`` lets tests override providers."""
    as_json = "--json" in (sys.argv[1:] if argv is None else argv)
    noise = DriverNoise()
    try:
        args = build_parser().parse_args(argv)
        as_json = bool(getattr(args, "json", False))
        if hasattr(args, "run_without_container"):
            code: int = args.run_without_container(args)
            return code
        import asyncio

        from bootstrap.container import build_container
        from bootstrap.logging_setup import configure_logging

        settings = _settings(args)
        configure_logging(settings.log)
        if args.command not in QUIET_COMMANDS and settings.log.level.upper() != "DEBUG":
            noise.capture()  # the drivers' log lines during an outage end up in the one error line
        container = build_container(settings)
        if container_hook is not None:
            container_hook(container)
        return asyncio.run(_run(args, container))
    except UsageError as exc:
        if as_json:
            return _fail(EXIT_USAGE, f"{exc} (see --help)", as_json=True)
        print(f"{exc} (see --help)", file=sys.stderr, flush=True)
        return EXIT_USAGE
    except Exception as exc:
        exit_code = _exit_code_of(exc)
        if exit_code is None:
            raise
        message = str(exc)
        if exit_code == EXIT_BROKER:
            message = noise.folded_into(message)
        return _fail(exit_code, message, as_json=as_json)
    finally:
        noise.restore()

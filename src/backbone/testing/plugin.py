"""The ``backbone`` pytest plugin (entry point ``pytest11``), loaded by pytest wherever
messaging-backbone is installed. docs/testing.md describes it.

Fixtures, for a team's own tests of its handlers and services:

- ``backbone_kit``: a ``BackboneTestKit`` (``backbone.testing``) with the modules of
  ``backbone_modules`` on the real memory broker, clocked by ``backbone_clock``; closed after the
  test. ``await backbone_kit.run_until_idle()`` runs the handlers.
- ``backbone_app``: its ``Backbone`` (``queue(name)``, ``service(Type)``, ``workers()``).
- ``backbone_clock``: the ``ManualClock`` every due time, lease and ``ctx.clock`` reads.
- ``backbone_modules``: which modules; by default the ini option ``backbone_modules`` (import
  paths, one per line, like ``[app] modules``); override the fixture to give declarations.
- ``backbone_settings``: settings sections passed to ``Backbone.open`` (default none).

The queue contract: ``--backbone-contract-url URL`` gives the ``backbone_contract_url`` fixture
to ``backbone.testing.contract.suite`` (what ``backbone contract --broker URL`` runs), and a run
that contains contract behaviours ends with a summary naming each broken one in words.

Loading the plugin imports ``backbone`` (its layout check included) and nothing more; the
kit and the broker clients are imported when a fixture is used.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Generator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from application.clock import ManualClock
    from backbone.testing.kit import BackboneTestKit
    from bootstrap.app import Backbone
    from domain.queue.module import DomainModule

try:
    import pytest_asyncio
except ImportError:  # the kit's fixtures say what to install when used
    HAVE_PYTEST_ASYNCIO = False
else:
    HAVE_PYTEST_ASYNCIO = True

MODULES_INI = "backbone_modules"
CONTRACT_URL_OPTION = "--backbone-contract-url"
INSTALL_HINT = "pip install 'messaging-backbone[testing]'"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("backbone", "messaging-backbone test kit")
    group.addoption(
        CONTRACT_URL_OPTION,
        metavar="URL",
        default=None,
        help="broker URL the queue contract runs against (backbone.testing.contract.suite)",
    )
    parser.addini(
        MODULES_INI,
        type="linelist",
        default=[],
        help="modules for the backbone_kit fixture: import paths (package.module:ATTRIBUTE), one per line",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_CONTRACT_KEY] = _ContractResults()
    if config.getoption(CONTRACT_URL_OPTION) and hasattr(config.option, "asyncio_mode"):
        config.option.asyncio_mode = "auto"  # the contract's tests and fixtures are plain async defs


# --- fixtures for a team's own tests -------------------------------------------------------------


@pytest.fixture
def backbone_modules(request: pytest.FixtureRequest) -> list[DomainModule]:
    """The modules under test: the ini option ``backbone_modules``; override to give declarations."""
    paths = request.config.getini(MODULES_INI)
    if not paths:
        pytest.fail(
            "backbone_kit needs modules: set `backbone_modules = package.module:MODULE` in the [pytest] "
            "ini options, or override the `backbone_modules` fixture to return [MODULE, ...]",
            pytrace=False,
        )
    from bootstrap.modules import load_modules

    return list(load_modules(list(paths)))


@pytest.fixture
def backbone_settings() -> dict[str, Any]:
    """Settings sections for ``Backbone.open`` (``{"worker": {"lease_ms": 5000}}``); none by default."""
    return {}


@pytest.fixture
def backbone_clock() -> ManualClock:
    from application.clock import ManualClock

    return ManualClock()


if HAVE_PYTEST_ASYNCIO:

    @pytest_asyncio.fixture
    async def backbone_kit(
        backbone_modules: list[DomainModule], backbone_clock: ManualClock, backbone_settings: dict[str, Any]
    ) -> AsyncIterator[BackboneTestKit]:
        from backbone.testing.kit import BackboneTestKit

        kit = BackboneTestKit(backbone_modules, clock=backbone_clock, **backbone_settings)
        try:
            yield kit
        finally:
            await kit.close()

else:

    @pytest.fixture
    def backbone_kit() -> BackboneTestKit:
        pytest.fail(f"the backbone_kit fixture needs pytest-asyncio: {INSTALL_HINT}", pytrace=False)


@pytest.fixture
def backbone_app(backbone_kit: BackboneTestKit) -> Backbone:
    return backbone_kit.app


# --- the queue contract ----------------------------------------------------------------------------


@pytest.fixture
def backbone_contract_url(request: pytest.FixtureRequest) -> str:
    url = request.config.getoption(CONTRACT_URL_OPTION)
    if not url:
        pytest.fail(f"the queue contract needs a broker: {CONTRACT_URL_OPTION} URL", pytrace=False)
    return str(url)


class _ContractResults:
    def __init__(self) -> None:
        self.behaviours: dict[str, str] = {}  # node id -> the behaviour in words
        self.broken: dict[str, str] = {}  # node id -> the first failing phase's short reason


_CONTRACT_KEY = pytest.StashKey[_ContractResults]()


@pytest.hookimpl(trylast=True)  # after -k/-m deselected what will not run
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    import sys

    contract_module = sys.modules.get("backbone.testing.contract.queue_contract")
    if contract_module is None:  # no contract in this run
        return
    contract = contract_module.QueueContract
    results = config.stash[_CONTRACT_KEY]
    for item in items:
        cls = getattr(item, "cls", None)
        if isinstance(cls, type) and issubclass(cls, contract):
            results.behaviours[item.nodeid] = behaviour_in_words(item)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    results = item.config.stash[_CONTRACT_KEY]
    if item.nodeid in results.behaviours and report.failed and item.nodeid not in results.broken:
        reason = getattr(report, "longrepr", None)
        crash = getattr(reason, "reprcrash", None)
        message = str(getattr(crash, "message", "") or "failed").splitlines()[0]
        results.broken[item.nodeid] = message if report.when == "call" else f"{report.when}: {message}"
    return report


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    results = config.stash[_CONTRACT_KEY]
    if not results.behaviours:
        return
    url = config.getoption(CONTRACT_URL_OPTION)
    where = f" on {_redacted(url)}" if url else ""
    total, broken = len(results.behaviours), len(results.broken)
    terminalreporter.section(f"queue contract{where}")
    terminalreporter.line(f"{total - broken} of {total} behaviours kept, {broken} broken")
    for nodeid, reason in results.broken.items():
        terminalreporter.line(f"  BROKEN  {results.behaviours[nodeid]}: {reason}", red=True)


def behaviour_in_words(item: pytest.Item) -> str:
    """``test_lower_priority_number_runs_first[x]`` in ``ConsumerBehaviours`` ->
    ``consumer: lower priority number runs first [x]``."""
    function = getattr(item, "function", None)
    side = getattr(function, "__qualname__", "").split(".")[0].removesuffix("Behaviours").lower()
    name, _, params = item.name.partition("[")
    words = name.removeprefix("test_").replace("_", " ")
    if params:
        words += f" [{params}"
    return f"{side}: {words}" if side else words


def _redacted(url: str) -> str:
    from application.redaction import redact_url

    return str(redact_url(url))

"""Issue 10's "done when", as a new user lives it: a fresh virtualenv with only the Redis client
(``pip install 'messaging-backbone[redis,testing]' mypy`` from this tree), then a user's program
that uses the public surface passes ``mypy --strict``, its pytest tests pass with the plugin's
fixtures, and ``backbone contract --broker <Redis URL>`` passes.

One virtualenv for the module (the install takes about a minute, PyPI must be reachable).
"""

from __future__ import annotations

import shutil
import subprocess
import textwrap
import venv
from pathlib import Path

import pytest

from tests.contract.contract_command import CONTRACT_RUN_TIMEOUT_S, report_of, run_backbone_contract
from tests.harness.handle import BrokerHandle

REPO_ROOT = Path(__file__).resolve().parents[2]
INSTALL_TIMEOUT_S = 600

pytestmark = [pytest.mark.slow, pytest.mark.timeout(INSTALL_TIMEOUT_S + CONTRACT_RUN_TIMEOUT_S)]

ORDERS_MODULE = '''
"""A team's module: a job, its handler, a service that enqueues it."""

from __future__ import annotations

from pydantic import BaseModel

from backbone import (
    Backoff,
    BackoffType,
    DomainModule,
    Handler,
    IGenericQueue,
    JobContext,
    JobSpec,
    ModuleContext,
    QueueDefaults,
    QueueSpec,
    RetryableError,
)

QUEUE = "shop-orders"
CONFIRM = "shop.confirm.v1"


class Confirm(BaseModel):
    order_id: str
    flaky_attempts: int = 0


class OrderService:
    def __init__(self, queue: IGenericQueue) -> None:
        self._queue = queue

    async def place(self, order_id: str, *, flaky_attempts: int = 0) -> str:
        job = await self._queue.add(CONFIRM, Confirm(order_id=order_id, flaky_attempts=flaky_attempts))
        return job.id


async def confirm(job: Confirm, ctx: JobContext) -> dict[str, str]:
    if ctx.attempt <= job.flaky_attempts:
        raise RetryableError("the mail server is busy")
    return {"confirmed": job.order_id}


def handlers(ctx: ModuleContext) -> dict[str, Handler]:
    return {CONFIRM: confirm}


def order_service(ctx: ModuleContext) -> OrderService:
    return OrderService(ctx.queue(QUEUE))


ORDERS = DomainModule(
    "shop",
    queues=[
        QueueSpec(
            QUEUE,
            defaults=QueueDefaults(
                attempts=3,
                backoff=Backoff(type=BackoffType.EXPONENTIAL, delay=30_000, max_delay=None, jitter=0.0),
            ),
        )
    ],
    jobs=[JobSpec(CONFIRM, Confirm, queue=QUEUE)],
    handlers=handlers,
    services={OrderService: order_service},
)
'''

ORDERS_TESTS = """
from __future__ import annotations

from backbone import JobState
from backbone.testing import BackboneTestKit
from shop.orders import QUEUE, OrderService


async def test_a_placed_order_is_confirmed(backbone_kit: BackboneTestKit) -> None:
    job_id = await backbone_kit.service(OrderService).place("o-1")
    await backbone_kit.run_until_idle()
    done = await backbone_kit.job(QUEUE, job_id)
    assert (done.state, done.return_value) == (JobState.COMPLETED, {"confirmed": "o-1"})


async def test_a_flaky_confirmation_is_retried_after_its_backoff(backbone_kit: BackboneTestKit) -> None:
    started = backbone_kit.clock.now_ms
    job_id = await backbone_kit.service(OrderService).place("o-2", flaky_attempts=1)
    await backbone_kit.run_due()
    assert (await backbone_kit.job(QUEUE, job_id)).state is JobState.DELAYED
    await backbone_kit.run_until_idle()
    done = await backbone_kit.job(QUEUE, job_id)
    assert (done.state, done.attempts_made) == (JobState.COMPLETED, 2)
    assert backbone_kit.clock.now_ms - started == 30_000
"""

PYPROJECT = """
[tool.pytest.ini_options]
asyncio_mode = "auto"
asyncio_default_fixture_loop_scope = "function"
backbone_modules = ["shop.orders:ORDERS"]

[tool.mypy]
strict = true
"""


@pytest.fixture(scope="module")
def user_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new virtualenv with messaging-backbone[redis,testing] and mypy; returns its bin directory."""
    home = tmp_path_factory.mktemp("user-venv")
    source = home / "source"  # a copy: an in-tree build would leave build/ in this checkout
    shutil.copytree(
        REPO_ROOT / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
    )
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO_ROOT / name, source / name)
    venv.create(home / "venv", with_pip=True)
    bin_dir = home / "venv" / "bin"
    _run(
        [str(bin_dir / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         f"{source}[redis,testing]", "mypy"],
        cwd=home, timeout=INSTALL_TIMEOUT_S,
    )  # fmt: skip
    return bin_dir


@pytest.fixture(scope="module")
def user_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The user's code: a package with its module, its tests, its pyproject (no src of ours)."""
    root = tmp_path_factory.mktemp("user-project")
    (root / "shop").mkdir()
    (root / "shop" / "__init__.py").write_text("")
    (root / "shop" / "orders.py").write_text(textwrap.dedent(ORDERS_MODULE))
    (root / "tests").mkdir()
    (root / "tests" / "test_orders.py").write_text(textwrap.dedent(ORDERS_TESTS))
    (root / "pyproject.toml").write_text(textwrap.dedent(PYPROJECT))
    return root


def _run(argv: list[str], *, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)
    assert result.returncode == 0, (
        f"{argv} exited {result.returncode}\n{result.stdout[-6000:]}\n{result.stderr[-3000:]}"
    )
    return result


def test_the_new_virtualenv_has_the_redis_client_and_no_other_broker_client(user_venv: Path) -> None:
    probe = "import importlib.util as u; print([m for m in ('redis', 'pika', 'aiokafka') if u.find_spec(m)])"
    result = _run([str(user_venv / "python"), "-c", probe], cwd=user_venv)
    assert result.stdout.strip() == "['redis']"


def test_the_users_program_passes_mypy_strict(user_venv: Path, user_project: Path) -> None:
    result = _run([str(user_venv / "mypy"), "--strict", "shop", "tests"], cwd=user_project)
    assert "Success: no issues found" in result.stdout


def test_the_users_tests_pass_with_the_plugins_fixtures(user_venv: Path, user_project: Path) -> None:
    result = _run(
        [str(user_venv / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=user_project
    )
    assert "2 passed" in result.stdout


def test_backbone_contract_passes_against_a_redis_url_from_the_new_virtualenv(
    user_venv: Path, user_project: Path, redis_broker: BrokerHandle
) -> None:
    result = run_backbone_contract(
        redis_broker.url, "-q", command=[str(user_venv / "backbone")], cwd=user_project
    )
    assert result.returncode == 0, report_of(result)
    assert " behaviours kept, 0 broken" in result.stdout

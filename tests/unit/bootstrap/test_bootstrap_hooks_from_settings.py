"""Hooks come from settings (``[app] hooks``, import paths) or from code (``Backbone.open(hooks=)``):
every queue and worker of the composition root reports to them, no other wiring (ADR 0016)."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import BaseModel

from backbone import (
    Adding,
    Attempt,
    Backbone,
    DomainModule,
    Hook,
    JobContext,
    JobSpec,
    QueueSpec,
    SettingsError,
)


class Ping(BaseModel):
    n: int


async def pong(job: Ping, ctx: JobContext) -> int:
    return job.n


PINGS = DomainModule(
    "pings",
    queues=[QueueSpec("pings")],
    jobs=[JobSpec("ping.send.v1", Ping, queue="pings")],
    handlers=lambda ctx: {"ping.send.v1": pong},
)


class Recorder(Hook):
    def __init__(self) -> None:
        self.added: list[str] = []
        self.completed: list[str] = []

    def after_add(self, adding: Adding) -> None:
        self.added += [job.id for job in adding.jobs or ()]

    def on_completed(self, attempt: Attempt) -> None:
        self.completed.append(attempt.job.id)


@pytest.fixture
def hook_package(tmp_path: Path) -> Iterator[str]:
    """A team's observability package outside src/, holding a hook instance and a hook class."""
    package = tmp_path / "teamhooks"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "recording.py").write_text(
        textwrap.dedent(
            """
            from tests.unit.bootstrap.test_bootstrap_hooks_from_settings import Recorder

            HOOK = Recorder()
            NOT_A_HOOK = 42
            """
        )
    )
    sys.path.insert(0, str(tmp_path))
    try:
        yield "teamhooks.recording"
    finally:
        sys.path.remove(str(tmp_path))
        for name in [name for name in sys.modules if name.startswith("teamhooks")]:
            del sys.modules[name]


async def _run_one_job(app: Backbone) -> str:
    job = await app.queue("pings").add("ping.send.v1", Ping(n=7))
    async with app.workers():
        await app.wait_until_idle(timeout_s=10)
    return job.id


async def test_a_hook_named_in_the_settings_sees_every_add_and_completion(hook_package: str) -> None:
    async with Backbone.open("memory://", modules=[PINGS], app={"hooks": [hook_package]}) as app:
        job_id = await _run_one_job(app)
    hook = sys.modules[hook_package].HOOK
    assert (hook.added, hook.completed) == ([job_id], [job_id])


async def test_a_hook_class_named_in_the_settings_is_made_once_for_the_process(hook_package: str) -> None:
    async with Backbone.open(
        "memory://", modules=[PINGS], app={"hooks": [f"{hook_package}:Recorder"]}
    ) as app:
        job_id = await _run_one_job(app)
        [hook, _audit] = app.container.hooks().hooks  # the audit log's hook comes last (ADR 0024)
    assert (hook.added, hook.completed) == ([job_id], [job_id])


async def test_hooks_given_in_code_see_the_same_events() -> None:
    hook = Recorder()
    async with Backbone.open("memory://", modules=[PINGS], hooks=[hook]) as app:
        job_id = await _run_one_job(app)
    assert (hook.added, hook.completed) == ([job_id], [job_id])


def test_an_entry_that_is_not_a_hook_is_refused_naming_the_setting(hook_package: str) -> None:
    app = Backbone.open("memory://", modules=[PINGS], app={"hooks": [f"{hook_package}:NOT_A_HOOK"]})
    with pytest.raises(SettingsError) as caught:
        app.queue("pings")
    assert caught.value.field == "app.hooks"
    assert "must be a Hook" in str(caught.value)

"""A team's fourth module living outside ``src/``: one config line enables it, and the real
``backbone`` command (a subprocess, on Redis) enqueues its job and runs its handler."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.harness.handle import BrokerHandle

BACKBONE = str(Path(sys.executable).with_name("backbone"))
DEADLINE_S = 30.0

MEDIA_MODULE = '''
"""The media team's module: one queue, one job type, one handler."""

from pydantic import BaseModel

from backbone import DomainModule, JobContext, JobSpec, QueueDefaults, QueueSpec


class Thumbnail(BaseModel):
    image: str
    width: int


async def make_thumbnail(job: Thumbnail, ctx: JobContext) -> dict[str, str]:
    await ctx.update_progress(50)
    return {"thumbnail": f"{job.image}@{job.width}px"}


MODULE = DomainModule(
    "media",
    queues=[QueueSpec("media-thumbnails", concurrency=2, defaults=QueueDefaults(attempts=4))],
    jobs=[JobSpec("media.thumbnail.v1", Thumbnail, queue="media-thumbnails")],
    handlers=lambda ctx: {"media.thumbnail.v1": make_thumbnail},
)
'''


def _team_checkout(tmp_path: Path, redis_url: str) -> tuple[Path, dict[str, str]]:
    """``teams/media/module.py`` outside src, and a config file whose one module line enables it."""
    package = tmp_path / "teams" / "media"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "module.py").write_text(MEDIA_MODULE)
    config = tmp_path / "backbone.toml"
    config.write_text(
        f'[app]\nmodules = ["media.module:MODULE"]\n\n[broker]\nurl = "{redis_url}"\n'
        f'key_prefix = "media-{secrets.token_hex(4)}"\n'
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "teams"), "BACKBONE_CONFIG_FILE": str(config)}
    return config, env


def _backbone(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [BACKBONE, *argv], env=env, capture_output=True, text=True, timeout=DEADLINE_S, check=False
    )


def _wait_completed(env: dict[str, str], job_id: str) -> dict[str, object]:
    deadline = time.monotonic() + DEADLINE_S
    while True:
        shown = _backbone(env, "job", "media-thumbnails", job_id)
        job: dict[str, object] = json.loads(shown.stdout)
        if job["state"] == "completed" or time.monotonic() > deadline:
            return job
        time.sleep(0.1)


def test_a_module_outside_src_is_enabled_by_one_config_line_and_its_jobs_run_on_backbone_worker(
    tmp_path: Path, redis_broker: BrokerHandle
) -> None:
    _, env = _team_checkout(tmp_path, redis_broker.url)
    added = _backbone(
        env, "enqueue", "media-thumbnails", "media.thumbnail.v1",
        "--data", '{"image": "cat.png", "width": 64}', "--job-id", "thumb-1",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout)["options"]["attempts"] == 4  # the module's queue defaults
    worker = subprocess.Popen(
        [BACKBONE, "worker"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        job = _wait_completed(env, "thumb-1")
    finally:
        worker.send_signal(signal.SIGTERM)
        out, err = worker.communicate(timeout=DEADLINE_S)
    assert job["state"] == "completed"
    assert job["return_value"] == {"thumbnail": "cat.png@64px"}
    assert worker.returncode == 0, err
    assert "queue=media-thumbnails concurrency=2 jobs=media.thumbnail.v1" in out
    assert "stopped queue=media-thumbnails succeeded=1 failed=0 dead_lettered=0" in out


def test_a_worker_for_a_queue_the_enabled_modules_do_not_handle_is_refused_with_exit_2(
    tmp_path: Path, redis_broker: BrokerHandle
) -> None:
    _, env = _team_checkout(tmp_path, redis_broker.url)
    refused = _backbone(env, "worker", "notification-email")
    assert refused.returncode == 2
    assert refused.stderr.splitlines()[-1] == (
        "backbone: error: queue: no enabled module handles 'notification-email' (queues with handlers: "
        "media-thumbnails; enable the module that declares it in [app] modules, BACKBONE_APP__MODULES "
        "or --module)"
    )

"""Side by side: BullMQ and this project against one private redis-server, interleaved, as ratios.

    make bench-peers                       # npm ci in bench/peers, then this script with the defaults
    .venv/bin/python bench/peers/run.py --reps 3 --output bench/peers-latest.json

Starts ``redis-server`` on a free loopback port (no persistence, a temporary directory), runs every
measurement for both systems in each repetition (the order alternates between repetitions), empties
Redis (``FLUSHALL``) before each measurement, stops the server at the end, and prints the medians
and ratios (this project / BullMQ) and writes them as JSON. ``docs/benchmarks.md`` explains each
measurement. Not part of the test suite; nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
SIDES = ("bullmq", "backbone")
# metric -> (higher is better, target ratio backbone/bullmq or None); spawn to first job: absolute
METRICS: dict[str, tuple[bool, float | None]] = {
    "drain_spawn_to_last_jobs_per_s": (True, 0.85),
    "drain_first_to_last_jobs_per_s": (True, 1.0),
    "spawn_to_first_job_s": (False, None),
    "add_single_jobs_per_s": (True, 0.8),
    "add_bulk_jobs_per_s": (True, 1.3),
    "latency_p50_ms": (False, None),
    "latency_p99_ms": (False, 1.0),
}
EXTRA_METRICS = ("spawn_to_imported_s", "spawn_to_ready_s", "handler_io_setup_s", "drain_worker_cpu_s")
SPAWN_TO_FIRST_TARGET_S = 0.3


class Redis:
    """A private redis-server on a free loopback port, with a minimal RESP client for FLUSHALL/INFO."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="bench-peers-redis-"))
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        binary = shutil.which("redis-server")
        if binary is None:
            raise SystemExit("redis-server is not installed (scripts/install-brokers.sh)")
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.dir), "--logfile", str(self.dir / "redis.log")],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 20
        while True:
            try:
                if self.command("PING") == "PONG":
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise SystemExit(f"redis-server did not start (see {self.dir / 'redis.log'})")
            time.sleep(0.05)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def command(self, *words: str) -> str:
        request = f"*{len(words)}\r\n" + "".join(f"${len(w)}\r\n{w}\r\n" for w in words)
        with socket.create_connection(("127.0.0.1", self.port), timeout=30) as s:
            s.sendall(request.encode())
            reply = b""
            while not reply.endswith(b"\r\n") or (reply.startswith(b"$") and reply.count(b"\r\n") < 2):
                chunk = s.recv(65536)
                if not chunk:
                    break
                reply += chunk
        text = reply.decode()
        if text.startswith("$"):
            return text.split("\r\n", 1)[1].rsplit("\r\n", 1)[0]
        return text[1:].strip()

    def version(self) -> str:
        for line in self.command("INFO", "server").splitlines():
            if line.startswith("redis_version:"):
                return line.split(":", 1)[1]
        return "unknown"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


class Side:
    """How to run one system's processes: the producer modes and the worker."""

    def __init__(self, name: str, redis_url: str, python: str) -> None:
        self.name = name
        self.redis_url = redis_url
        self.python = python
        self.env = {**os.environ, "BACKBONE_BROKER__URL": redis_url, "BACKBONE_LOG__LEVEL": "WARNING"}

    def producer(self, mode: str, queue: str, *args: object) -> list[str]:
        if self.name == "bullmq":
            return ["node", str(HERE / "bullmq_side.mjs"), mode, self.redis_url, queue, *map(str, args)]
        return [self.python, str(HERE / "backbone_side.py"), mode, queue, *map(str, args)]

    def worker(self, queue: str, jobs: int, concurrency: int, prefetch: int) -> list[str]:
        if self.name == "bullmq":
            return ["node", str(HERE / "bullmq_side.mjs"), "worker", self.redis_url, queue, str(jobs),
                    str(concurrency)]  # fmt: skip
        return [self.python, "-m", "bootstrap.bench_worker", queue, str(jobs), "600",
                f"--concurrency={concurrency}", f"--prefetch={prefetch}",
                f"--io={self.redis_url}"]  # fmt: skip

    def run(self, argv: list[str]) -> dict[str, Any]:
        done = subprocess.run(argv, env=self.env, cwd=HERE, capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            raise SystemExit(f"{self.name}: {' '.join(argv)} failed:\n{done.stderr}")
        result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        return result

    def spawn_worker(self, argv: list[str]) -> subprocess.Popen[str]:
        return subprocess.Popen(argv, env=self.env, cwd=HERE, stdout=subprocess.PIPE, text=True)

    def report_ns(self, report: dict[str, Any], field: str) -> int:
        """A wall-clock time of the worker's report in ns (Node reports ms as a float)."""
        if self.name == "bullmq":
            return int(float(report[field.removesuffix("_ns") + "_ms"]) * 1e6)
        return int(report[field])


def _worker_report(
    side: Side, child: subprocess.Popen[str], after_ready: Callable[[], object]
) -> dict[str, Any]:
    assert child.stdout is not None
    ready = child.stdout.readline().strip()
    if ready != "ready":
        child.kill()
        raise SystemExit(f"{side.name}: the worker did not start")
    after_ready()
    out = child.stdout.read()
    if child.wait(900) != 0:
        raise SystemExit(f"{side.name}: the worker failed")
    report: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return report


def measure(side: Side, redis: Redis, args: argparse.Namespace, rep: int) -> dict[str, Any]:
    n, tag = args.jobs, f"{side.name}-{rep}"
    out: dict[str, Any] = {}

    redis.command("FLUSHALL")
    side.run(side.producer("fill", f"peers-drain-{tag}", n, args.bulk_batch))
    spawned_ns = time.time_ns()
    child = side.spawn_worker(side.worker(f"peers-drain-{tag}", n, args.concurrency, args.prefetch))
    report = _worker_report(side, child, lambda: None)
    first_ns, drained_ns = side.report_ns(report, "first_done_ns"), side.report_ns(report, "drained_ns")
    out["spawn_to_imported_s"] = (side.report_ns(report, "imported_ns") - spawned_ns) / 1e9
    out["spawn_to_ready_s"] = (side.report_ns(report, "ready_ns") - spawned_ns) / 1e9
    out["spawn_to_first_job_s"] = (first_ns - spawned_ns) / 1e9
    out["drain_spawn_to_last_jobs_per_s"] = n / ((drained_ns - spawned_ns) / 1e9)
    out["drain_first_to_last_jobs_per_s"] = (n - 1) / ((drained_ns - first_ns) / 1e9)
    out["drain_worker_cpu_s"] = float(report["cpu_s"])
    # this project's handler opens one redis-py connection per concurrent handler before it is
    # ready (ioredis pipelines on one): that part of spawn_to_ready_s is the handler's, not the queue's
    out["handler_io_setup_s"] = float(
        report.get("handler_io_setup_s", 0.0)
    )  # the whole worker process, start-up included

    redis.command("FLUSHALL")
    result = side.run(side.producer("add-single", f"peers-add-{tag}", n))
    out["add_single_jobs_per_s"] = n / result["seconds"]

    redis.command("FLUSHALL")
    result = side.run(side.producer("add-bulk", f"peers-bulk-{tag}", n, args.bulk_batch))
    out["add_bulk_jobs_per_s"] = n / result["seconds"]

    redis.command("FLUSHALL")
    queue = f"peers-latency-{tag}"
    child = side.spawn_worker(side.worker(queue, args.latency_jobs, args.concurrency, args.prefetch))
    report = _worker_report(
        side, child, lambda: side.run(side.producer("produce", queue, args.latency_jobs, args.rate))
    )
    samples = sorted(report["latency_ms"])
    out["latency_p50_ms"] = _percentile(samples, 50)
    out["latency_p99_ms"] = _percentile(samples, 99)
    return {k: round(v, 4) for k, v in out.items()}


def _percentile(ordered: list[float], pct: float) -> float:
    """Nearest rank, as ``backbone bench``."""
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def _versions(redis: Redis, python: str) -> dict[str, str]:
    lock = json.loads((HERE / "package-lock.json").read_text())["packages"]
    node = subprocess.run(["node", "--version"], capture_output=True, text=True, check=True).stdout.strip()
    py = subprocess.run([python, "-c", "import platform; print(platform.python_version())"],
                        capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    return {
        "redis_server": redis.version(),
        "node": node,
        "bullmq": lock["node_modules/bullmq"]["version"],
        "ioredis": lock["node_modules/ioredis"]["version"],
        "python": py,
    }


def summarize(reps: list[dict[str, Any]]) -> dict[str, Any]:
    medians = {
        side: {m: round(statistics.median(r[side][m] for r in reps), 4) for m in reps[0][side]}
        for side in SIDES
    }
    ratios: dict[str, float | None] = {}
    rep_ratios: dict[str, list[float]] = {}
    targets: dict[str, Any] = {}
    for metric in [*METRICS, *EXTRA_METRICS]:
        ours, theirs = medians["backbone"][metric], medians["bullmq"][metric]
        ratios[metric] = round(ours / theirs, 3) if theirs else None
        rep_ratios[metric] = [
            round(r["backbone"][metric] / r["bullmq"][metric], 3) if r["bullmq"][metric] else 0.0
            for r in reps
        ]
    for metric, (higher_better, target) in METRICS.items():
        ratio = ratios[metric]
        if target is not None and ratio is not None:
            met = ratio >= target if higher_better else ratio <= target
            targets[metric] = {
                "ratio": ratio,
                "target": target,
                "higher_is_better": higher_better,
                "met": met,
            }
    ours_first = medians["backbone"]["spawn_to_first_job_s"]
    targets["spawn_to_first_job_s"] = {
        "seconds": ours_first,
        "target_seconds": SPAWN_TO_FIRST_TARGET_S,
        "met": ours_first <= SPAWN_TO_FIRST_TARGET_S,
    }
    return {"medians": medians, "ratios": ratios, "rep_ratios": rep_ratios, "targets": targets}


def print_table(summary: dict[str, Any], reps: list[dict[str, Any]]) -> None:
    medians, ratios = summary["medians"], summary["ratios"]
    title = f"measurement (median of {len(reps)} reps)"
    print(f"\n{title:<44}{'BullMQ':>12}{'backbone':>12}{'ratio':>9}   (backbone / BullMQ)")
    for metric in [*METRICS, *EXTRA_METRICS]:
        ratio = ratios.get(metric)
        each = " ".join(f"{r:.2f}" for r in summary["rep_ratios"][metric])
        print(
            f"{metric:<44}{medians['bullmq'][metric]:>12.4g}{medians['backbone'][metric]:>12.4g}"
            f"{(f'{ratio:.2f}x' if ratio is not None else ''):>9}   per rep: {each}"
        )
    print("\ntargets:")
    for metric, t in summary["targets"].items():
        print(f"  {metric:<42}{'met' if t['met'] else 'NOT met':>8}  {t}")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--prefetch", type=int, default=32, help="this project's worker only")
    parser.add_argument("--bulk-batch", type=int, default=1000)
    parser.add_argument("--latency-jobs", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=200.0, help="latency phase: jobs/s")
    parser.add_argument("--only", choices=SIDES, help="run one side only (profiling); no ratios")
    parser.add_argument("--output", default=str(ROOT / "bench" / "peers-latest.json"))
    args = parser.parse_args()
    python = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv").exists() else sys.executable
    if not (HERE / "node_modules" / "bullmq").exists() and args.only != "backbone":
        raise SystemExit(
            "bench/peers/node_modules is missing: run `npm ci` in bench/peers (make bench-peers)"
        )
    started = dt.datetime.now(dt.UTC)
    redis = Redis()
    try:
        versions = _versions(redis, python)
        sides = {name: Side(name, redis.url, python) for name in SIDES}
        reps: list[dict[str, Any]] = []
        for rep in range(args.reps):
            order = [args.only] if args.only else (list(SIDES) if rep % 2 == 0 else list(reversed(SIDES)))
            row: dict[str, Any] = {"rep": rep + 1, "order": order}
            for name in order:
                row[name] = measure(sides[name], redis, args, rep)
                print(f"rep {rep + 1} {name}: {json.dumps(row[name])}", flush=True)
            reps.append(row)
    finally:
        redis.stop()
    result: dict[str, Any] = {
        "benchmark": "messaging-backbone-peers",
        "format_version": 1,
        "started_at": started.isoformat(timespec="seconds"),
        "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform()},
        "versions": versions,
        "parameters": {k: v for k, v in vars(args).items() if k != "output"},
        "reps": reps,
    }
    if not args.only:
        result.update(summarize(reps))
        print_table(result, reps)
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"\nwritten to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.harness.brokers import BrokerHandle

from bootstrap.cli import main

TINY = [
    "bench", "--jobs", "300", "--add-jobs", "100", "--bulk-jobs", "100", "--bulk-batch", "40",
    "--latency-jobs", "20", "--latency-gap-ms", "0", "--concurrency", "8", "--prefetch", "4",
]  # fmt: skip


def test_bench_emits_json_with_every_field_and_writes_the_output_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "bench" / "run.json"
    code = main([*TINY, "--output", str(target)])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert json.loads(target.read_text()) == result
    assert {"cpu_count", "usable_cores", "python"} <= set(result["machine"])
    assert result["broker"] == {"url": "memory://", "adapter": "MemoryBroker"}
    assert result["parameters"]["e2e_jobs"] == 300
    results = result["results"]
    assert results["add_single"]["jobs"] == 100 and results["add_single"]["jobs_per_s"] > 0
    assert results["add_bulk"]["batch_size"] == 40
    e2e = results["end_to_end"]
    assert (e2e["jobs"], e2e["succeeded"], e2e["concurrency"], e2e["prefetch"]) == (300, 300, 8, 4)
    latency = results["latency"]
    assert latency["jobs"] == 20
    assert 0 <= latency["p50_ms"] <= latency["p95_ms"] <= latency["p99_ms"] <= latency["max_ms"]
    assert set(result["target"]) == {"end_to_end_jobs_per_s", "met"}


def test_bench_refuses_a_zero_job_count(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--jobs", "0"]) == 2
    assert "e2e_jobs: must be >= 1" in capsys.readouterr().err


def test_cross_process_latency_is_null_for_the_in_process_memory_broker(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main([*TINY, "--cross-process"]) == 0
    assert json.loads(capsys.readouterr().out)["results"]["latency_cross_process"] is None


def test_cross_process_latency_runs_the_worker_in_a_child_process(
    redis_broker: BrokerHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--broker", redis_broker.url, *TINY, "--cross-process"]) == 0
    latency = json.loads(capsys.readouterr().out)["results"]["latency_cross_process"]
    assert latency["jobs"] == 20
    assert 0 < latency["p50_ms"] <= latency["p95_ms"] <= latency["p99_ms"] <= latency["max_ms"]

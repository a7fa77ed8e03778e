from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.harness.brokers import BrokerHandle, start_local_redis

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


REALISTIC = [
    "bench", "--realistic", "--jobs", "200", "--add-jobs", "50", "--bulk-jobs", "50", "--bulk-batch", "20",
    "--latency-jobs", "20", "--rate", "2000", "--realistic-concurrency", "8", "--prefetch", "4",
]  # fmt: skip


def test_realistic_mode_drains_through_a_handler_round_trip_with_the_queues_default_retention(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(REALISTIC) == 0
    result = json.loads(capsys.readouterr().out)
    results = result["results"]
    assert set(results) == {"drain", "latency_at_rate", "add_single", "add_bulk"}
    drain = results["drain"]
    assert (drain["jobs"], drain["succeeded"], drain["concurrency"], drain["worker"]) == (
        200, 200, 8, "in process"
    )  # fmt: skip
    assert drain["handler_io"].startswith("tcp://127.0.0.1:")
    assert 0 < drain["spawn_to_first_job_s"] <= drain["seconds"]
    latency = results["latency_at_rate"]
    assert (latency["jobs"], latency["rate_per_s"]) == (20, 2000)
    assert result["target"] == {"end_to_end_jobs_per_s": None, "met": None}


def test_realistic_mode_times_a_worker_process_from_its_spawn_with_a_redis_round_trip_per_job(
    redis_broker: BrokerHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--broker", redis_broker.url, *REALISTIC]) == 0
    results = json.loads(capsys.readouterr().out)["results"]
    drain = results["drain"]
    assert (drain["succeeded"], drain["failed"], drain["worker"]) == (200, 0, "child process")
    assert drain["handler_io"] == redis_broker.url
    assert 0 < drain["spawn_to_imported_s"] < drain["spawn_to_first_job_s"] < drain["seconds"]
    assert results["latency_at_rate"]["jobs"] == 20


def test_realistic_mode_refuses_a_round_trip_url_it_cannot_use(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*REALISTIC, "--io", "http://example.invalid"]) == 2
    assert "io_url: must be redis://... or tcp://HOST:PORT" in capsys.readouterr().err


@pytest.mark.broker
def test_worker_processes_connect_with_the_brokers_credentials_not_its_redacted_url(
    capsys: pytest.CaptureFixture[str],
) -> None:
    server = start_local_redis(password="bench-secret")
    try:
        assert main(["--broker", server.url, *TINY, "--cross-process"]) == 0
        output = capsys.readouterr().out
    finally:
        server.close()
    assert json.loads(output)["results"]["latency_cross_process"]["jobs"] == 20
    assert "bench-secret" not in output

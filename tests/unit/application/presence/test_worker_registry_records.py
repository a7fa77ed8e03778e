"""The heartbeat record every adapter stores, and which heartbeats count as live (ADR 0025)."""

from __future__ import annotations

from application.presence.registry import ActiveJob, WorkedQueue, WorkerHeartbeat, latest_live


def heartbeat(worker_id: str, beat_at: int, ttl_ms: int = 1500) -> WorkerHeartbeat:
    return WorkerHeartbeat(
        worker_id=worker_id,
        host="host-a",
        pid=42,
        version="0.1.0",
        started_at=1_000,
        beat_at=beat_at,
        ttl_ms=ttl_ms,
        queues=(WorkedQueue("payments", f"{worker_id}-q", 4), WorkedQueue("mail", f"{worker_id}-m", 2)),
        active_count=1,
        active_jobs=(ActiveJob("payments", "job-1", "payment.v1", 2, 1_500),),
    )


def test_a_heartbeat_reads_back_as_the_same_heartbeat_from_its_json() -> None:
    beat = heartbeat("w1", 2_000)
    assert WorkerHeartbeat.from_json(beat.to_json()) == beat
    assert (beat.concurrency, beat.expires_at) == (6, 3_500)


def test_a_record_that_is_not_a_heartbeat_reads_as_none() -> None:
    assert [WorkerHeartbeat.from_json(raw) for raw in (b"", b"{}", b"[1]", b'{"worker_id": 1}', b"\xff")] == [
        None
    ] * 5


def test_only_the_last_heartbeat_of_each_worker_counts_and_a_leave_or_its_expiry_ends_it() -> None:
    records = [
        heartbeat("w1", 1_000),
        heartbeat("w2", 1_000),
        heartbeat("w1", 2_000),
        "w2",
        heartbeat("w3", 100),
    ]
    assert [(b.worker_id, b.beat_at) for b in latest_live(records, now_ms=2_000)] == [("w1", 2_000)]
    assert latest_live(records, now_ms=3_500) == []  # w1's last heartbeat expired at 3 500

"""Tuning knobs of the replication engine (defaults suit jobs on a local or LAN broker)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

Clock = Callable[[], int]  # epoch milliseconds


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True, slots=True)
class ReplicationSettings:
    # an append or a read barrier slower than this raises BrokerUnavailableError
    operation_timeout_ms: int = 10_000
    snapshot_every_records: int = 20_000  # the leader snapshots after this many applied records
    snapshot_every_events: int = 20_000  # ...or events (group commit puts up to 2,000 in one record)...
    snapshot_min_interval_ms: int = 5_000  # ...but not more often than this
    # ...and at least this often while the log moves (bounds a new process's replay by time too)
    snapshot_max_interval_ms: int = 60_000
    tick_slack_ms: int = 1  # ticks are appended this long after the state's next wake time
    max_record_bytes: int = 900 * 1024  # one log record (a batch of events) stays under this
    max_events_per_record: int = 2_000
    reconnect_delay_ms: int = 200  # pause before tailing again after a broker error
    leader_poll_ms: int = 1_000  # how often a non-leader re-checks whether it became leader

    @property
    def operation_timeout_s(self) -> float:
        return self.operation_timeout_ms / 1000

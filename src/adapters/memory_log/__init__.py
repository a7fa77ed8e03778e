"""An in-process implementation of the replication log ports (for tests and single-process runs)."""

from adapters.memory_log.memory_log import MemoryLeaderElection, MemoryLog, MemorySnapshotStore

__all__ = ["MemoryLeaderElection", "MemoryLog", "MemorySnapshotStore"]

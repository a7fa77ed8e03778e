"""The embedded in-memory broker: the queue state machine applied in-process."""

from adapters.memory.broker import MemoryBroker
from adapters.memory.queue import MemoryQueue

__all__ = ["MemoryBroker", "MemoryQueue"]

"""What the cleanup needs from the message store (an outbound port)."""

from __future__ import annotations

from abc import ABC, abstractmethod


class MessageStore(ABC):
    @abstractmethod
    async def count_older_than(self, cutoff_ms: int) -> int:
        """How many messages were created before ``cutoff_ms`` (epoch ms)."""

    @abstractmethod
    async def delete_older_than(self, cutoff_ms: int, limit: int) -> int:
        """Delete up to ``limit`` messages created before ``cutoff_ms``; returns how many."""

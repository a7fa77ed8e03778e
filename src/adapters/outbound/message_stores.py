"""An in-memory ``MessageStore`` (messages by id with their creation time), for the sample app and tests."""

from __future__ import annotations

from domain.messages.ports import MessageStore


class InMemoryMessageStore(MessageStore):
    def __init__(self) -> None:
        self.created_at: dict[str, int] = {}

    def add(self, message_id: str, created_at_ms: int) -> None:
        self.created_at[message_id] = created_at_ms

    async def count_older_than(self, cutoff_ms: int) -> int:
        return sum(1 for created in self.created_at.values() if created < cutoff_ms)

    async def delete_older_than(self, cutoff_ms: int, limit: int) -> int:
        old = [key for key, created in self.created_at.items() if created < cutoff_ms][:limit]
        for key in old:
            del self.created_at[key]
        return len(old)

"""The cleanup handler: deletes old messages in batches until none is left (or counts them on a dry run)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from domain.messages.jobs import CLEANUP_JOB, CleanupMessages
from domain.messages.ports import MessageStore
from domain.queue.context import Handler, JobContext
from domain.queue.options import DAY_MS


def build_handlers(store: MessageStore, clock: Callable[[], int]) -> Mapping[str, Handler]:
    async def cleanup_messages(job: CleanupMessages, ctx: JobContext) -> dict[str, int | bool]:
        cutoff = clock() - job.retention_days * DAY_MS
        if job.dry_run:
            return {"would_delete": await store.count_older_than(cutoff), "dry_run": True}
        deleted = 0
        while True:
            batch = await store.delete_older_than(cutoff, job.batch_size)
            deleted += batch
            if batch < job.batch_size:
                return {"deleted": deleted, "dry_run": False}

    return {CLEANUP_JOB: cleanup_messages}

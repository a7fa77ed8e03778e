"""The Redis audit store on a Redis Cluster reached through one node's URL: the store finds the
cluster as queues do and writes each log (one stream key, one slot) on the master owning it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from application.audit import AuditHook, AuditQuery
from application.hooks import AdminAction
from bootstrap.audit import create_audit_store
from bootstrap.settings import AuditSettings, BrokerSettings
from tests.harness.redis_cluster import LocalRedisCluster, start_local_redis_cluster

pytestmark = pytest.mark.broker


@pytest.fixture(scope="module")
def redis_cluster() -> Iterator[LocalRedisCluster]:
    cluster = start_local_redis_cluster()
    yield cluster
    cluster.close()


async def test_audit_logs_of_several_prefixes_are_written_and_read_on_whichever_master_owns_them(
    redis_cluster: LocalRedisCluster,
) -> None:
    prefixes = [f"auditcl{uuid.uuid4().hex[:8]}" for _ in range(6)]  # their keys spread over the slots
    read: dict[str, list[tuple[str, str | None]]] = {}
    for prefix in prefixes:
        store = create_audit_store(BrokerSettings(url=redis_cluster.url, key_prefix=prefix), AuditSettings())
        try:
            await AuditHook(store, actor="alice").after_admin(AdminAction("pause", f"q-{prefix}"))
            read[prefix] = [(e.action, e.queue) for e in await store.read(AuditQuery())]
        finally:
            await store.close()

    assert read == {prefix: [("pause", f"q-{prefix}")] for prefix in prefixes}

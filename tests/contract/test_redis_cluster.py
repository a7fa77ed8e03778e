"""The shipped queue contract on a Redis Cluster of three masters with one replica each
(``tests/harness/redis_cluster.py``), reached through the URL of one node as a user gives it: the
adapter finds it is a cluster node and routes every queue to the master owning its slot. The outage
is every node killed and started again (append-only files with fsync on every write), so
acknowledged jobs must survive it. A master failover is in ``tests/integration/redis/``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from backbone.testing.contract.brokers import broker_under_test
from backbone.testing.contract.queue_contract import QueueContract
from backbone.testing.contract.support import BrokerUnderTest
from tests.harness.redis_cluster import LocalRedisCluster, start_local_redis_cluster

pytestmark = pytest.mark.broker


@pytest.fixture(scope="module")
def redis_cluster() -> Iterator[LocalRedisCluster]:
    cluster = start_local_redis_cluster(durable=True)
    yield cluster
    cluster.close()


class TestRedisClusterContract(QueueContract):
    @pytest.fixture
    async def broker(self, redis_cluster: LocalRedisCluster) -> AsyncIterator[BrokerUnderTest]:
        under_test = broker_under_test(redis_cluster.url, interrupt=redis_cluster.arestart)
        yield under_test
        await under_test.close()

"""The shipped queue contract against a real ``redis-server``, built from its URL as ``backbone
contract`` builds it; the outage is a real restart of a server with an fsync-always append-only
file (``durable_redis_broker``), so acknowledged jobs must survive it.

What only the Redis adapter promises is in ``tests/integration/redis/``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from backbone.testing.contract.brokers import broker_under_test
from backbone.testing.contract.queue_contract import QueueContract
from backbone.testing.contract.support import BrokerUnderTest
from tests.harness.handle import BrokerHandle


class TestRedisContract(QueueContract):
    @pytest.fixture
    async def broker(self, durable_redis_broker: BrokerHandle) -> AsyncIterator[BrokerUnderTest]:
        under_test = broker_under_test(durable_redis_broker.url, interrupt=durable_redis_broker.arestart)
        yield under_test
        await under_test.close()

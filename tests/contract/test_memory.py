"""The shipped queue contract against the embedded memory broker (what ``backbone contract
--broker memory://`` runs): every behaviour in this process."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from backbone.testing.contract.brokers import broker_under_test
from backbone.testing.contract.queue_contract import QueueContract
from backbone.testing.contract.support import BrokerUnderTest


class TestMemoryContract(QueueContract):
    @pytest.fixture
    async def broker(self) -> AsyncIterator[BrokerUnderTest]:
        under_test = broker_under_test("memory://")
        yield under_test
        await under_test.close()

"""The queue contract against the broker URL given with ``--backbone-contract-url``.

Run by ``backbone contract --broker URL`` (or ``pytest --backbone-contract-url URL --pyargs
backbone.testing.contract.suite``); the ``backbone_contract_url`` fixture comes from the
``backbone.testing.plugin`` pytest plugin.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from backbone.testing.contract.brokers import broker_under_test
from backbone.testing.contract.queue_contract import QueueContract
from backbone.testing.contract.support import BrokerUnderTest


class TestQueueContract(QueueContract):
    @pytest.fixture
    async def broker(self, backbone_contract_url: str) -> AsyncIterator[BrokerUnderTest]:
        under_test = broker_under_test(backbone_contract_url)
        yield under_test
        await under_test.close()

"""The shared queue contract: ``docs/queue-contract.md`` as tests, written once.

Each adapter's test module subclasses ``QueueContract`` and provides one async ``broker`` fixture
yielding a ``BrokerUnderTest``. The behaviours live in mixins, by side of the port and by feature
(hostile input at ``add``, poison records written with the broker's own client).
"""

from __future__ import annotations

from typing import Any

import pytest

from application.jobs.job_types import JobTypes
from tests.contract.consumer_behaviours import ConsumerBehaviours
from tests.contract.handback_behaviours import HandBackBehaviours
from tests.contract.helpers import contract_job_types, fast_defaults, unique_queue_name
from tests.contract.hook_behaviours import HookBehaviours
from tests.contract.input_fuzz_behaviours import InputFuzzBehaviours
from tests.contract.poison_behaviours import PoisonBehaviours
from tests.contract.producer_behaviours import ProducerBehaviours
from tests.contract.reliability_behaviours import ReliabilityBehaviours
from tests.contract.support import BrokerUnderTest


class QueueContract(
    ProducerBehaviours,
    ConsumerBehaviours,
    ReliabilityBehaviours,
    HandBackBehaviours,
    HookBehaviours,
    InputFuzzBehaviours,
    PoisonBehaviours,
):
    """Every behaviour of the contract; subclasses only build the broker."""

    @pytest.fixture
    def queue_name(self) -> str:
        return unique_queue_name()

    @pytest.fixture
    def job_types(self) -> JobTypes:
        return contract_job_types()

    @pytest.fixture
    async def queue(self, broker: BrokerUnderTest, queue_name: str, job_types: JobTypes) -> Any:
        handle = await broker.open_queue(queue_name, job_types, fast_defaults())
        yield handle
        await handle.close()

    @pytest.fixture
    async def other_client(self, broker: BrokerUnderTest, queue_name: str, job_types: JobTypes) -> Any:
        """A second, independent handle on the same queue (as another process would hold)."""
        handle = await broker.open_queue(queue_name, job_types, fast_defaults())
        yield handle
        await handle.close()

"""The shared queue contract: ``docs/queue-contract.md`` as tests, written once.

A binding subclasses ``QueueContract`` and provides one async ``broker`` fixture yielding a
``BrokerUnderTest`` (``suite.py`` for ``backbone contract``, ``tests/contract/`` for this project's
own runs). The behaviours live in mixins, by side of the port and by feature (hostile input at
``add``, poison records written with the broker's own client, hand-backs, hooks, encryption).
"""

from __future__ import annotations

from typing import Any

import pytest

from application.jobs.job_types import JobTypes
from backbone.testing.contract.admin_behaviours import AdminBehaviours
from backbone.testing.contract.consumer_behaviours import ConsumerBehaviours
from backbone.testing.contract.encryption_behaviours import EncryptionBehaviours
from backbone.testing.contract.handback_behaviours import HandBackBehaviours
from backbone.testing.contract.helpers import contract_job_types, fast_defaults, unique_queue_name
from backbone.testing.contract.hook_behaviours import HookBehaviours
from backbone.testing.contract.input_fuzz_behaviours import InputFuzzBehaviours
from backbone.testing.contract.inspection_behaviours import InspectionBehaviours
from backbone.testing.contract.poison_behaviours import PoisonBehaviours
from backbone.testing.contract.producer_behaviours import ProducerBehaviours
from backbone.testing.contract.reliability_behaviours import ReliabilityBehaviours
from backbone.testing.contract.schedule_behaviours import ScheduleBehaviours
from backbone.testing.contract.support import BrokerUnderTest
from backbone.testing.contract.tenancy_behaviours import TenancyBehaviours


class QueueContract(
    ProducerBehaviours,
    ConsumerBehaviours,
    ReliabilityBehaviours,
    HandBackBehaviours,
    HookBehaviours,
    InputFuzzBehaviours,
    PoisonBehaviours,
    AdminBehaviours,
    EncryptionBehaviours,
    InspectionBehaviours,
    ScheduleBehaviours,
    TenancyBehaviours,
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

"""The shipped queue contract against a real RabbitMQ node, run as a user runs it:
``backbone contract --broker <the node's URL>``. The outage is the contract's own proxy cutting
every connection; a real node restart mid-run is in ``tests/integration/rabbitmq/``."""

from __future__ import annotations

import pytest

from tests.contract.contract_command import CONTRACT_RUN_TIMEOUT_S, report_of, run_backbone_contract
from tests.harness.handle import BrokerHandle


@pytest.mark.slow
@pytest.mark.timeout(CONTRACT_RUN_TIMEOUT_S + 60)
def test_backbone_contract_passes_against_a_rabbitmq_node(rabbitmq_broker: BrokerHandle) -> None:
    result = run_backbone_contract(rabbitmq_broker.url, "-q")
    assert result.returncode == 0, report_of(result)
    assert " behaviours kept, 0 broken" in result.stdout

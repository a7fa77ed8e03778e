"""The shipped queue contract against a Kafka-protocol broker (Tansu locally), run as a user runs
it: ``backbone contract --broker <its URL>``.

Kafka clients connect to the address the broker advertises, so the contract's own outage proxy
cuts only the bootstrap connections here; the outage behaviour with every connection cut (the
harness's proxy, which the broker advertises) and what only the Kafka adapter promises are in
``tests/integration/kafka/``.
"""

from __future__ import annotations

import pytest

from tests.contract.contract_command import CONTRACT_RUN_TIMEOUT_S, report_of, run_backbone_contract
from tests.harness.kafka_site import KafkaSite


@pytest.mark.slow
@pytest.mark.timeout(CONTRACT_RUN_TIMEOUT_S + 60)
def test_backbone_contract_passes_against_a_kafka_broker(kafka_site: KafkaSite) -> None:
    result = run_backbone_contract(kafka_site.url, "-q")
    assert result.returncode == 0, report_of(result)
    assert " behaviours kept, 0 broken" in result.stdout

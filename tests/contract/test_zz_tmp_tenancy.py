from tests.contract.contract_command import report_of, run_backbone_contract
from tests.harness.handle import BrokerHandle

K = "tenant or Tenan or burst or weighted or urgency"


def test_rabbit(rabbitmq_broker: BrokerHandle) -> None:
    result = run_backbone_contract(rabbitmq_broker.url, "-q", "-k", K)
    print(result.stdout[-3000:])
    assert result.returncode == 0, report_of(result)


def test_kafka(kafka_broker: BrokerHandle) -> None:
    result = run_backbone_contract(kafka_broker.url, "-q", "-k", K)
    print(result.stdout[-3000:])
    assert result.returncode == 0, report_of(result)

"""The queue contract (docs/queue-contract.md), shipped so anyone can run it against a broker URL."""

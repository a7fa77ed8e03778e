"""Outbound adapters a user can run without accounts (JSON-line senders, ledgers, Slack clients),
the real Slack incoming-webhook client, and a deterministic flaky wrapper for demos."""

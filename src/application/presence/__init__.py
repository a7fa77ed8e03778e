"""Which workers are alive: heartbeats published on the broker (ADR 0025)."""

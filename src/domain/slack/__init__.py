"""Slack: channel messages and alerts, delivered by a ``SlackClient`` (seed 002)."""

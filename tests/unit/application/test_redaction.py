"""Broker URLs never show their password."""

from __future__ import annotations

import pytest

from application.redaction import redact_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("redis://:secret@h:6379/0", "redis://:***@h:6379/0"),
        ("amqp://guest:guest@127.0.0.1:5672/%2F", "amqp://guest:***@127.0.0.1:5672/%2F"),
        ("kafka://u:pw@h1:1,h2:2", "kafka://u:***@h1:1,h2:2"),
        ("redis://h:6379/0", "redis://h:6379/0"),
        ("redis://user@h:6379/0", "redis://user@h:6379/0"),
        ("memory://", "memory://"),
    ],
)
def test_password_is_replaced_and_everything_else_kept(url: str, expected: str) -> None:
    assert redact_url(url) == expected


def test_password_containing_at_signs_is_hidden_entirely() -> None:
    assert "p@ss" not in redact_url("amqp://u:p@ss@host:5672/")

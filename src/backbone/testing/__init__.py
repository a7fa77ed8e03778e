"""The test kit shipped with messaging-backbone (docs/testing.md)."""

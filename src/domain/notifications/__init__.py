"""Notifications: email, SMS and push messages, and chunked broadcasts (seeds 002 and 003)."""

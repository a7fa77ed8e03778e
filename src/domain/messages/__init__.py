"""The messages module (seed 003): the nightly cleanup of old messages on the ``message-cleanup`` queue."""

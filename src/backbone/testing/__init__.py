"""The test kit shipped with messaging-backbone (docs/testing.md).

``BackboneTestKit`` runs a team's modules on the real memory broker with a ``ManualClock``;
``run_until_idle()`` runs their handlers until nothing is waiting, delayed or active. The pytest
plugin (``backbone.testing.plugin``, loaded by pytest by itself) gives it as the ``backbone_kit``
fixture. ``backbone.testing.contract`` is the queue contract every adapter passes, runnable
against any broker URL with ``backbone contract --broker URL``.
"""

from application.clock import ManualClock
from backbone.testing.kit import BackboneTestKit, QueuesStillBusyError

__all__ = ["BackboneTestKit", "ManualClock", "QueuesStillBusyError"]

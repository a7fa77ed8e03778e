"""The payment flow as a module: no queue of its own, one service built from the three domain
modules' services (ADR 0014). Enabled by ``application.payments.module:MODULE``."""

from __future__ import annotations

from application.payments.handler import PaymentCompletedHandler
from domain.notifications.service import NotificationQueueService
from domain.queue.module import DomainModule, ModuleContext
from domain.slack.service import SlackQueueService
from domain.transactions.service import TransactionQueueService


def _handler(ctx: ModuleContext) -> PaymentCompletedHandler:
    return PaymentCompletedHandler(
        ctx.service(NotificationQueueService),
        ctx.service(SlackQueueService),
        ctx.service(TransactionQueueService),
        ctx.clock,
    )


MODULE = DomainModule(name="payments", services={PaymentCompletedHandler: _handler})

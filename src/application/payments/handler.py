"""``PaymentCompletedHandler``: what happens after a payment completes (seed 002).

Always an email to the payer; a Slack alert when the amount is above ``HIGH_VALUE_THRESHOLD_MINOR``;
and the settlement, held until the settlement date (never a negative delay). Every job carries the
event's correlation id and tenant. Job ids derive from the payment id, so handling the same event
twice (an event store redelivers) enqueues nothing new.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from application.clock import Clock
from application.payments.events import EventMetadata, PaymentCompletedV1
from domain.notifications.jobs import SendEmail
from domain.notifications.service import NotificationQueueService
from domain.queue.job import Job
from domain.queue.metadata import JobMetadata, UserRef
from domain.slack.jobs import AlertSeverity, SendSlackAlert
from domain.slack.service import SlackQueueService
from domain.transactions.jobs import SettleTransaction
from domain.transactions.service import TransactionQueueService

logger = logging.getLogger(__name__)

HIGH_VALUE_THRESHOLD_MINOR = 100_000  # strictly above this amount a Slack alert goes out
PAYMENT_EMAIL_TEMPLATE = "payment_completed_v1"


@dataclass(frozen=True, slots=True)
class PaymentFlowJobs:
    """The jobs one event produced (``alert`` is None below the threshold)."""

    email: Job
    settlement: Job
    alert: Job | None


class PaymentCompletedHandler:
    def __init__(
        self,
        notification_service: NotificationQueueService,
        slack_service: SlackQueueService,
        transaction_service: TransactionQueueService,
        clock: Clock,
    ) -> None:
        self._notifications = notification_service
        self._slack = slack_service
        self._transactions = transaction_service
        self._clock = clock

    async def handle(self, event: PaymentCompletedV1, meta: EventMetadata) -> PaymentFlowJobs:
        logger.info(
            "payment %s completed: correlation_id=%s tenant=%s amount_minor=%s",
            event.payment_id,
            meta.correlation_id,
            meta.tenant_id,
            event.amount_minor,
        )
        now = self._clock()
        email = await self._notifications.enqueue_email(
            SendEmail(
                notification_id=f"payment-completed-{event.payment_id}",
                kind="payment.completed",
                user_id=event.user_id,
                template_id=PAYMENT_EMAIL_TEMPLATE,
                template_data={
                    "payment_id": event.payment_id,
                    "amount_minor": event.amount_minor,
                    "currency": event.currency,
                    "merchant_name": event.merchant_name,
                },
            ),
            self._metadata(event, meta, "domain.payment.completed", now),
        )
        alert = None
        if event.amount_minor > HIGH_VALUE_THRESHOLD_MINOR:
            alert = await self._slack.send_alert(
                SendSlackAlert(
                    alert_type="high_value_payment",
                    summary=f"{event.amount_minor} {event.currency} (minor units) at {event.merchant_name}",
                    severity=AlertSeverity.CRITICAL,
                    dedup_key=event.payment_id,
                    fields={
                        "payment_id": event.payment_id,
                        "amount_minor": event.amount_minor,
                        "currency": event.currency,
                        "merchant_name": event.merchant_name,
                    },
                ),
                self._metadata(event, meta, "domain.payment.high_value", now),
            )
        settlement = await self._transactions.enqueue_settlement(
            SettleTransaction(
                tx_id=event.payment_id,
                amount_minor=event.amount_minor,
                currency=event.currency,
                merchant_name=event.merchant_name,
                settlement_date=event.settlement_date.date(),
            ),
            self._metadata(event, meta, "domain.payment.settlement", now),
            delay_ms=settlement_delay_ms(event, now),
        )
        return PaymentFlowJobs(email=email, settlement=settlement, alert=alert)

    @staticmethod
    def _metadata(event: PaymentCompletedV1, meta: EventMetadata, source: str, now: int) -> JobMetadata:
        user = (
            UserRef(sub=meta.user_id, tenant=meta.tenant_id)
            if meta.user_id
            else UserRef.system(meta.tenant_id)
        )
        return JobMetadata(
            correlation_id=meta.correlation_id,
            tenant_id=meta.tenant_id,
            user=user,
            source=source,
            timestamp=now,
            business_context={"payment_id": event.payment_id, "event": "payment.completed.v1"},
        )


def settlement_delay_ms(event: PaymentCompletedV1, now_ms: int) -> int:
    """Milliseconds until the settlement date; 0 when it is already due."""
    due_ms = int(event.settlement_date.timestamp() * 1000)
    return max(0, due_ms - now_ms)

"""The case workflow's activities, called by name: `publish` (events to Kafka) and `send_email`
(SMTP). Both are safe to retry: a republished event keeps its envelope id (consumers drop the
duplicate), a resent email keeps its Message-ID.

A refusal that another attempt cannot change (an event its payload model refuses, an SMTP 5xx)
is a non-retryable `ApplicationError`; anything else raises and Temporal retries it by the
workflow's retry policy, after which the step fails visibly.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import aiosmtplib
from byte_contracts import Envelope
from byte_contracts.registry import payload_model, topic_for
from faststream.kafka import KafkaBroker
from pydantic import ValidationError
from temporalio import activity
from temporalio.exceptions import ApplicationError

from byte_worker.domain import compose_email, is_permanent_smtp_refusal
from byte_worker.messages import EmailInput, PublishInput
from byte_worker.settings import WorkerSettings

log = logging.getLogger(__name__)


@dataclass
class CaseActivities:
    broker: KafkaBroker
    settings: WorkerSettings

    @activity.defn(name="publish")
    async def publish(self, request: PublishInput) -> None:
        """Each event as an envelope with the id the workflow gave it, to its type's topic, keyed
        by its subject, in order; returns once Kafka acknowledged every one (acks=all)."""
        envelopes = []
        for event in request.events:
            try:
                data = payload_model(event.type).model_validate(event.data)
            except KeyError as exc:
                raise ApplicationError(str(exc), type="UnknownEventType", non_retryable=True) from exc
            except ValidationError as exc:
                raise ApplicationError(
                    f"{event.type} {event.event_id}: {exc}", type="InvalidEvent", non_retryable=True
                ) from exc
            envelopes.append(
                Envelope(
                    id=event.event_id,
                    type=event.type,
                    org_id=request.org_id,
                    subject=event.subject,
                    occurred_at=event.occurred_at,
                    correlation_id=request.correlation_id,
                    causation_id=request.causation_id,
                    actor=request.actor,
                    data=data.model_dump(mode="json"),
                )
            )
        # All sent before any acknowledgement is awaited, as the outbox relay does: a case's events
        # share a key, hence a partition, whose batches the idempotent producer sends and retries
        # in order; one round trip for the lot instead of one per event.
        confirmations = []
        for envelope in envelopes:
            confirmations.append(
                await self.broker.publish(
                    envelope.to_bytes(),
                    topic=topic_for(envelope.type),
                    key=envelope.subject.encode(),
                    headers={
                        "content-type": "application/json",
                        "event_type": envelope.type,
                        "event_id": str(envelope.id),
                        "org_id": envelope.org_id,
                    },
                    correlation_id=envelope.correlation_id or str(envelope.id),
                    no_confirm=True,
                )
            )
        await asyncio.gather(*confirmations)

    @activity.defn(name="send_email")
    async def send_email(self, request: EmailInput) -> None:
        s = self.settings
        message = compose_email(
            sender=s.mail_from,
            to=request.to,
            subject=request.subject,
            text=request.text,
            html_body=request.html,
            message_id=request.message_id,
        )
        try:
            await aiosmtplib.send(
                message,
                hostname=s.smtp_host,
                port=s.smtp_port,
                username=s.smtp_username,
                password=s.smtp_password,
                use_tls=s.smtp_use_tls,
                start_tls=s.smtp_start_tls,
                timeout=s.smtp_timeout_seconds,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [refusal.code for refusal in exc.recipients]
            if codes and all(is_permanent_smtp_refusal(code) for code in codes):
                raise _refused(
                    request, "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in exc.recipients)
                ) from exc
            raise
        except aiosmtplib.SMTPResponseException as exc:
            if is_permanent_smtp_refusal(exc.code):
                raise _refused(request, f"{exc.code} {exc.message}") from exc
            raise
        log.info(
            "email %s for case %s step %s sent to %d recipient(s)",
            message["Message-ID"],
            request.execution_id,
            request.step_id,
            len(request.to),
        )


def _refused(request: EmailInput, why: str) -> ApplicationError:
    return ApplicationError(
        f"the SMTP server refused the email of step {request.step_id}: {why}",
        {"message_id": request.message_id, "to": request.to},
        type="EmailRefused",
        non_retryable=True,
    )

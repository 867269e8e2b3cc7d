"""Commands in, rows and events out: each handler is one unit of work (rows and outbox commit
together). Callers are api.py (HTTP) and consumers.py (events); neither is seen here.

A webhook delivery is stored before it is answered, once per (org, UniqueID): the first delivery
inserts the row and, in the same transaction, `submission.received` into the outbox; a repeat
finds the row and changes nothing."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from byte_contracts.errors import Conflict, Invalid, NotFound
from byte_contracts.ingest import Applicant, SubmissionReceived
from byte_platform.context import Context, require_admin
from byte_platform.db import row_in_org
from byte_platform.unit_of_work import UnitOfWork, Work
from cryptography.fernet import Fernet, InvalidToken
from pydantic import ValidationError
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError

from byte_ingest import domain
from byte_ingest.commands import (
    CreateForm,
    ReceiveDelivery,
    RecordCaseOpened,
    Reprocess,
    RotateKey,
    TryMapping,
    UpdateForm,
)
from byte_ingest.models import FORM_UNIQUE, SUBMISSION_UNIQUE, formstack_config, formstack_submissions
from byte_ingest.schemas import ApplicantIn, FieldMappingIn, MappingResult

log = logging.getLogger(__name__)
SERVICE = "ingest"

configs = formstack_config
submissions = formstack_submissions
CONFIG_COLUMNS = [c for c in configs.c if c.name != "org_id"]
SUBMISSION_COLUMNS = [c for c in submissions.c if c.name != "org_id"]


class TooLarge(Exception):
    pass


class UnsupportedMediaType(Exception):
    pass


@dataclass(frozen=True)
class Accepted:
    status: str
    """received, duplicate or failed (stored, but its mapping failed: visible in the API)"""
    submission_id: str


class Vault:
    """Encrypts the HMAC keys at rest (they must be read back to verify)."""

    def __init__(self, key: str) -> None:
        self._fernet = Fernet(key.encode())

    def seal(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode()).decode()

    def open(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken:
            raise RuntimeError("a stored HMAC key does not decrypt: SECRETS_KEY changed") from None


def public_form(row: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    valid_until = row.previous_hmac_key_expires_at
    return {
        "id": row.id,
        "form_id": row.form_id,
        "name": row.name,
        "signature_header": row.signature_header,
        "field_mappings": row.field_mappings,
        "default_definition_id": row.default_definition_id,
        "is_active": row.is_active,
        "hmac_key_set": row.hmac_key_encrypted is not None,
        "previous_hmac_key_valid_until": valid_until
        if row.previous_hmac_key_encrypted and valid_until and valid_until > now
        else None,
        "handshake_key_set": row.handshake_key_digest is not None,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }


def _mappings(raw: Sequence[dict[str, Any] | FieldMappingIn]) -> list[domain.FieldMapping]:
    out = []
    for index, mapping in enumerate(raw):
        item = mapping.model_dump() if isinstance(mapping, FieldMappingIn) else mapping
        domain.check_target(item["to"], f"field_mappings.{index}.to")
        out.append(domain.FieldMapping(item["field"], item["to"]))
    return out


def _readable(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in error['loc']) or 'applicant'}: {error['msg']}" for error in exc.errors()
    )


@dataclass(frozen=True)
class Outcome:
    """What a form's mappings make of a delivery: the event to emit, or why there is none."""

    event: SubmissionReceived | None
    mapped: domain.Mapped | None
    error: str | None


def map_delivery(
    delivery: domain.Delivery, mappings: list[domain.FieldMapping], definition_id: uuid.UUID | None
) -> Outcome:
    """Never raises for what the submission says: a submission naming no one, or a value contacts
    would refuse, is an error the submission carries."""
    try:
        mapped = domain.map_fields(delivery.fields, mappings)
        applicant = ApplicantIn.model_validate(mapped.applicant)
    except Invalid as exc:
        return Outcome(None, None, exc.detail)
    except ValidationError as exc:
        return Outcome(None, None, _readable(exc))
    event = SubmissionReceived(
        submission_id=delivery.submission_id,
        form_id=delivery.form_id,
        applicant=Applicant.model_validate(applicant.model_dump(exclude_unset=True)),
        variables=mapped.variables,
        definition_id=definition_id,
    )
    return Outcome(event, mapped, None)


def payload_of(delivery: domain.Delivery, outcome: Outcome | None = None) -> dict[str, Any]:
    """The parsed submission as stored: every field as it came (mapped or not)."""
    payload: dict[str, Any] = {
        "submission_id": delivery.submission_id,
        "form_id": delivery.form_id,
        "fields": delivery.fields,
    }
    if outcome is not None and outcome.mapped is not None:
        payload["unmapped"] = sorted(outcome.mapped.unmapped)
    return payload


@dataclass
class FormHandlers:
    """The admin side: forms, their keys and mappings, and what happened to submissions."""

    uow: UnitOfWork
    vault: Vault
    grace_seconds: int = 86_400

    async def _locked(self, work: Work, config_id: uuid.UUID) -> Any:
        return await row_in_org(
            work.session, configs, CONFIG_COLUMNS, config_id, work.ctx.org_id, "form", for_update=True
        )

    async def create(self, ctx: Context, cmd: CreateForm) -> tuple[dict[str, Any], str]:
        """The form, and its webhook path (the token in it is shown only now)."""
        require_admin(ctx)
        form = cmd.form
        if form.hmac_key is None and form.handshake_key is None:
            raise Invalid(
                "hmac_key", "a form needs an HMAC key, a handshake key, or both: deliveries must prove themselves"
            )
        mappings = _mappings(form.field_mappings)
        token = domain.new_token()
        try:
            async with self.uow.begin(ctx) as work:
                row = (
                    await work.session.execute(
                        sa.insert(configs)
                        .values(
                            id=uuid.uuid4(),
                            org_id=ctx.org_id,
                            form_id=form.form_id,
                            name=form.name,
                            token_digest=domain.digest(token),
                            hmac_key_encrypted=self.vault.seal(form.hmac_key) if form.hmac_key else None,
                            handshake_key_digest=domain.digest(form.handshake_key) if form.handshake_key else None,
                            signature_header=form.signature_header,
                            field_mappings=[{"field": m.field, "to": m.to} for m in mappings],
                            default_definition_id=form.default_definition_id,
                            is_active=form.is_active,
                        )
                        .returning(*CONFIG_COLUMNS)
                    )
                ).one()
        except IntegrityError as exc:
            if FORM_UNIQUE in str(exc.orig):
                raise Conflict("this organization already receives this form: edit it instead") from exc
            raise
        return public_form(row), f"/webhooks/formstack/{ctx.org_id}/{token}"

    async def update(self, ctx: Context, cmd: UpdateForm) -> dict[str, Any]:
        require_admin(ctx)
        sent = cmd.changes.model_dump(exclude_unset=True)
        values: dict[str, Any] = {}
        for name in ("name", "signature_header", "default_definition_id", "is_active"):
            if name in sent:
                if sent[name] is None and name != "default_definition_id":
                    raise Invalid(name, "may be left out, not null")
                values[name] = sent[name]
        if "field_mappings" in sent:
            if sent["field_mappings"] is None:
                raise Invalid("field_mappings", "may be left out, not null (send [] for the default labels)")
            values["field_mappings"] = [
                {"field": m.field, "to": m.to} for m in _mappings(cmd.changes.field_mappings or [])
            ]
        if "handshake_key" in sent:
            key = sent["handshake_key"]
            values["handshake_key_digest"] = domain.digest(key) if key else None
        async with self.uow.begin(ctx) as work:
            row = await self._locked(work, cmd.config_id)
            if (
                "handshake_key_digest" in values
                and values["handshake_key_digest"] is None
                and not row.hmac_key_encrypted
            ):
                raise Invalid("handshake_key", "the form has no HMAC key: it cannot do without its handshake key")
            if values:
                row = (
                    await work.session.execute(
                        sa.update(configs)
                        .where(configs.c.id == row.id, configs.c.org_id == ctx.org_id)
                        .values(**values, updated_at=sa.func.now())
                        .returning(*CONFIG_COLUMNS)
                    )
                ).one()
        return public_form(row)

    async def rotate_key(self, ctx: Context, cmd: RotateKey) -> dict[str, Any]:
        """The new key verifies at once; the current one keeps verifying for the grace period,
        so deliveries already signed with it (or a Formstack still using it) pass meanwhile."""
        require_admin(ctx)
        grace = timedelta(seconds=self.grace_seconds if cmd.grace_seconds is None else cmd.grace_seconds)
        async with self.uow.begin(ctx) as work:
            row = await self._locked(work, cmd.config_id)
            row = (
                await work.session.execute(
                    sa.update(configs)
                    .where(configs.c.id == row.id, configs.c.org_id == ctx.org_id)
                    .values(
                        hmac_key_encrypted=self.vault.seal(cmd.hmac_key),
                        previous_hmac_key_encrypted=row.hmac_key_encrypted,
                        previous_hmac_key_expires_at=datetime.now(UTC) + grace if row.hmac_key_encrypted else None,
                        updated_at=sa.func.now(),
                    )
                    .returning(*CONFIG_COLUMNS)
                )
            ).one()
        return public_form(row)

    async def try_mapping(self, ctx: Context, cmd: TryMapping) -> MappingResult:
        require_admin(ctx)
        async with self.uow.begin(ctx) as work:
            config = await row_in_org(work.session, configs, CONFIG_COLUMNS, cmd.config_id, ctx.org_id, "form")
            stored = await row_in_org(
                work.session, submissions, SUBMISSION_COLUMNS, cmd.submission, ctx.org_id, "submission"
            )
        if stored.config_id != config.id or stored.status == "rejected":
            raise Invalid("submission_id", "not a readable submission of this form")
        mappings = _mappings(cmd.field_mappings if cmd.field_mappings is not None else config.field_mappings)
        delivery = domain.parse(bytes(stored.raw_body), stored.content_type)
        outcome = map_delivery(delivery, mappings, config.default_definition_id)
        if outcome.event is None or outcome.mapped is None:
            return MappingResult(ok=False, error=outcome.error)
        return MappingResult(
            ok=True,
            applicant=outcome.event.applicant.model_dump(exclude_unset=True),
            variables=outcome.event.variables,
            unmapped=outcome.mapped.unmapped,
        )

    async def reprocess(self, ctx: Context, cmd: Reprocess) -> Any:
        """A failed submission, mapped again with its form's current mappings: it goes on (status
        received) or stays failed with the new reason. Any other status changes nothing."""
        require_admin(ctx)
        async with self.uow.begin(ctx) as work:
            stored = await row_in_org(
                work.session, submissions, SUBMISSION_COLUMNS, cmd.submission, ctx.org_id, "submission", for_update=True
            )
            if stored.status == "rejected":
                raise Conflict("a rejected delivery could not be read: there is nothing to process again")
            if stored.status != "failed":
                return stored
            config = await row_in_org(work.session, configs, CONFIG_COLUMNS, stored.config_id, ctx.org_id, "form")
            delivery = domain.parse(bytes(stored.raw_body), stored.content_type)
            outcome = map_delivery(delivery, _mappings(config.field_mappings), config.default_definition_id)
            if outcome.event is not None:
                await _emit(work, outcome.event)
            return (
                await work.session.execute(
                    sa.update(submissions)
                    .where(submissions.c.id == stored.id, submissions.c.org_id == ctx.org_id)
                    .values(
                        status="failed" if outcome.event is None else "received",
                        error=outcome.error,
                        payload=payload_of(delivery, outcome),
                        attempts=submissions.c.attempts + 1,
                        updated_at=sa.func.now(),
                    )
                    .returning(*SUBMISSION_COLUMNS)
                )
            ).one()

    async def case_opened(self, ctx: Context, cmd: RecordCaseOpened) -> bool:
        """From `execution.created`: the submission is processed. The first case reported wins
        (there is one per submission; a replayed event changes nothing)."""
        async with self.uow.begin(ctx) as work:
            updated = await work.session.scalar(
                sa.update(submissions)
                .where(
                    submissions.c.org_id == ctx.org_id,
                    submissions.c.submission_id == cmd.submission_id,
                    submissions.c.execution_id.is_(None),
                )
                .values(
                    status="processed",
                    error=None,
                    execution_id=cmd.execution_id,
                    contact_id=cmd.contact_id,
                    processed_at=sa.func.now(),
                    updated_at=sa.func.now(),
                )
                .returning(submissions.c.id)
            )
        return updated is not None


async def _emit(work: Work, event: SubmissionReceived) -> None:
    await work.emit(
        "submission.received",
        event.submission_id,
        event,
        event_id=domain.submission_event_id(work.ctx.org_id, event.submission_id),
    )


@dataclass
class WebhookHandlers:
    """The public side: one delivery at a time, trusted only once it proved itself."""

    uow: UnitOfWork
    vault: Vault
    _keys: dict[tuple[uuid.UUID, str, str | None], list[str]] = field(default_factory=dict)

    def _hmac_keys(self, config: Any) -> list[str]:
        """The keys a delivery may be signed with now: the current one, and the previous one
        during its grace period. Decrypted once per stored value, not per delivery."""
        now = datetime.now(UTC)
        previous = config.previous_hmac_key_encrypted
        if previous is not None and (
            config.previous_hmac_key_expires_at is None or config.previous_hmac_key_expires_at <= now
        ):
            previous = None
        cache_key = (config.id, config.hmac_key_encrypted or "", previous)
        keys = self._keys.get(cache_key)
        if keys is None:
            keys = [self.vault.open(sealed) for sealed in (config.hmac_key_encrypted, previous) if sealed]
            if len(self._keys) > 10_000:
                self._keys.clear()
            self._keys[cache_key] = keys
        return keys

    async def receive(self, ctx: Context, cmd: ReceiveDelivery) -> Accepted:
        """One transaction from the form's lookup to the stored row and its event: nothing is
        written for a delivery that does not prove itself; a signed one that cannot be read is
        kept as `rejected`, then refused."""
        refusal: Exception | None = None
        accepted: Accepted | None = None
        async with self.uow.begin(ctx) as work:
            config = (
                await work.session.execute(
                    sa.select(*CONFIG_COLUMNS).where(
                        configs.c.org_id == ctx.org_id,
                        configs.c.token_digest == domain.digest(cmd.token),
                        configs.c.is_active,
                    )
                )
            ).one_or_none()
            if config is None:
                raise NotFound("webhook")
            keys = self._hmac_keys(config)
            signed = bool(keys)
            if signed:
                try:
                    domain.verify_signature(cmd.headers.get(config.signature_header.lower()), cmd.body, keys)
                except domain.Unsigned as exc:
                    self._refused(ctx, config, str(exc))
                    raise
            try:
                delivery = self._read(cmd)
            except (TooLarge, UnsupportedMediaType, domain.Unparsable) as exc:
                if signed:  # kept for audit only when it provably came from Formstack
                    await self._reject(work, config, cmd, str(exc))
                refusal = exc
            else:
                if config.handshake_key_digest is not None and not (
                    delivery.handshake_key and domain.same_digest(delivery.handshake_key, config.handshake_key_digest)
                ):
                    reason = "missing HandshakeKey" if not delivery.handshake_key else "wrong HandshakeKey"
                    self._refused(ctx, config, reason)
                    raise domain.Unsigned(reason)
                if delivery.form_id != config.form_id:
                    reason = f"FormID {delivery.form_id} is not this webhook's form"
                    await self._reject(work, config, cmd, reason)
                    refusal = domain.Unparsable(reason)
                else:
                    accepted = await self._store(work, config, cmd, delivery)
        if refusal is not None:
            raise refusal
        assert accepted is not None
        return accepted

    @staticmethod
    def _read(cmd: ReceiveDelivery) -> domain.Delivery:
        if cmd.too_large:
            raise TooLarge(f"the body ({len(cmd.body)} bytes) is over the {cmd.max_bytes}-byte limit")
        kind = domain.media_type(cmd.content_type)
        if kind not in domain.ALLOWED_CONTENT_TYPES:
            raise UnsupportedMediaType(
                f"content type {kind or 'none'} is not accepted: {', '.join(domain.ALLOWED_CONTENT_TYPES)}"
            )
        return domain.parse(cmd.body, cmd.content_type)

    async def _store(self, work: Work, config: Any, cmd: ReceiveDelivery, delivery: domain.Delivery) -> Accepted:
        outcome = map_delivery(delivery, _mappings(config.field_mappings), config.default_definition_id)
        stored = await work.session.scalar(
            insert(submissions)
            .values(
                id=uuid.uuid4(),
                org_id=work.ctx.org_id,
                config_id=config.id,
                form_id=delivery.form_id,
                submission_id=delivery.submission_id,
                raw_body=cmd.body,
                content_type=cmd.content_type or "",
                payload=payload_of(delivery, outcome),
                status="received" if outcome.event is not None else "failed",
                error=outcome.error,
            )
            .on_conflict_do_nothing(constraint=SUBMISSION_UNIQUE)
            .returning(submissions.c.id)
        )
        if stored is None:
            return Accepted("duplicate", delivery.submission_id)
        if outcome.event is not None:
            await _emit(work, outcome.event)
        return Accepted("received" if outcome.event is not None else "failed", delivery.submission_id)

    def _refused(self, ctx: Context, config: Any, reason: str) -> None:
        # A security signal, not an error of ours; the platform's repeat filter keeps a flood of
        # forgeries to a few lines and a count.
        log.warning("formstack delivery refused: %s (org %s, form %s)", reason, ctx.org_id, config.form_id)

    async def _reject(self, work: Work, config: Any, cmd: ReceiveDelivery, reason: str) -> None:
        await work.session.execute(
            sa.insert(submissions).values(
                id=uuid.uuid4(),
                org_id=work.ctx.org_id,
                config_id=config.id,
                form_id=config.form_id,
                submission_id=None,
                raw_body=cmd.body[: cmd.max_bytes],
                raw_truncated=cmd.too_large,
                content_type=cmd.content_type or "",
                status="rejected",
                error=reason,
            )
        )

"""Formstack rules, free of I/O: what a delivery's body says, whether its signature holds, and
what a form's field mappings make of it.

A delivery is verified on its raw bytes before anything reads them; parsing and mapping are pure
functions the webhook, the mapping test and reprocessing share.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from byte_contracts.errors import Invalid

FORM_URLENCODED = "application/x-www-form-urlencoded"
JSON = "application/json"
ALLOWED_CONTENT_TYPES = (FORM_URLENCODED, JSON)
DEFAULT_SIGNATURE_HEADER = "X-FS-Signature"
SIGNATURE_PREFIX = "sha256="

# Keys Formstack adds to every delivery; they are about the delivery, not the applicant.
SUBMISSION_ID_KEY = "UniqueID"
FORM_ID_KEY = "FormID"
HANDSHAKE_KEY = "HandshakeKey"
ENVELOPE_KEYS = frozenset({SUBMISSION_ID_KEY, FORM_ID_KEY, HANDSHAKE_KEY})

# One idempotency namespace for the events of a submission: the same submission always gets the
# same `submission.received` id, so even a second emission would be a duplicate consumers drop.
EVENT_NAMESPACE = uuid.UUID("6f3a1a52-2f0e-4d59-9a4b-6d0c0c6f1b1e")


class Unparsable(Exception):
    """The body is not what its content type says (or not UTF-8)."""


class Unsigned(Exception):
    """The delivery does not prove it comes from Formstack: no, or a wrong, signature or key."""


Value = str | list[str] | dict[str, str]


# ---------------------------------------------------------------------------------------------
# Secrets
# ---------------------------------------------------------------------------------------------


def new_token() -> str:
    """The random part of a form's webhook URL: 32 bytes, so the URL cannot be guessed."""
    return secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    """What is stored of a secret that is only ever compared (a URL token, a handshake key)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def same_digest(given: str, stored_digest: str) -> bool:
    return hmac.compare_digest(digest(given), stored_digest)


def signature(key: str, body: bytes) -> str:
    """`sha256=<hex>`: the HMAC-SHA256 of the raw body, as Formstack sends it."""
    return SIGNATURE_PREFIX + hmac.new(key.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(header_value: str | None, body: bytes, keys: list[str]) -> None:
    """Raises Unsigned unless `header_value` is the signature of `body` under one of `keys`
    (the current key and, during a rotation's grace period, the previous one). Every key is
    compared in constant time."""
    if not header_value:
        raise Unsigned("missing signature header")
    given = header_value.strip()
    if not given.lower().startswith(SIGNATURE_PREFIX):
        raise Unsigned("signature is not sha256=<hex>")
    given = SIGNATURE_PREFIX + given[len(SIGNATURE_PREFIX) :].lower()
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(signature(key, body), given)
    if not matched:
        raise Unsigned("signature does not match")


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def charset_of(content_type: str | None) -> str | None:
    for part in (content_type or "").split(";")[1:]:
        name, _, value = part.partition("=")
        if name.strip().lower() == "charset":
            return value.strip().strip('"').lower()
    return None


# ---------------------------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------------------------

_SUB_KEY = re.compile(r"^(?P<field>.+?)\s*\((?P<sub>[^()]+)\)$")
_SUB_LINE = re.compile(r"^\s*(?P<label>[A-Za-z0-9_ ]+?)\s*=\s?(?P<value>.*)$")
_NUMBER_KEY = re.compile(r"^field_?(\d+)$")


@dataclass(frozen=True)
class Delivery:
    """What a delivery says: the submission id, the form id, the handshake key (when the form
    sends one) and the fields, keyed as they came (field ids, names or API-friendly keys)."""

    submission_id: str
    form_id: str
    handshake_key: str | None
    fields: dict[str, Value]


def parse(body: bytes, content_type: str | None) -> Delivery:
    """form-urlencoded or JSON, UTF-8. Repeated keys (checkbox lists) become lists; sub-fields,
    sent as `first = John\\nlast = Smith` lines or as `Name (First)` keys, become
    `{"first": "John", "last": "Smith"}`."""
    kind = media_type(content_type)
    charset = charset_of(content_type)
    if charset not in (None, "utf-8", "utf8"):
        raise Unparsable(f"charset {charset} is not accepted: send UTF-8")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Unparsable(f"the body is not UTF-8 ({exc.reason} at byte {exc.start})") from None
    if "\x00" in text:
        raise Unparsable("the body contains a NUL character")
    raw: dict[str, Any] = {}
    if kind == FORM_URLENCODED:
        try:
            pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text), errors="strict")
        except (ValueError, UnicodeDecodeError) as exc:
            raise Unparsable(f"not form-urlencoded: {exc}") from None
        for key, value in pairs:
            if key.endswith("[]"):
                key = key[:-2]
            if key in raw:
                previous = raw[key]
                raw[key] = [*previous, value] if isinstance(previous, list) else [previous, value]
            else:
                raw[key] = value
    elif kind == JSON:
        try:
            document = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise Unparsable(f"not JSON: {exc}") from None
        if not isinstance(document, dict):
            raise Unparsable("the JSON body is not an object")
        raw = document
    else:
        raise Unparsable(f"content type {kind or 'none'} is not accepted")

    envelope = {key: _scalar(raw.get(key)) for key in ENVELOPE_KEYS}
    submission_id, form_id = envelope[SUBMISSION_ID_KEY], envelope[FORM_ID_KEY]
    if not submission_id:
        raise Unparsable(f"no {SUBMISSION_ID_KEY}")
    if not form_id:
        raise Unparsable(f"no {FORM_ID_KEY}")
    if len(submission_id) > 200 or len(form_id) > 200:
        raise Unparsable(f"{SUBMISSION_ID_KEY} or {FORM_ID_KEY} is too long")
    fields: dict[str, Value] = {}
    for key, value in raw.items():
        if key in ENVELOPE_KEYS:
            continue
        fields[str(key)] = _value(value)
    return Delivery(submission_id, form_id, envelope[HANDSHAKE_KEY] or None, _grouped(fields))


def _scalar(value: Any) -> str:
    if isinstance(value, list):
        value = value[0] if value else ""
    if value is None or isinstance(value, dict):
        return ""
    return str(value).strip()


def _value(value: Any) -> Value:
    if isinstance(value, dict):
        return {str(k).strip().lower(): _text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_text(v) for v in value]
    text = _text(value)
    return _sub_fields(text) or text


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _sub_fields(text: str) -> dict[str, str] | None:
    """`first = John\\nlast = Smith` -> {"first": "John", "last": "Smith"}; None when the value
    is not made of such lines (a plain text answer that happens to hold a newline)."""
    lines = [line for line in text.replace("\r\n", "\n").split("\n") if line.strip()]
    if not lines or "=" not in text:
        return None
    out: dict[str, str] = {}
    for line in lines:
        match = _SUB_LINE.match(line)
        if match is None:
            return None
        out[match["label"].strip().lower().replace(" ", "_")] = match["value"].strip()
    return out


def _grouped(fields: dict[str, Value]) -> dict[str, Value]:
    """`Name (First)` and `Name (Last)` become one field `Name` with sub-fields, the way the
    one-value form of the same field reads."""
    out: dict[str, Value] = {}
    for key, value in fields.items():
        match = _SUB_KEY.match(key)
        if match is None or not isinstance(value, str):
            out.setdefault(key, value)
            continue
        parent = match["field"].strip()
        group = out.get(parent)
        if not isinstance(group, dict):
            group = {}
            out[parent] = group
        group[match["sub"].strip().lower().replace(" ", "_")] = value
    return out


# ---------------------------------------------------------------------------------------------
# Mapping
# ---------------------------------------------------------------------------------------------

CONTACT_FIELDS = frozenset(
    {
        "first_name",
        "last_name",
        "email",
        "phone",
        "company",
        "address_line_1",
        "address_line_2",
        "city",
        "state",
        "zip",
    }
)
# Compound targets: a name or an address field, whole.
COMPOUND_TARGETS = frozenset({"name", "address"})
TARGET_RULE = (
    "contact.<first_name|last_name|email|phone|company|address_line_1|address_line_2|city|state|zip|name|address>, "
    "variable.<name> or metadata.<name>"
)
# Without mappings, a form whose labels say what they are still maps (Name, Email, Phone, ...).
DEFAULT_TARGETS = {
    "name": "contact.name",
    "full name": "contact.name",
    "first name": "contact.first_name",
    "last name": "contact.last_name",
    "email": "contact.email",
    "email address": "contact.email",
    "phone": "contact.phone",
    "phone number": "contact.phone",
    "address": "contact.address",
    "company": "contact.company",
}
_ADDRESS_PARTS = {
    "address": "address_line_1",
    "address1": "address_line_1",
    "address_1": "address_line_1",
    "street": "address_line_1",
    "address2": "address_line_2",
    "address_2": "address_line_2",
    "city": "city",
    "state": "state",
    "zip": "zip",
    "postal_code": "zip",
    "zip_code": "zip",
}


@dataclass(frozen=True)
class FieldMapping:
    field: str
    """The key as the form sends it: a field id, a field name or an API-friendly key."""
    to: str
    """A target (TARGET_RULE)."""


def check_target(target: str, where: str) -> None:
    kind, _, name = target.partition(".")
    if kind == "contact" and (name in CONTACT_FIELDS or name in COMPOUND_TARGETS):
        return
    if kind in ("variable", "metadata") and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,63}", name):
        return
    raise Invalid(where, f"{target!r} is not a target: one of {TARGET_RULE}")


@dataclass
class Mapped:
    """What the mappings made of a delivery: the applicant's contact fields, case variables,
    contact metadata, and every field no mapping named (kept, never dropped)."""

    applicant: dict[str, Any] = field(default_factory=dict)
    variables: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    unmapped: dict[str, Value] = field(default_factory=dict)


def _lookup(fields: dict[str, Value], key: str) -> tuple[str, Value] | None:
    """A field by its exact key, then case-insensitively, then a field id given as `field_123`."""
    if key in fields:
        return key, fields[key]
    folded = key.strip().lower()
    for name, value in fields.items():
        if name.strip().lower() == folded:
            return name, value
    number = _NUMBER_KEY.match(folded)
    if number and number[1] in fields:
        return number[1], fields[number[1]]
    return None


def _flat(value: Value) -> str:
    if isinstance(value, dict):
        return " ".join(v for v in value.values() if v).strip()
    if isinstance(value, list):
        return ", ".join(v for v in value if v).strip()
    return value.strip()


def _name_parts(value: Value) -> dict[str, str]:
    if isinstance(value, dict):
        first = value.get("first") or value.get("first_name") or ""
        last = value.get("last") or value.get("last_name") or ""
        return {"first_name": first.strip(), "last_name": last.strip()}
    text = _flat(value)
    first, _, last = text.rpartition(" ") if " " in text else (text, "", "")
    return {"first_name": first.strip(), "last_name": last.strip()}


def _address_parts(value: Value) -> dict[str, str]:
    if isinstance(value, dict):
        return {_ADDRESS_PARTS[k]: v.strip() for k, v in value.items() if k in _ADDRESS_PARTS and v.strip()}
    text = _flat(value)
    return {"address_line_1": text} if text else {}


def map_fields(fields: dict[str, Value], mappings: list[FieldMapping]) -> Mapped:
    """Applies the form's mappings (or, with none, the default labels). Blank answers set
    nothing. Raises Invalid when the result names no one: no email and no name."""
    if not mappings:
        mappings = [
            FieldMapping(name, DEFAULT_TARGETS[name.strip().lower()])
            for name in fields
            if name.strip().lower() in DEFAULT_TARGETS
        ]
    out = Mapped()
    used: set[str] = set()
    for mapping in mappings:
        found = _lookup(fields, mapping.field)
        if found is None:
            continue
        key, value = found
        used.add(key)
        kind, _, name = mapping.to.partition(".")
        if kind == "contact":
            if name == "name":
                parts = _name_parts(value)
            elif name == "address":
                parts = _address_parts(value)
            else:
                parts = {name: _flat(value)}
            out.applicant.update({k: v for k, v in parts.items() if v})
        elif kind == "variable":
            out.variables[name] = value if isinstance(value, list) else _flat(value)
        elif kind == "metadata":
            out.metadata[name] = value
    out.unmapped = {k: v for k, v in fields.items() if k not in used}
    if not out.applicant.get("email") and not (out.applicant.get("first_name") or out.applicant.get("last_name")):
        raise Invalid("applicant", "the submission names no one: the mappings produced neither an email nor a name")
    if not out.applicant.get("first_name"):
        # contacts needs a first name; a submission with only a last name or only an email
        # still names someone
        out.applicant["first_name"] = out.applicant.pop("last_name", "") or out.applicant["email"].split("@", 1)[0]
    if out.metadata:
        out.applicant["metadata"] = out.metadata
    return out


def submission_event_id(org_id: str, submission_id: str) -> uuid.UUID:
    return uuid.uuid5(EVENT_NAMESPACE, f"{org_id}/{submission_id}")

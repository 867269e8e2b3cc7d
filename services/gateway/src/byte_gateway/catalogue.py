"""The event catalogue: `/asyncapi.json` (the AsyncAPI document of every topic and event type,
built by `byte_contracts.asyncapi`) and `/asyncapi`, the same rendered as a page.

Public like `/openapi.json`: it describes shapes, never data, and teams read it before they hold a
session. The page is rendered here, from the document, so it works offline and under a CSP that
allows no script and no remote style (AsyncAPI's own viewer loads from a CDN)."""

from __future__ import annotations

import base64
import hashlib
import json
from functools import cache
from html import escape
from typing import Any

from byte_contracts.asyncapi import document
from fastapi import APIRouter
from fastapi.responses import HTMLResponse, JSONResponse

router = APIRouter()

STYLE = """
body{font:15px/1.45 system-ui,sans-serif;max-width:72rem;margin:2rem auto;padding:0 1rem;color:#1d2330}
code,td.t{font-family:ui-monospace,monospace;font-size:13px}
h2{border-bottom:2px solid #d6dae3;padding-bottom:.2rem;margin-top:2.5rem}
h3{margin-bottom:.3rem}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1rem}
th,td{border:1px solid #d6dae3;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f2f4f8}
.req{color:#a23}
nav a{margin-right:.8rem}
""".strip()
_STYLE_HASH = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
# the page's only resource is its own inline style; everything else stays forbidden
PAGE_CSP = f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; frame-ancestors 'none'"

SCHEMAS_PREFIX = "#/components/schemas/"


@cache
def _document() -> dict[str, Any]:
    return document()


@cache
def _page() -> str:
    return render(_document())


@router.get("/asyncapi.json", include_in_schema=False)
async def asyncapi_json() -> JSONResponse:
    return JSONResponse(_document())


@router.get("/asyncapi", include_in_schema=False)
async def asyncapi_page() -> HTMLResponse:
    return HTMLResponse(_page(), headers={"Content-Security-Policy": PAGE_CSP})


def _anchor(name: str) -> str:
    return "schema-" + "".join(c if c.isalnum() or c in "._-" else "-" for c in name)


def _type_of(schema: dict[str, Any]) -> str:
    """A one-line type: `string (uuid)`, `TaskSnapshot` (a link), `array of string`, `a | null`."""
    if ref := schema.get("$ref"):
        name = ref.removeprefix(SCHEMAS_PREFIX)
        return f'<a href="#{_anchor(name)}">{escape(name)}</a>'
    if "const" in schema:
        return f"<code>{escape(json.dumps(schema['const']))}</code>"
    if "enum" in schema:
        return "one of " + ", ".join(f"<code>{escape(json.dumps(v))}</code>" for v in schema["enum"])
    for combinator in ("anyOf", "oneOf", "allOf"):
        if combinator in schema:
            joiner = " &amp; " if combinator == "allOf" else " | "
            return joiner.join(_type_of(s) for s in schema[combinator])
    kind = schema.get("type", "any")
    if kind == "array":
        return "array of " + _type_of(schema.get("items", {}))
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        return "object of " + _type_of(schema["additionalProperties"])
    return escape(str(kind)) + (f" ({escape(schema['format'])})" if "format" in schema else "")


def _schema_table(schema: dict[str, Any]) -> str:
    properties: dict[str, Any] = schema.get("properties", {})
    if not properties:
        return f"<p>{_type_of(schema)}</p>"
    required = set(schema.get("required", []))
    rows = "".join(
        f"<tr><td class=t>{escape(name)}{' <span class=req>*</span>' if name in required else ''}</td>"
        f"<td>{_type_of(prop)}</td><td>{escape(prop.get('description', ''))}</td></tr>"
        for name, prop in properties.items()
    )
    return f"<table><tr><th>field</th><th>type</th><th>description</th></tr>{rows}</table>"


def render(doc: dict[str, Any]) -> str:
    """The document as one self-contained HTML page: channels, their messages, every schema."""
    info = doc["info"]
    messages = doc["components"]["messages"]
    schemas = doc["components"]["schemas"]
    out = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        f"<title>{escape(info['title'])}</title><style>{STYLE}</style></head><body>",
        f"<h1>{escape(info['title'])}</h1><p>{escape(info['description'])}</p>",
        '<p>The document: <a href="/asyncapi.json">/asyncapi.json</a> (AsyncAPI '
        f"{escape(doc['asyncapi'])}). <span class=req>*</span> required.</p>",
        "<nav>" + "".join(f'<a href="#channel-{escape(c)}">{escape(c)}</a>' for c in doc["channels"]) + "</nav>",
    ]
    for name, channel in doc["channels"].items():
        out.append(f"<h2 id=channel-{escape(name)}>{escape(channel['address'])}</h2>")
        out.append(f"<p>{escape(channel.get('description', ''))}</p>")
        rows = []
        for message_name in channel["messages"]:
            message = messages[message_name]
            payload = message["payload"]["$ref"].removeprefix(SCHEMAS_PREFIX)
            rows.append(
                f"<tr><td class=t>{escape(message['title'])}</td><td>{message['x-event-version']}</td>"
                f'<td><a href="#{_anchor(payload)}">envelope</a></td>'
                f"<td>{escape(message.get('summary', ''))}</td></tr>"
            )
        out.append(
            "<table><tr><th>event type</th><th>version</th><th>payload</th><th>about</th></tr>"
            + "".join(rows)
            + "</table>"
        )
    out.append("<h2 id=schemas>Schemas</h2>")
    for name, schema in schemas.items():
        out.append(f"<h3 id={_anchor(name)}>{escape(name)}</h3>")
        if description := schema.get("description"):
            out.append(f"<p>{escape(description)}</p>")
        out.append(_schema_table(schema))
    out.append("</body></html>")
    return "\n".join(out)

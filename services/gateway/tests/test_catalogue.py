"""The gateway serves the event catalogue without a session: the AsyncAPI document and a page
rendered from it that needs nothing from elsewhere (no script, no remote style)."""

import base64
import hashlib
import re

import pytest
from byte_contracts import EVENTS, topics
from byte_contracts.asyncapi import document
from byte_gateway.main import create_app
from byte_gateway.settings import GatewaySettings
from byte_testing.inprocess import IdentityKeys, asgi_client, offline


@pytest.fixture(scope="module")
def app(clerk_issuer):
    return create_app(
        GatewaySettings(
            **offline(
                identity_private_key=IdentityKeys.generate().private_pem,
                clerk_jwt_key=clerk_issuer.public_pem,
                clerk_issuer=clerk_issuer.issuer,
                service_urls_json={},
            )
        )
    )


async def test_the_document_is_public_and_is_the_contracts(app):
    async with asgi_client(app) as anyone:
        r = await anyone.get("/asyncapi.json")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    assert r.json() == document()


async def test_the_page_lists_every_topic_and_event_type_and_loads_nothing(app):
    async with asgi_client(app) as anyone:
        r = await anyone.get("/asyncapi")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    page = r.text
    for topic in topics.ALL:
        assert f"<h2 id=channel-{topic}>{topic}</h2>" in page
    for event_type, spec in EVENTS.items():
        assert f"<td class=t>{event_type}</td>" in page
        assert f">{spec.payload.__name__}</h3>" in page
    assert "<script" not in page and not re.search(r"""(src|href)=["']?(https?:)?//""", page)
    csp = r.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "unsafe-inline" not in csp and "script-src" not in csp
    # the one inline style is allowed by its hash, so a browser applies exactly it
    (style,) = re.findall(r"<style>(.*?)</style>", page, re.DOTALL)
    assert f"'sha256-{base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()}'" in csp

"""Forwarding to the contacts service: identity minted per request, nothing smuggled, request ids
propagated, errors as problem+json, a dead upstream a quick 503, streaming, merged docs, CORS
and security headers."""

import json
import time
import uuid

import httpx
import pytest
from byte_platform.identity import HEADER
from byte_testing.http import assert_problem, metric_value
from byte_testing.processes import free_port


async def test_create_read_update_delete_through_the_gateway(client):
    async with client() as c:
        r = await c.post("/v1/contacts", json={"first_name": "Ada", "email": "ada@example.com"})
        assert r.status_code == 201, r.text
        contact = r.json()
        assert r.headers["location"] == f"/v1/contacts/{contact['id']}"
        assert (await c.get(f"/v1/contacts/{contact['id']}")).json()["email"] == "ada@example.com"
        r = await c.patch(f"/v1/contacts/{contact['id']}", json={"last_name": "Lovelace"})
        assert r.status_code == 200 and r.json()["last_name"] == "Lovelace"
        r = await c.post("/v1/contacts/upsert", json={"first_name": "Ada", "email": "ADA@example.com", "tags": ["x"]})
        assert r.status_code == 200 and r.json()["created"] is False
        assert (await c.delete(f"/v1/contacts/{contact['id']}")).status_code == 204
        assert_problem(await c.get(f"/v1/contacts/{contact['id']}"), 404)


async def test_upstream_problems_pass_through(client):
    async with client() as c:
        body = assert_problem(await c.post("/v1/contacts", json={"last_name": "no first name"}), 422)
        assert body["errors"][0]["field"] == "first_name"
        assert_problem(await c.get(f"/v1/contacts/{uuid.uuid4()}"), 404)
        assert_problem(await c.get("/v1/contacts", params={"cursor": "garbage"}), 400)
        assert_problem(await c.get("/v1/contactsX"), 404)
        assert_problem(await c.get("/v1/nothing-here"), 404)


async def test_forwarded_requests_are_counted_under_the_forwarding_route(gateway, client):
    # the series the instrumentator wrote: one handler label for every forwarded path
    async def forwarded(status: str) -> float:
        async with httpx.AsyncClient(base_url=gateway.url) as raw:
            page = (await raw.get("/metrics")).text
        return metric_value(page, "http_requests_total", handler="/v1/{rest:path}", method="GET", status=status)

    ok, missing = await forwarded("2xx"), await forwarded("4xx")
    async with client() as c:
        assert (await c.get("/v1/contacts", params={"limit": 1})).status_code == 200
        assert_problem(await c.get(f"/v1/contacts/{uuid.uuid4()}"), 404)
        assert_problem(await c.get("/v1/nothing-here"), 404)  # no service's path: FastAPI's route answers
    assert await forwarded("2xx") == ok + 1
    assert await forwarded("4xx") == missing + 2


@pytest.mark.parametrize(
    "path",
    [
        "/v1/contacts/%00",
        "/v1/contacts/K%0C",
        "/v1/contacts/a%20b",
        "/v1/contacts/%C3%A9%00",
        "/v1/contacts/%zz",
        "/v1/contacts/%FF%FE",
        "/v1/contacts/%00/x",
        "/v1/contacts/a%2Fb",
        "/v1/contacts?q=a%20b&status=%0C",
    ],
)
async def test_encoded_characters_reach_the_service_and_come_back_as_its_problem(gateway, client, path):
    url = httpx.URL(gateway.url).copy_with(raw_path=path.encode())
    async with client() as c:
        r = await c.get(url)
    assert r.status_code in (404, 422), r.text  # the service's verdict on a bad id, never a 500
    assert_problem(r, r.status_code)


async def test_a_method_a_path_does_not_serve_is_405_with_allow(gateway, client):
    async with client() as c:
        r = await c.request("TRACE", "/v1/users")
        assert_problem(r, 405)
        assert r.headers["allow"] == "GET"
        r = await c.put("/v1/contacts", json={})  # answered by the contacts service
        assert_problem(r, 405)
        assert r.headers["allow"] == "GET, POST"
        r = await c.options(f"/v1/contacts/{uuid.uuid4()}")
        assert r.headers["allow"] == "DELETE, GET, PATCH"  # every route of the path, not the first
    async with httpx.AsyncClient(base_url=gateway.url) as c:
        r = await c.get("/webhooks/clerk")
        assert_problem(r, 405)
        assert r.headers["allow"] == "POST"


async def test_request_id_is_propagated_and_echoed(client):
    async with client() as c:
        r = await c.get("/v1/contacts", headers={"X-Request-ID": "req-gateway-test-1"})
        assert r.status_code == 200
        assert r.headers.get_list("x-request-id") == ["req-gateway-test-1"]
        r = await c.get("/v1/contacts")
        assert len(r.headers["x-request-id"]) >= 16  # made one up


async def test_events_carry_the_request_id(client, event_tap, org_id):
    async with event_tap("contacts") as tap, client() as c:
        r = await c.post("/v1/contacts", json={"first_name": "Corr"}, headers={"X-Request-ID": "req-corr-42"})
        assert r.status_code == 201
        found = await tap.collect(lambda e: e.org_id == org_id, count=1)
    assert found[0][0].correlation_id == "req-corr-42"
    assert found[0][0].actor == "user_test"


async def test_a_caller_cannot_smuggle_identity_or_org(client, make_token, org_id):
    other_org = f"org_{uuid.uuid4().hex[:12]}"
    async with client(org=other_org) as victim:
        victim_contact = (await victim.post("/v1/contacts", json={"first_name": "Victim"})).json()
    forged = make_token(other_org, user_id="user_forger", roles=("owner",))  # a valid internal identity, even
    async with client(role="guest") as c:
        headers = {HEADER: forged, "X-Org-Id": other_org, "X-Byte-Org": other_org, "X-Clerk-Org-Id": other_org}
        r = await c.get("/v1/contacts", params={"org_id": other_org, "org": other_org}, headers=headers)
        assert r.status_code == 200 and r.json()["items"] == []
        assert_problem(await c.get(f"/v1/contacts/{victim_contact['id']}", headers=headers), 404)
        # a guest stays a guest whatever it forwards
        assert_problem(await c.post("/v1/contacts", json={"first_name": "x"}, headers=headers), 403)
    async with client() as c:
        r = await c.post("/v1/contacts", json={"first_name": "Mine", "org_id": other_org})
        assert_problem(r, 422)  # services forbid unknown fields: no org through a body
    async with client(org=other_org) as victim:
        names = [x["first_name"] for x in (await victim.get("/v1/contacts")).json()["items"]]
        assert names == ["Victim"]


async def test_cross_org_access_on_every_contacts_endpoint(client, org_id):
    other_org = f"org_{uuid.uuid4().hex[:12]}"
    async with client(org=other_org) as owner:
        theirs = (await owner.post("/v1/contacts", json={"first_name": "Theirs", "email": "t@example.com"})).json()
    cid = theirs["id"]
    async with client() as intruder:
        assert_problem(await intruder.get(f"/v1/contacts/{cid}"), 404)
        assert_problem(await intruder.patch(f"/v1/contacts/{cid}", json={"first_name": "Hacked"}), 404)
        assert_problem(await intruder.delete(f"/v1/contacts/{cid}"), 404)
        assert (await intruder.get("/v1/contacts")).json()["items"] == []
        assert (await intruder.get("/v1/contacts", params={"q": "theirs"})).json()["items"] == []
        assert "Theirs" not in (await intruder.get("/v1/contacts/export")).text
        # an upsert on their email makes a contact in the intruder's org, not a match in theirs
        r = await intruder.post("/v1/contacts/upsert", json={"first_name": "Mine", "email": "t@example.com"})
        assert r.status_code == 201 and r.json()["created"] is True
    async with client(org=other_org) as owner:
        again = (await owner.get(f"/v1/contacts/{cid}")).json()
        assert again == theirs  # nothing changed
        assert len((await owner.get("/v1/contacts")).json()["items"]) == 1


async def test_csv_export_streams_through(client):
    async with client() as c:
        for i in range(30):
            assert (
                await c.post("/v1/contacts", json={"first_name": f"P{i}", "email": f"p{i}@example.com"})
            ).status_code == 201
        async with c.stream("GET", "/v1/contacts/export") as r:
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("text/csv")
            assert r.headers["content-disposition"] == 'attachment; filename="contacts.csv"'
            assert "content-length" not in r.headers  # streamed, not buffered
            text = "".join([chunk async for chunk in r.aiter_text()])
    lines = text.strip().splitlines()
    assert lines[0].startswith("id,") and len(lines) == 32 and lines[-1] == "# rows=30 complete"


async def test_a_dead_upstream_is_a_quick_503(start_gateway, clerk_issuer, org_id):
    dead = start_gateway(SERVICE_URLS_JSON=json.dumps({"contacts": f"http://127.0.0.1:{free_port()}"}))
    token = clerk_issuer.token(org_id)
    async with httpx.AsyncClient(base_url=dead.url, headers={"Authorization": f"Bearer {token}"}) as c:
        t0 = time.monotonic()
        r = await c.get("/v1/contacts")
        assert time.monotonic() - t0 < 2
        assert_problem(r, 503, contains="contacts")
        assert int(r.headers["retry-after"]) > 0
        # a known route whose service is not deployed behind this gateway: 503 too
        r = await c.get("/v1/tasks")
        assert_problem(r, 503, contains="tasks")
        # the gateway itself stays ready, and the docs still answer without the service
        assert (await c.get("/readyz")).status_code == 200
        doc = (await c.get("/openapi.json")).json()
        assert doc["info"]["x-unavailable-services"] == ["contacts"]


async def test_merged_openapi_and_docs(gateway):
    async with httpx.AsyncClient(base_url=gateway.url) as c:
        r = await c.get("/openapi.json")
        assert r.status_code == 200
        doc = r.json()
        paths = set(doc["paths"])
        assert {
            "/v1/contacts",
            "/v1/contacts/{contact_id}",
            "/v1/contacts/export",
            "/v1/contacts/upsert",
            "/v1/users",
            "/webhooks/clerk",
        } <= paths
        assert not any(p in paths for p in ("/healthz", "/readyz", "/metrics"))
        assert {"ContactPublic", "ContactPage", "UserPage", "Problem"} <= set(doc["components"]["schemas"])
        for path, item in doc["paths"].items():
            for method, op in item.items():
                errors = {s: r for s, r in op["responses"].items() if s[0] in "45"}
                assert all(list(r["content"]) == ["application/problem+json"] for r in errors.values()), (path, method)
                if path.startswith("/v1/contacts"):  # what the gateway answers in front of the service
                    assert {"401", "403", "422", "429", "502", "503", "504"} <= set(errors), (path, method)
        assert {"400", "401", "403", "422", "429"} <= set(doc["paths"]["/v1/users"]["get"]["responses"])
        assert {"400", "413"} <= set(doc["paths"]["/webhooks/clerk"]["post"]["responses"])
        refs = json.dumps(doc).count('"$ref": "#/components/schemas/')
        assert refs > 0
        for name in json.dumps(doc).split('"$ref": "#/components/schemas/')[1:]:
            assert name.split('"')[0] in doc["components"]["schemas"]
        assert doc["components"]["securitySchemes"]["clerkSession"]["scheme"] == "bearer"
        assert doc["paths"]["/webhooks/clerk"]["post"]["security"] == []
        docs = await c.get("/docs")
        assert docs.status_code == 200 and "/openapi.json" in docs.text


async def test_cors_preflight_and_security_headers(gateway, client):
    async with httpx.AsyncClient(base_url=gateway.url) as c:
        r = await c.options(
            "/v1/contacts",
            headers={
                "Origin": "https://app.byte.test",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization,content-type",
            },
        )
        assert r.status_code == 200
        assert r.headers["access-control-allow-origin"] == "https://app.byte.test"
        assert r.headers["access-control-allow-credentials"] == "true"
        r = await c.options(
            "/v1/contacts", headers={"Origin": "https://evil.test", "Access-Control-Request-Method": "POST"}
        )
        assert "access-control-allow-origin" not in r.headers
    async with client(Origin="https://app.byte.test") as c:
        r = await c.get("/v1/contacts")
        assert r.headers["access-control-allow-origin"] == "https://app.byte.test"
        assert "x-request-id" in r.headers["access-control-expose-headers"].lower()
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["content-security-policy"].startswith("default-src 'none'")
        assert "max-age" in r.headers["strict-transport-security"]
        # on errors too
        r = await c.get("/v1/contacts/not-a-uuid")
        assert r.status_code == 404 and r.headers["x-content-type-options"] == "nosniff"


async def test_a_brand_new_org_works_before_any_webhook(client):
    """No webhook has told the gateway about this org or user: the token is enough."""
    fresh = f"org_{uuid.uuid4().hex[:12]}"
    async with client(org=fresh, user=f"user_{uuid.uuid4().hex[:8]}", role="member") as c:
        assert (await c.get("/v1/contacts")).status_code == 200
        assert (await c.post("/v1/contacts", json={"first_name": "First"})).status_code == 201
        assert (await c.get("/v1/users")).json() == {"items": [], "next_cursor": None}


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics"])
async def test_health_needs_no_token(gateway, path):
    async with httpx.AsyncClient(base_url=gateway.url) as c:
        assert (await c.get(path)).status_code == 200

"""A service whose database is down answers 503 with Retry-After; the gateway passes both on."""

import json

import httpx
from byte_testing.http import assert_problem


async def test_an_upstream_database_outage_reaches_the_caller_as_503_with_retry_after(
    own_postgres, start_service, start_gateway, clerk_issuer, org_id
):
    pg = own_postgres()
    # no consumers: the shared `ingest` topic's history belongs to other tests
    contacts = start_service("contacts", database_url=pg.provision("contacts"), consumers_enabled="false")
    gateway = start_gateway(SERVICE_URLS_JSON=json.dumps({"contacts": contacts.url}))
    token = clerk_issuer.token(org_id)
    try:
        async with httpx.AsyncClient(
            base_url=gateway.url, headers={"Authorization": f"Bearer {token}"}, timeout=30
        ) as api:
            assert (await api.post("/v1/contacts", json={"first_name": "Up"})).status_code == 201
            pg.stop()
            for attempt in (api.get("/v1/contacts"), api.post("/v1/contacts", json={"first_name": "Down"})):
                r = await attempt
                body = assert_problem(r, 503)
                assert int(r.headers["retry-after"]) == body["retry_after"] > 0
                assert "dependency" in body["detail"]  # the service's answer, not the gateway's own
            pg.start()
            assert [c["first_name"] for c in (await api.get("/v1/contacts")).json()["items"]] == ["Up"]
    finally:
        gateway.stop()
        contacts.stop()

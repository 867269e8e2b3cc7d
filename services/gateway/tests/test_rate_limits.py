"""Per-user and per-org limits: 429 problem+json with Retry-After."""

import uuid

import httpx
import pytest
from byte_testing.http import assert_problem


@pytest.fixture(scope="module")
def limited(start_gateway):
    return start_gateway(RATE_LIMIT_PER_USER="5/minute", RATE_LIMIT_PER_ORG="8/minute")


def _client(gw, issuer, org, user):
    return httpx.AsyncClient(base_url=gw.url, headers={"Authorization": f"Bearer {issuer.token(org, user)}"})


async def test_per_user_limit(limited, clerk_issuer, org_id):
    async with _client(limited, clerk_issuer, org_id, "user_a") as c:
        for _ in range(5):
            assert (await c.get("/v1/contacts")).status_code == 200
        r = await c.get("/v1/users")  # every route counts, the gateway's own too
        body = assert_problem(r, 429)
        assert body["scope"] == "user"
        assert 0 < int(r.headers["retry-after"]) <= 60
        assert body["retry_after"] == int(r.headers["retry-after"])
    # another user of the same org still passes
    async with _client(limited, clerk_issuer, org_id, "user_b") as c:
        assert (await c.get("/v1/contacts")).status_code == 200


async def test_per_org_limit(limited, clerk_issuer, org_id):
    for user in ("user_a", "user_b"):
        async with _client(limited, clerk_issuer, org_id, user) as c:
            for _ in range(4):
                assert (await c.get("/v1/contacts")).status_code == 200
    async with _client(limited, clerk_issuer, org_id, "user_c") as c:
        r = await c.get("/v1/contacts")
        assert assert_problem(r, 429)["scope"] == "org"
        assert int(r.headers["retry-after"]) > 0
    # other orgs are not affected
    async with _client(limited, clerk_issuer, f"org_{uuid.uuid4().hex[:12]}", "user_a") as c:
        assert (await c.get("/v1/contacts")).status_code == 200


async def test_unauthenticated_requests_never_reach_the_limiter(limited):
    async with httpx.AsyncClient(base_url=limited.url) as c:
        for _ in range(10):
            assert_problem(await c.get("/v1/contacts"), 401)


async def test_replicas_share_their_counters_through_redis(start_gateway, redis_url, clerk_issuer, org_id):
    """Two gateway processes on one Redis: the limit holds across them, not per replica."""
    shared = {
        "RATE_LIMIT_PER_USER": "6/minute",
        "RATE_LIMIT_PER_ORG": "1000/minute",
        "RATE_LIMIT_STORAGE_URI": redis_url,
    }
    first, second = start_gateway(**shared), start_gateway(**shared)
    async with httpx.AsyncClient(base_url=first.url) as raw:
        ready = (await raw.get("/readyz")).json()
        assert ready["checks"]["rate_limit_storage"] == "ok"
    async with (
        _client(first, clerk_issuer, org_id, "user_r") as a,
        _client(second, clerk_issuer, org_id, "user_r") as b,
    ):
        for i in range(6):
            assert (await (a if i % 2 else b).get("/v1/contacts")).status_code == 200
        assert assert_problem(await a.get("/v1/contacts"), 429)["scope"] == "user"
        assert assert_problem(await b.get("/v1/contacts"), 429)["scope"] == "user"


def test_the_in_process_window_counts_only_the_last_window_of_allowed_hits():
    from byte_gateway.ratelimit import InProcessMovingWindows
    from limits import parse_many

    now = [1000.0]
    windows = InProcessMovingWindows(clock=lambda: now[0], sweep_every=4)
    [item] = parse_many("3/minute")
    assert [windows.hit(item, "org", "a") for _ in range(3)] == [None, None, None]
    assert windows.hit(item, "org", "a") == 60.0
    now[0] += 30
    assert windows.hit(item, "org", "a") == 30.0  # a refused hit is not counted
    assert windows.hit(item, "org", "b") is None  # nor does one key fill another's window
    now[0] += 30.5  # the first three hits have left the window
    assert [windows.hit(item, "org", "a") for _ in range(3)] == [None, None, None]
    assert windows.hit(item, "org", "a") == 60.0
    now[0] += 60  # "b" has been idle for a whole window: the next sweep drops it
    assert windows.hit(item, "org", "a") is None
    assert list(windows._windows) == [item.key_for("org", "a")]

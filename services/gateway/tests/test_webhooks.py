"""Clerk (Svix) webhooks: signature, replay, user/membership/org sync, identity.* events."""

import json
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from byte_testing.http import assert_problem
from svix.webhooks import Webhook


@pytest.fixture
def deliver(gateway, webhook_secret):
    """`await deliver(type, data)` posts a correctly signed webhook; returns the response."""

    async def _deliver(
        event_type: str,
        data: dict,
        *,
        svix_id: str | None = None,
        secret: str | None = None,
        at: datetime | None = None,
        signature: str | None = None,
        body: bytes | None = None,
    ):
        svix_id = svix_id or f"msg_{uuid.uuid4().hex}"
        at = at or datetime.now(UTC)
        raw = body if body is not None else json.dumps({"type": event_type, "object": "event", "data": data}).encode()
        sig = signature or Webhook(secret or webhook_secret).sign(svix_id, at, raw.decode())
        headers = {
            "svix-id": svix_id,
            "svix-timestamp": str(int(at.timestamp())),
            "svix-signature": sig,
            "content-type": "application/json",
        }
        async with httpx.AsyncClient(base_url=gateway.url) as c:
            return await c.post("/webhooks/clerk", content=raw, headers=headers)

    return _deliver


def membership(
    org_id: str,
    user_id: str,
    role: str = "org:member",
    *,
    updated_at: int = 1_000,
    email: str | None = None,
    first: str = "Pat",
    last: str = "Doe",
) -> dict:
    return {
        "id": f"orgmem_{uuid.uuid4().hex[:10]}",
        "object": "organization_membership",
        "role": role,
        "organization": {"id": org_id, "name": "Sheriff", "slug": "sheriff"},
        "public_user_data": {
            "user_id": user_id,
            "first_name": first,
            "last_name": last,
            "identifier": email or f"{user_id}@example.com",
        },
        "created_at": 1_000,
        "updated_at": updated_at,
    }


def user(user_id: str, email: str, first: str, last: str, *, updated_at: int = 2_000) -> dict:
    return {
        "id": user_id,
        "object": "user",
        "first_name": first,
        "last_name": last,
        "primary_email_address_id": "idn_2",
        "email_addresses": [
            {"id": "idn_1", "email_address": "old@example.com"},
            {"id": "idn_2", "email_address": email},
        ],
        "created_at": 1_000,
        "updated_at": updated_at,
    }


async def users_of(client, org: str) -> list[dict]:
    async with client(org=org, role="guest") as c:
        r = await c.get("/v1/users")
        assert r.status_code == 200, r.text
        return r.json()["items"]


async def test_bad_signatures_are_400_and_write_nothing(deliver, client, gateway, org_id):
    uid = f"user_{uuid.uuid4().hex[:8]}"
    data = membership(org_id, uid)
    svix_id = f"msg_{uuid.uuid4().hex}"
    old = datetime.now(UTC) - timedelta(minutes=10)
    cases = [
        dict(secret="whsec_" + "A" * 32),  # another secret
        dict(at=old),  # stale timestamp, correctly signed
        dict(at=datetime.now(UTC) + timedelta(minutes=10)),  # from the future
        dict(signature="v1,!!!not-base64!!!"),  # malformed signature
        dict(signature="garbage"),
    ]
    for case in cases:
        r = await deliver("organizationMembership.created", data, svix_id=svix_id, **case)
        assert_problem(r, 400)
    async with httpx.AsyncClient(base_url=gateway.url) as c:  # no signature headers at all
        body = json.dumps({"type": "user.created", "data": data})
        r = await c.post("/webhooks/clerk", content=body, headers={"svix-id": svix_id})
        assert_problem(r, 400, contains="missing")
    assert await users_of(client, org_id) == []
    # none of those recorded the svix-id: the genuine delivery is processed
    r = await deliver("organizationMembership.created", data, svix_id=svix_id)
    assert r.json() == {"status": "processed"}
    assert [u["id"] for u in await users_of(client, org_id)] == [uid]


async def test_membership_and_user_sync_with_events(deliver, client, event_tap, org_id):
    uid = f"user_{uuid.uuid4().hex[:8]}"
    other_org = f"org_{uuid.uuid4().hex[:12]}"
    async with event_tap("identity") as tap:
        # the membership arrives before the user (Svix does not promise order)
        assert (
            await deliver("organizationMembership.created", membership(org_id, uid, email="pat@old.test"))
        ).status_code == 200
        [row] = await users_of(client, org_id)
        assert row == {"id": uid, "email": "pat@old.test", "first_name": "Pat", "last_name": "Doe", "roles": ["user"]}
        # then the user: its primary email wins
        assert (await deliver("user.created", user(uid, "pat@byte.test", "Patricia", "Doe"))).status_code == 200
        [row] = await users_of(client, org_id)
        assert (row["email"], row["first_name"]) == ("pat@byte.test", "Patricia")
        # the same user joins a second org as a reviewer: one row per (org, user)
        await deliver("organizationMembership.created", membership(other_org, uid, "org:reviewer"))
        [there] = await users_of(client, other_org)
        assert there["roles"] == ["reviewer"] and there["email"] == "pat@byte.test"
        # a profile change fans out to both orgs
        await deliver("user.updated", user(uid, "pat@new.test", "Patricia", "Smith", updated_at=3_000))
        assert (await users_of(client, org_id))[0]["last_name"] == "Smith"
        assert (await users_of(client, other_org))[0]["email"] == "pat@new.test"
        # an older update arriving late changes nothing
        await deliver("user.updated", user(uid, "stale@old.test", "Old", "Name", updated_at=2_500))
        assert (await users_of(client, org_id))[0]["email"] == "pat@new.test"
        # promotion to admin
        await deliver("organizationMembership.updated", membership(org_id, uid, "org:admin", updated_at=4_000))
        assert (await users_of(client, org_id))[0]["roles"] == ["admin"]
        # leaving one org
        await deliver("organizationMembership.deleted", membership(other_org, uid, "org:reviewer", updated_at=5_000))
        assert await users_of(client, other_org) == []
        assert len(await users_of(client, org_id)) == 1
        found = await tap.collect(lambda e: e.org_id in (org_id, other_org), count=7)
    types = [(e.type, e.org_id == org_id) for e, _, _ in found]
    assert types == [
        ("identity.membership.created", True),
        ("identity.user.updated", True),
        ("identity.membership.created", False),
        ("identity.user.updated", True),
        ("identity.user.updated", False),
        ("identity.membership.updated", True),
        ("identity.membership.deleted", False),
    ], types
    envelope, _headers, key = found[-2]
    assert envelope.data["member"] == {
        "user_id": uid,
        "org_id": org_id,
        "email": "pat@new.test",
        "first_name": "Patricia",
        "last_name": "Smith",
        "roles": ["admin"],
        "clerk_role": "org:admin",
    }
    assert key == uid.encode() and envelope.actor == "system:clerk" and envelope.subject == uid


async def test_user_deletion_removes_every_membership(deliver, client, org_id):
    uid = f"user_{uuid.uuid4().hex[:8]}"
    other_org = f"org_{uuid.uuid4().hex[:12]}"
    for org in (org_id, other_org):
        await deliver("organizationMembership.created", membership(org, uid))
    await deliver("user.deleted", {"id": uid, "object": "user", "deleted": True})
    assert await users_of(client, org_id) == [] and await users_of(client, other_org) == []
    # a late membership event does not bring a deleted user back
    await deliver("organizationMembership.updated", membership(org_id, uid, "org:admin", updated_at=9_000))
    assert await users_of(client, org_id) == []


async def test_a_redelivery_changes_nothing(deliver, client, event_tap, org_id):
    uid = f"user_{uuid.uuid4().hex[:8]}"
    svix_id = f"msg_{uuid.uuid4().hex}"
    data = membership(org_id, uid, "org:admin")
    async with event_tap("identity") as tap:
        first = await deliver("organizationMembership.created", data, svix_id=svix_id)
        assert first.json() == {"status": "processed"}
        # Svix retries with the same id (and a fresh signature); meanwhile an admin changed the role
        await deliver("organizationMembership.updated", membership(org_id, uid, "org:member", updated_at=2_000))
        again = await deliver("organizationMembership.created", data, svix_id=svix_id)
        assert again.status_code == 200 and again.json() == {"status": "duplicate"}
        found = await tap.collect(lambda e: e.org_id == org_id, count=2, settle=1.5)
    assert [e.type for e, _, _ in found] == ["identity.membership.created", "identity.membership.updated"]
    assert (await users_of(client, org_id))[0]["roles"] == ["user"]


async def test_organization_events(deliver, client, event_tap, org_id):
    uid = f"user_{uuid.uuid4().hex[:8]}"
    org = {
        "id": org_id,
        "object": "organization",
        "name": "Sheriff's Office",
        "slug": "sheriff",
        "created_by": uid,
        "created_at": 1,
        "updated_at": 1,
    }
    async with event_tap("identity") as tap:
        await deliver("organization.created", org)
        await deliver("organizationMembership.created", membership(org_id, uid, "org:admin"))
        await deliver("organization.updated", {**org, "name": "County Sheriff"})
        await deliver("organization.deleted", {"id": org_id, "object": "organization", "deleted": True})
        found = await tap.collect(lambda e: e.org_id == org_id, count=4)
    # Kafka orders per key: the org's own events (keyed by the org) in order, the member's beside them
    types = [e.type for e, _, _ in found]
    assert [t for t in types if t.startswith("identity.organization.")] == [
        "identity.organization.created",
        "identity.organization.updated",
        "identity.organization.deleted",
    ]
    assert "identity.membership.created" in types
    found = [f for f in found if f[0].type.startswith("identity.organization.")]
    assert found[0][0].data == {
        "organization": {"org_id": org_id, "name": "Sheriff's Office", "slug": "sheriff", "created_by": uid}
    }
    assert found[1][0].data["organization"]["name"] == "County Sheriff"
    assert await users_of(client, org_id) == []


async def test_users_list_is_scoped_filtered_and_paged(deliver, client, org_id):
    names = [
        ("Ann", "Zed", "org:admin"),
        ("Bob", "Young", "org:reviewer"),
        ("Cid", "Xu", "org:member"),
        ("Dee", "Xu", "org:reviewer"),
    ]
    for first, last, role in names:
        await deliver(
            "organizationMembership.created",
            membership(org_id, f"user_{uuid.uuid4().hex[:8]}", role, first=first, last=last),
        )
    await deliver("organizationMembership.created", membership(f"org_{uuid.uuid4().hex[:12]}", "user_elsewhere"))
    async with client(role="guest") as c:
        everyone = (await c.get("/v1/users")).json()["items"]
        assert [u["first_name"] for u in everyone] == ["Cid", "Dee", "Bob", "Ann"]
        reviewers = (await c.get("/v1/users", params={"role": "reviewer"})).json()["items"]
        assert [u["first_name"] for u in reviewers] == ["Dee", "Bob"]
        page1 = (await c.get("/v1/users", params={"limit": 3})).json()
        page2 = (await c.get("/v1/users", params={"limit": 3, "cursor": page1["next_cursor"]})).json()
        assert [u["first_name"] for u in page1["items"] + page2["items"]] == ["Cid", "Dee", "Bob", "Ann"]
        assert page2["next_cursor"] is None
        assert_problem(await c.get("/v1/users", params={"cursor": "garbage"}), 400)
        assert_problem(await c.get("/v1/users", params={"limit": 0}), 422)


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"type": "user.created"}',
        b'{"type": "user.created", "data": {}}',
        b'{"type": "organizationMembership.created", "data": {"role": "org:admin"}}',
    ],
)
async def test_verified_but_malformed_payloads_are_400(deliver, body):
    assert_problem(await deliver("", {}, body=body), 400)


async def test_unknown_event_types_are_acknowledged(deliver):
    r = await deliver("session.created", {"id": "sess_1"})
    assert r.status_code == 200 and r.json() == {"status": "ignored"}


async def test_a_users_own_profile_outranks_any_membership(deliver, client, org_id):
    """Clerk's user.created may carry no `updated_at`; the user's profile is theirs all the same."""
    uid = f"user_{uuid.uuid4().hex[:8]}"
    own = user(uid, "pat@byte.test", "Patricia", "Doe")
    del own["updated_at"]
    assert (await deliver("user.created", own)).json() == {"status": "processed"}
    await deliver(
        "organizationMembership.created", membership(org_id, uid, email="pat-login@sso.test", first="P", last="X")
    )
    [row] = await users_of(client, org_id)
    assert (row["email"], row["first_name"], row["last_name"]) == ("pat@byte.test", "Patricia", "Doe")
    await deliver(
        "organizationMembership.updated",
        membership(org_id, uid, "org:admin", updated_at=5_000, email="other@sso.test", first="Q", last="Y"),
    )
    [row] = await users_of(client, org_id)
    assert (row["email"], row["first_name"], row["last_name"], row["roles"]) == (
        "pat@byte.test",
        "Patricia",
        "Doe",
        ["admin"],
    )


async def test_a_membership_first_then_a_user_without_updated_at_then_another_org(deliver, client, org_id):
    uid = f"user_{uuid.uuid4().hex[:8]}"
    other_org = f"org_{uuid.uuid4().hex[:12]}"
    await deliver("organizationMembership.created", membership(org_id, uid, email="login@sso.test"))
    own = user(uid, "pat@byte.test", "Patricia", "Doe")
    del own["updated_at"]
    await deliver("user.created", own)
    await deliver("organizationMembership.created", membership(other_org, uid, email="login@sso.test"))
    for org in (org_id, other_org):
        [row] = await users_of(client, org)
        assert (row["email"], row["first_name"], row["last_name"]) == ("pat@byte.test", "Patricia", "Doe"), org


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize(
    "hostile",
    [
        # nested far deeper than the parser goes, and deeper than anything Clerk sends
        '"role": "org:member", "public_metadata": ' + _nested(100_000),
        '"role": "org:member", "public_metadata": ' + _nested(200),
        # NUL and lone surrogates: in a value, a key, deep in metadata nobody reads
        '"role": "org:member", "x": "\\u0000"',
        '"role": "org:member", "public_metadata": {"a": [{"\\u0000": 1}]}',
        '"role": "org:member\\ud800"',
        '"role": "org:member", "z": "\\udfff\\ud800"',
        # numbers PostgreSQL cannot hold
        '"role": "org:member", "updated_at": NaN',
        '"role": "org:member", "updated_at": 1e400',
        '"role": "org:member", "updated_at": 100000000000000000000000',
        '"role": "org:member", "updated_at": true',
    ],
)
async def test_signed_but_hostile_payloads_are_400_and_write_nothing(deliver, client, org_id, hostile):
    uid = f"user_{uuid.uuid4().hex[:8]}"
    parts = {"organization": {"id": org_id}, "public_user_data": {"user_id": uid, "identifier": "pat@example.com"}}
    body = '{"type": "organizationMembership.created", "data": {' + json.dumps(parts)[1:-1] + ", " + hostile + "}}"
    svix_id = f"msg_{uuid.uuid4().hex}"
    r = await deliver("", {}, body=body.encode(), svix_id=svix_id)
    assert_problem(r, 400)
    assert await users_of(client, org_id) == []
    # the refused delivery did not claim its id: the genuine one is processed
    r = await deliver("organizationMembership.created", membership(org_id, uid), svix_id=svix_id)
    assert r.json() == {"status": "processed"}


@pytest.mark.parametrize("where", ["id", "first_name", "email_addresses"])
@pytest.mark.parametrize("bad", ["\x00", "\ud800"])
async def test_a_user_event_with_nul_or_a_lone_surrogate_anywhere_is_refused(deliver, client, org_id, where, bad):
    uid = f"user_{uuid.uuid4().hex[:8]}"
    await deliver("organizationMembership.created", membership(org_id, uid, email="pat@example.com"))
    event = user(uid, "pat@byte.test", "Patricia", "Doe")
    if where == "email_addresses":
        event["email_addresses"][1]["email_address"] = f"pat{bad}@byte.test"
    else:
        event[where] = f"{event[where]}{bad}"
    assert_problem(await deliver("user.updated", event), 400)
    [row] = await users_of(client, org_id)
    assert (row["email"], row["first_name"]) == ("pat@example.com", "Pat")  # unchanged

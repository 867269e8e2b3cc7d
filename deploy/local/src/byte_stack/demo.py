"""`make demo` (`byte-stack demo`): one applicant from a Formstack submission to the welcome email,
through the gateway only, printing each step as it happens.

Against a running `make up`: the org's Clerk webhook names it, an admin registers a Formstack form
for it (once: its URL and HMAC key are kept in `<state>/demo/forms.json`, since the API shows the
URL only once), a signed submission comes in, a reviewer and a manager (dev session tokens, as
`make token` makes them) work the Applicant Review, and the demo ends with the case's links.
Every run takes in a new applicant, so it can run again and again.

`tests/test_demo.py` runs this same code against the test profile's system.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode

import httpx

from . import devclerk
from .procs import StackError
from .profiles import build_env, find_externals, get_profile, load_services

T = TypeVar("T")
# How long one hop (an event through a consumer, a workflow step) may take on a busy machine.
PATIENCE = 120.0
ORG_NAME = "Lakeside Sheriff's Office"
FORM_ID = "byte-demo"
TEMPORAL_NAMESPACE = "default"
USERS = {"admin": ("user_demo_admin", "admin"), "reviewer": ("user_demo_reviewer", "reviewer")}
USERS["manager"] = ("user_demo_manager", "manager")


@dataclass
class Target:
    """Where the system answers, and how to be its people."""

    gateway_url: str
    token: Callable[[str, str], str]  # (user id, role) -> a session token of `org_id`
    org_id: str
    state_dir: Path
    mail_url: str | None = None
    temporal_ui_url: str | None = None
    clerk_webhook_secret: str | None = None
    patience: float = PATIENCE
    say: Callable[[str], None] = field(default=print)


@dataclass
class Outcome:
    """What a run made, for whoever runs it (the test reads it)."""

    applicant_email: str
    submission_id: str
    contact_id: str
    case_id: str
    status: str
    email_subject: str | None
    links: dict[str, str]


class DemoFailed(StackError):
    pass


def target_for(profile_name: str, org_id: str) -> Target:
    """The running stack of a profile, found the way `byte-stack token` finds it."""
    profile = get_profile(profile_name)
    env = build_env(profile, load_services(profile), externals=find_externals(profile))
    if "gateway" not in env["services"]:
        raise DemoFailed("no gateway in deploy/local/services.toml")
    private, public = Path(env["clerk_private_key_file"]), Path(env["clerk_public_key_file"])
    if not private.exists():
        raise DemoFailed(f"no dev Clerk keys in {private.parent}: run `make up` first")
    private_pem, public_pem = private.read_text(), public.read_text()

    def token(user_id: str, role: str) -> str:
        claims = devclerk.session_claims(user_id=user_id, org_id=org_id, role=role, issuer=env["clerk_issuer"])
        return devclerk.mint_session_token(private_pem, public_pem, claims)

    secret_file = Path(env["clerk_webhook_secret_file"])
    return Target(
        gateway_url=env["services"]["gateway"]["url"],
        token=token,
        org_id=org_id,
        state_dir=Path(env["state_dir"]) / "demo",
        mail_url=env["mail_http_url"],
        temporal_ui_url=env["temporal_ui_url"],
        clerk_webhook_secret=secret_file.read_text().strip() if secret_file.exists() else None,
    )


class Demo:
    def __init__(self, target: Target, http: httpx.AsyncClient) -> None:
        self.t = target
        self.http = http
        self.started = time.monotonic()
        self.people = {
            who: {"Authorization": f"Bearer {target.token(user, role)}"} for who, (user, role) in USERS.items()
        }

    def say(self, what: str, detail: str = "") -> None:
        self.t.say(f"[{time.monotonic() - self.started:6.1f}s] {what:<22} {detail}".rstrip())

    async def call(self, who: str, method: str, path: str, expect: int = 200, **kwargs: Any) -> Any:
        r = await self.http.request(method, path, headers=self.people[who], **kwargs)
        if r.status_code != expect:
            raise DemoFailed(f"{method} {path} as the {who} answered {r.status_code}: {r.text[:500]}")
        return r.json()

    async def until(self, what: str, probe: Callable[[], Awaitable[T | None]]) -> T:
        """Asks again until `probe` has an answer; a step that never comes fails the demo, named."""
        deadline = time.monotonic() + self.t.patience
        while True:
            try:
                answer = await probe()
            except httpx.TimeoutException:
                answer = None  # a probe only reads: on a busy machine, asking again is safe
            if answer is not None:
                return answer
            if time.monotonic() > deadline:
                raise DemoFailed(
                    f"waited {self.t.patience:.0f}s for {what}; the services' logs say why "
                    "(`make status`, .state/<profile>/logs/)"
                )
            await asyncio.sleep(0.3)

    # -- the steps ---------------------------------------------------------------------------

    async def name_the_org(self) -> None:
        """Clerk tells the gateway the org exists (a signed webhook), so letters carry its name."""
        if not self.t.clerk_webhook_secret:
            return
        from svix.webhooks import Webhook  # the gateway verifies with the same library

        data = {"id": self.t.org_id, "object": "organization", "name": ORG_NAME, "slug": self.t.org_id}
        raw = json.dumps({"type": "organization.created", "object": "event", "data": data})
        svix_id = f"msg_{uuid.uuid4().hex}"
        at = datetime.now(UTC)
        headers = {
            "svix-id": svix_id,
            "svix-timestamp": str(int(at.timestamp())),
            "svix-signature": Webhook(self.t.clerk_webhook_secret).sign(svix_id, at, raw),
            "content-type": "application/json",
        }
        r = await self.http.post("/webhooks/clerk", content=raw, headers=headers)
        if r.status_code >= 300:
            raise DemoFailed(f"the Clerk webhook naming {self.t.org_id} answered {r.status_code}: {r.text[:300]}")
        self.say("org", f"{self.t.org_id} ({ORG_NAME})")

    async def form(self) -> dict[str, str]:
        """The demo's Formstack form of this org: the one registered before, else a new one."""
        path = self.t.state_dir / "forms.json"
        known: dict[str, dict[str, str]] = json.loads(path.read_text()) if path.exists() else {}
        form = known.get(f"{self.t.gateway_url} {self.t.org_id}")
        if form is not None:
            r = await self.http.get(f"/v1/formstack/forms/{form['id']}", headers=self.people["admin"])
            if r.status_code == 200 and r.json()["is_active"]:
                self.say("form", f"{form['form_id']} (registered before)")
                return form
        # the org's own Applicant Review by id (it is provisioned on the org's first request)
        review = await self.call("admin", "GET", "/v1/definitions/applicant-review")
        hmac_key = secrets.token_urlsafe(24)
        created = await self.call(
            "admin",
            "POST",
            "/v1/formstack/forms",
            expect=201,
            json={
                "form_id": f"{FORM_ID}-{secrets.token_hex(3)}",
                "name": "Deputy application (demo)",
                "hmac_key": hmac_key,
                "default_definition_id": review["id"],
            },
        )
        form = {
            "id": created["id"],
            "form_id": created["form_id"],
            "webhook_path": created["webhook_path"],
            "hmac_key": hmac_key,
        }
        known[f"{self.t.gateway_url} {self.t.org_id}"] = form
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(known, indent=2) + "\n")
        path.chmod(0o600)  # it holds the form's HMAC key
        self.say("form registered", f"{form['form_id']} -> {form['webhook_path'][:48]}...")
        return form

    async def submit(self, form: dict[str, str]) -> tuple[str, str]:
        """Posts a submission as Formstack does: form-urlencoded, signed with the form's HMAC key."""
        tag = secrets.token_hex(4)
        email = f"ada.lovelace+{tag}@example.com"
        unique_id = str(int(time.time() * 1000)) + str(secrets.randbelow(1000))
        body = urlencode(
            {
                "FormID": form["form_id"],
                "UniqueID": unique_id,
                "First Name": "Ada",
                "Last Name": "Lovelace",
                "Email": email,
                "Phone": "478-555-0100",
            }
        ).encode()
        signature = "sha256=" + hmac.new(form["hmac_key"].encode(), body, hashlib.sha256).hexdigest()
        r = await self.http.post(
            form["webhook_path"],
            content=body,
            headers={"Content-Type": "application/x-www-form-urlencoded", "X-FS-Signature": signature},
        )
        if r.status_code != 200 or r.json().get("status") != "received":
            raise DemoFailed(f"the signed submission answered {r.status_code}: {r.text[:300]}")
        self.say("submission stored", f"UniqueID {unique_id}, applicant {email}")
        return unique_id, email

    async def contact_of(self, email: str) -> dict[str, Any]:
        async def found() -> dict[str, Any] | None:
            items = (await self.call("admin", "GET", "/v1/contacts", params={"q": email}))["items"]
            return next((c for c in items if c["email"] == email), None)

        contact = await self.until(f"the contact {email}", found)
        self.say("contact", f"{contact['first_name']} {contact['last_name']} ({contact['id']})")
        return contact

    async def case_of(self, unique_id: str) -> dict[str, Any]:
        async def opened() -> str | None:
            items = (await self.call("admin", "GET", "/v1/formstack/submissions", params={"submission_id": unique_id}))[
                "items"
            ]
            if items and items[0]["status"] == "failed":
                raise DemoFailed(f"the submission failed: {items[0]['error']}")
            return items[0]["execution_id"] if items and items[0]["execution_id"] else None

        case_id = await self.until("the case to open", opened)
        case = await self.call("admin", "GET", f"/v1/executions/{case_id}")
        self.say("case opened", f"{case_id} ({case['status']})")
        return case

    async def task(self, who: str, case: dict[str, Any], title: str) -> dict[str, Any]:
        async def listed() -> dict[str, Any] | None:
            items = (await self.call(who, "GET", "/v1/tasks/available"))["items"]
            return next((t for t in items if t["workflow_execution_id"] == case["id"] and t["title"] == title), None)

        task = await self.until(f"the task {title!r} for the {who}", listed)
        self.say("task appeared", f"{title!r} for the {task['assigned_role']} ({task['id']})")
        return task

    async def review(self, case: dict[str, Any]) -> None:
        task = await self.task("reviewer", case, "Review Application")
        await self.call("reviewer", "PATCH", f"/v1/tasks/{task['id']}/claim")
        self.say("claimed", f"by the reviewer ({USERS['reviewer'][0]})")
        await self.call("reviewer", "PATCH", f"/v1/tasks/{task['id']}/status", json={"status": "in_progress"})
        await self.call(
            "reviewer",
            "PATCH",
            f"/v1/tasks/{task['id']}/status",
            json={"status": "done", "comment": "References check out."},
        )
        self.say("completed", "review done: References check out.")

    async def approve(self, case: dict[str, Any]) -> None:
        task = await self.task("manager", case, "Manager Approval")
        await self.call("manager", "PATCH", f"/v1/tasks/{task['id']}/claim")
        self.say("claimed", f"by the manager ({USERS['manager'][0]})")
        await self.call("manager", "PATCH", f"/v1/tasks/{task['id']}/approve", json={"comment": "Welcome aboard."})
        self.say("approved", "Welcome aboard.")

    async def decided(self, case: dict[str, Any]) -> dict[str, Any]:
        async def finished() -> dict[str, Any] | None:
            got = await self.call("admin", "GET", f"/v1/executions/{case['id']}")
            return got if got["run_state"] == "completed" else None

        final = await self.until("the case's workflow to finish", finished)
        self.say("status", f"{final['status']} (workflow {final['run_state']})")
        return final

    async def letter(self, email: str) -> str | None:
        if not self.t.mail_url:
            self.say("email", "not checked: the stack sends mail to an external SMTP server")
            return None
        async with httpx.AsyncClient(base_url=self.t.mail_url, timeout=30) as sink:

            async def delivered() -> dict[str, Any] | None:
                found = (await sink.get("/messages", params={"to": email})).json()
                return found[0] if found else None

            mail = await self.until(f"an email to {email} in the mail sink", delivered)
        self.say("email received", f"{mail['subject']!r} to {email}")
        return mail["subject"]

    def links(self, case: dict[str, Any]) -> dict[str, str]:
        links = {
            "case": f"{self.t.gateway_url}/v1/executions/{case['id']}",
            "history": f"{self.t.gateway_url}/v1/activity/cases/{case['id']}",
        }
        if self.t.temporal_ui_url:
            links["temporal"] = (
                f"{self.t.temporal_ui_url}/namespaces/{TEMPORAL_NAMESPACE}/workflows/{case['temporal_workflow_id']}"
            )
        return links

    async def run(self) -> Outcome:
        self.say("gateway", self.t.gateway_url)
        await self.name_the_org()
        form = await self.form()
        unique_id, email = await self.submit(form)
        contact = await self.contact_of(email)
        case = await self.case_of(unique_id)
        await self.review(case)
        await self.approve(case)
        final = await self.decided(case)
        subject = await self.letter(email)
        links = self.links(case)
        self.t.say("")
        self.t.say("The case, its steps and their times:")
        self.t.say(f'  curl -H "Authorization: Bearer $(make -s token ORG={self.t.org_id})" {links["case"]}')
        self.t.say("Everything that happened to it (submission, contact, tasks, emails), newest first:")
        self.t.say(f'  curl -H "Authorization: Bearer $(make -s token ORG={self.t.org_id})" {links["history"]}')
        if "temporal" in links:
            self.t.say("Its workflow in the Temporal UI:")
            self.t.say(f"  {links['temporal']}")
        return Outcome(email, unique_id, contact["id"], case["id"], final["status"], subject, links)


async def run(target: Target) -> Outcome:
    async with httpx.AsyncClient(base_url=target.gateway_url, timeout=30) as http:
        try:
            r = await http.get("/readyz")
        except httpx.TransportError as e:
            raise DemoFailed(f"no gateway at {target.gateway_url} ({e}): run `make up` first") from None
        if r.status_code != 200:
            raise DemoFailed(f"the gateway at {target.gateway_url} is not ready ({r.status_code}): `make status`")
        return await Demo(target, http).run()

"""Formstack to a case on the real stack, through the gateway's public door: genuine deliveries
become one contact and one case each; forgeries, repeats and unreadable bodies do exactly what
the webhook promises and leave nothing else behind; a mapping error is visible and reprocessing
fixes it; a rotated key keeps the old one for its grace period; a possible duplicate is flagged,
dismissed or merged."""

import json
import secrets
import uuid
from collections import Counter
from urllib.parse import urlencode

from byte_contracts import Envelope, topics
from byte_testing.events import EventTap

HMAC_KEY = "fs-hmac-" + secrets.token_hex(16)


async def _form(api, **body) -> dict:
    # The org's own Applicant Review, by id: executions processes of other tests (other
    # databases) see the same events and refuse a definition they do not have, rather than
    # opening cases of their own that this test's ingest might hear of first.
    review = (await api.get("/v1/definitions/applicant-review")).json()
    r = await api.post(
        "/v1/formstack/forms", json={"hmac_key": HMAC_KEY, "default_definition_id": review["id"], **body}
    )
    assert r.status_code == 201, r.text
    return r.json()


async def _submissions(api, **params) -> list[dict]:
    r = await api.get("/v1/formstack/submissions", params={"limit": 200, **params})
    assert r.status_code == 200, r.text
    return r.json()["items"]


async def test_genuine_deliveries_become_one_contact_and_one_case_each(api, direct, formstack, h, org_id):
    async with api() as admin, api(role="member") as member, direct("contacts") as contacts:
        # the admin API is for admins only, reads included
        assert h.is_problem(await member.get("/v1/formstack/forms"), 403)
        assert h.is_problem(await member.get("/v1/formstack/submissions"), 403)
        review = (await admin.get("/v1/definitions/applicant-review")).json()
        by_id = await _form(
            admin,
            form_id="5001",
            name="Deputy application (field ids)",
            default_definition_id=review["id"],
            field_mappings=[
                {"field": "1001", "to": "contact.name"},
                {"field": "1002", "to": "contact.email"},
                {"field": "1003", "to": "contact.phone"},
                {"field": "1004", "to": "metadata.shifts"},
                {"field": "1005", "to": "contact.address"},
            ],
        )
        # JSON with name keys, split into sub-field keys: the default labels map it
        by_name = await _form(admin, form_id="5002", default_definition_id=review["id"])
        assert '"hmac_key":' not in json.dumps(by_id) and HMAC_KEY not in json.dumps(by_id)
        assert by_id["hmac_key_set"] is True and by_id["webhook_path"].startswith(f"/webhooks/formstack/{org_id}/")

        ada = f"ada-{uuid.uuid4().hex[:6]}@example.com"
        grace = f"grace-{uuid.uuid4().hex[:6]}@example.com"
        urlencoded = urlencode(
            [
                ("FormID", "5001"),
                ("UniqueID", "77001"),
                ("1001", "first = Ada\nlast = Lovelace"),
                ("1002", ada),
                ("1003", "478-555-0100"),
                ("1004", "Days"),
                ("1004", "Nights"),
                ("1005", "address = 1 Main St\ncity = Macon\nstate = GA\nzip = 31201"),
                ("1006", "I like helping — ça va"),
            ]
        ).encode()
        as_json = json.dumps(
            {"FormID": "5002", "UniqueID": "77002", "Name (First)": "Grace", "Name (Last)": "Hopper", "Email": grace}
        ).encode()
        deliveries = [
            (by_id["webhook_path"], urlencoded, "application/x-www-form-urlencoded"),
            (by_name["webhook_path"], as_json, "application/json"),
        ]
        for path, body, content_type in deliveries:
            r = await admin.post(path, content=body, headers=formstack.headers(HMAC_KEY, body, content_type))
            assert (r.status_code, r.json()["status"]) == (200, "received"), r.text
        # Formstack repeats itself: the same delivery again changes nothing
        for path, body, content_type in deliveries:
            r = await admin.post(path, content=body, headers=formstack.headers(HMAC_KEY, body, content_type))
            assert (r.status_code, r.json()["status"]) == (200, "duplicate"), r.text

        async def both_processed():
            stored = await _submissions(admin)
            assert sorted(s["status"] for s in stored) == ["processed", "processed"]
            return stored

        stored = await h.eventually(both_processed)
        cases = (await admin.get("/v1/executions", params={"source": "formstack", "limit": 50})).json()["items"]
        assert sorted(c["source_id"] for c in cases) == ["77001", "77002"]
        assert {c["status"] for c in cases} == {"submitted"}
        assert {c["definition_id"] for c in cases} == {review["id"]}
        assert {s["execution_id"] for s in stored} == {c["id"] for c in cases}

        async def first_tasks():
            tasks = (await admin.get("/v1/tasks", params={"limit": 50})).json()["items"]
            assert sorted(t["workflow_execution_id"] for t in tasks) == sorted(c["id"] for c in cases)
            return tasks

        # each case's first step made one task, about the case's contact
        tasks = await h.eventually(first_tasks)
        assert {(t["workflow_execution_id"], t["contact_id"]) for t in tasks} == {
            (c["id"], c["contact_id"]) for c in cases
        }

        people = (await contacts.get("/v1/contacts", params={"limit": 50})).json()["items"]
        assert sorted(p["email"] for p in people) == sorted([ada, grace])
        lovelace = next(p for p in people if p["email"] == ada)
        assert (lovelace["first_name"], lovelace["last_name"], lovelace["phone"]) == ("Ada", "Lovelace", "478-555-0100")
        assert (lovelace["address_line_1"], lovelace["city"], lovelace["zip"]) == ("1 Main St", "Macon", "31201")
        assert lovelace["metadata"] == {"shifts": ["Days", "Nights"]}
        hopper = next(p for p in people if p["email"] == grace)
        assert (hopper["first_name"], hopper["last_name"]) == ("Grace", "Hopper")

        # the submission keeps the raw delivery and every field, mapped or not, in UTF-8
        first = next(s for s in stored if s["submission_id"] == "77001")
        detail = (await admin.get(f"/v1/formstack/submissions/{first['id']}")).json()
        assert detail["raw_body"] == urlencoded.decode() and detail["content_type"].startswith("application/x-www")
        assert detail["payload"]["fields"]["1006"] == "I like helping — ça va"
        assert detail["payload"]["unmapped"] == ["1006"]
        # reprocessing a processed submission changes nothing
        again = (await admin.post(f"/v1/formstack/submissions/{first['id']}/reprocess")).json()
        assert (again["status"], again["attempts"], again["execution_id"]) == ("processed", 1, first["execution_id"])


async def test_forgeries_and_unreadable_deliveries_leave_only_what_is_specified(api, formstack, h, org_id):
    async with api() as admin:
        form = await _form(admin, form_id="6001")
        path = form["webhook_path"]
        handshake_only = (
            await admin.post("/v1/formstack/forms", json={"form_id": "6002", "handshake_key": "hs-" + "k" * 20})
        ).json()
        assert handshake_only["hmac_key_set"] is False
        good = urlencode(
            {"FormID": "6001", "UniqueID": "88001", "Name": "Sam Spade", "Email": "sam@example.com"}
        ).encode()
        urlencoded = "application/x-www-form-urlencoded"

        async def post(target: str, body: bytes, headers: dict, via=admin):
            return await via.post(target, content=body, headers=headers)

        # forgeries: 401, nothing kept
        assert h.is_problem(await post(path, good, formstack.headers("wrong-key-123", good, urlencoded)), 401)
        assert h.is_problem(await post(path, good, formstack.headers(None, good, urlencoded)), 401)
        tampered = good.replace(b"Sam", b"Max")
        assert h.is_problem(await post(path, tampered, formstack.headers(HMAC_KEY, good, urlencoded)), 401)
        hs_body = urlencode(
            {"FormID": "6002", "UniqueID": "88002", "HandshakeKey": "not-the-key", "Email": "x@example.com"}
        ).encode()
        assert h.is_problem(await post(handshake_only["webhook_path"], hs_body, {"Content-Type": urlencoded}), 401)
        # an unknown token, or another org's path: 404
        unknown = f"/webhooks/formstack/{org_id}/{secrets.token_urlsafe(32)}"
        assert h.is_problem(await post(unknown, good, formstack.headers(HMAC_KEY, good, urlencoded)), 404)
        other_org = path.replace(org_id, f"org_{uuid.uuid4().hex[:12]}")
        assert h.is_problem(await post(other_org, good, formstack.headers(HMAC_KEY, good, urlencoded)), 404)

        # signed but unreadable: 4xx, kept as `rejected` for audit
        garbage = b"\xff\xfe\x00\x81garbage"
        assert h.is_problem(await post(path, garbage, formstack.headers(HMAC_KEY, garbage, urlencoded)), 400)
        assert h.is_problem(await post(path, good, formstack.headers(HMAC_KEY, good, "text/plain")), 415)
        limit = 1_048_576
        oversized = good + b"&Essay=" + b"x" * limit
        # over ingest's limit: the gateway lets it through, ingest verifies it, keeps it, says 413
        r = await post(path, oversized, formstack.headers(HMAC_KEY, oversized, urlencoded))
        assert h.is_problem(r, 413) and "1048576" in r.json()["detail"], r.text
        # over the gateway's hard cap (4 MB): 413 at the door, nothing kept
        huge = good + b"&Essay=" + b"x" * (4 * limit)
        r = await post(path, huge, formstack.headers(HMAC_KEY, huge, urlencoded))
        assert h.is_problem(r, 413) and "request bodies are limited to 4194304" in r.json()["detail"], r.text
        # unsigned and unreadable: 401, not kept
        assert h.is_problem(await post(path, garbage, formstack.headers(None, garbage, "text/plain")), 401)

        stored = await _submissions(admin)
        assert sorted((s["status"], s["submission_id"]) for s in stored) == [("rejected", None)] * 3
        errors = sorted(s["error"] for s in stored)
        assert any("UTF-8" in e for e in errors) and any("text/plain" in e for e in errors)
        big = next(s for s in stored if "limit" in s["error"])
        detail = (await admin.get(f"/v1/formstack/submissions/{big['id']}")).json()
        assert detail["raw_truncated"] is True and len(detail["raw_body"]) == limit

        # the genuine delivery still goes through, once
        for _ in range(2):
            r = await post(path, good, formstack.headers(HMAC_KEY, good, urlencoded))
            assert r.status_code == 200, r.text
        assert len([s for s in await _submissions(admin) if s["submission_id"] == "88001"]) == 1


async def test_a_mapping_error_shows_and_reprocessing_fixes_it(api, direct, formstack, h):
    async with api() as admin, direct("contacts") as contacts:
        form = await _form(admin, form_id="7001", field_mappings=[{"field": "2001", "to": "contact.email"}])
        email = f"lee-{uuid.uuid4().hex[:6]}@example.com"
        body = urlencode({"FormID": "7001", "UniqueID": "99001", "2002": email, "2003": "Lee Marvin"}).encode()
        headers = formstack.headers(HMAC_KEY, body, "application/x-www-form-urlencoded")
        r = await admin.post(form["webhook_path"], content=body, headers=headers)
        assert (r.status_code, r.json()["status"]) == (200, "failed")
        [failed] = await _submissions(admin, status="failed")
        assert "neither an email nor a name" in failed["error"]

        # a wrong value is just as visible
        fixed = [{"field": "2002", "to": "contact.email"}, {"field": "2003", "to": "contact.name"}]
        wrong = [{"field": "2003", "to": "contact.email"}]
        tried = (
            await admin.post(
                f"/v1/formstack/forms/{form['id']}/test-mapping",
                json={"submission_id": failed["id"], "field_mappings": wrong},
            )
        ).json()
        assert tried["ok"] is False and "email" in tried["error"]
        tried = (
            await admin.post(
                f"/v1/formstack/forms/{form['id']}/test-mapping",
                json={"submission_id": failed["id"], "field_mappings": fixed},
            )
        ).json()
        assert tried["ok"] is True and tried["applicant"] == {
            "first_name": "Lee",
            "last_name": "Marvin",
            "email": email,
        }
        # trying changed nothing
        assert (await admin.get(f"/v1/formstack/submissions/{failed['id']}")).json()["status"] == "failed"

        r = await admin.patch(f"/v1/formstack/forms/{form['id']}", json={"field_mappings": fixed})
        assert r.status_code == 200, r.text
        r = await admin.post(f"/v1/formstack/submissions/{failed['id']}/reprocess")
        assert (r.status_code, r.json()["status"], r.json()["error"]) == (200, "received", None), r.text

        async def processed():
            stored = (await admin.get(f"/v1/formstack/submissions/{failed['id']}")).json()
            assert stored["status"] == "processed"
            return stored

        stored = await h.eventually(processed)
        assert stored["attempts"] == 2
        cases = (await admin.get("/v1/executions", params={"source": "formstack"})).json()["items"]
        assert [(c["source_id"], c["id"]) for c in cases] == [("99001", stored["execution_id"])]
        people = (await contacts.get("/v1/contacts")).json()["items"]
        assert [(p["first_name"], p["email"]) for p in people] == [("Lee", email)]
        # again: nothing changes
        r = await admin.post(f"/v1/formstack/submissions/{failed['id']}/reprocess")
        assert (r.json()["status"], r.json()["attempts"]) == ("processed", 2)


async def test_a_rotated_key_keeps_the_old_one_for_its_grace_period(api, formstack, h):
    async with api() as admin:
        form = await _form(admin, form_id="8001")
        new_key = "fs-hmac-new-" + secrets.token_hex(8)
        r = await admin.post(f"/v1/formstack/forms/{form['id']}/rotate-key", json={"hmac_key": new_key})
        assert r.status_code == 200 and r.json()["previous_hmac_key_valid_until"] is not None, r.text
        content_type = "application/x-www-form-urlencoded"
        for n, key in enumerate((HMAC_KEY, new_key)):
            body = urlencode({"FormID": "8001", "UniqueID": f"1100{n}", "Email": f"k{n}@example.com"}).encode()
            r = await admin.post(form["webhook_path"], content=body, headers=formstack.headers(key, body, content_type))
            assert r.status_code == 200, r.text
        # a grace period of zero: only the new key verifies
        r = await admin.post(
            f"/v1/formstack/forms/{form['id']}/rotate-key", json={"hmac_key": new_key + "-2", "grace_seconds": 0}
        )
        assert r.json()["previous_hmac_key_valid_until"] is None
        body = urlencode({"FormID": "8001", "UniqueID": "11009", "Email": "k9@example.com"}).encode()
        r = await admin.post(form["webhook_path"], content=body, headers=formstack.headers(new_key, body, content_type))
        assert h.is_problem(r, 401)


async def test_a_possible_duplicate_is_flagged_dismissed_or_merged(api, formstack, h, stack, publish, org_id):
    """Same phone, another email: a later applicant's case is flagged with another contact;
    staff dismiss the flag. A flagged case's contact merged into the flagged one: one contact,
    the case and its task point at it, the flag gone, each change announced once even when the
    merge event comes again."""
    async with api() as admin, api(role="member") as member:
        form = await _form(admin, form_id="9901")
        review = (await admin.get("/v1/definitions/applicant-review")).json()
        content_type = "application/x-www-form-urlencoded"
        tag = uuid.uuid4().hex[:6]

        async def first_task(case_id: str) -> dict:
            async def one():
                tasks = (await admin.get("/v1/tasks", params={"execution": case_id})).json()["items"]
                assert len(tasks) == 1
                return tasks[0]

            return await h.eventually(one)

        async def submit(unique_id: str, name: str, email: str, phone: str) -> dict:
            body = urlencode(
                {"FormID": "9901", "UniqueID": unique_id, "Name": name, "Email": email, "Phone": phone}
            ).encode()
            r = await admin.post(
                form["webhook_path"], content=body, headers=formstack.headers(HMAC_KEY, body, content_type)
            )
            assert r.status_code == 200, r.text

            async def case_opened():
                cases = (await admin.get("/v1/executions", params={"source": "formstack", "q": email})).json()["items"]
                assert len(cases) == 1
                return cases[0]

            return await h.eventually(case_opened)

        first = await submit("d1", "first = Pat\nlast = Doe", f"pat-{tag}@example.com", "478-555-0199")
        second = await submit("d2", "first = Patricia\nlast = Doe", f"patricia-{tag}@example.com", "(478) 555 0199")
        assert "possible_duplicate_of" not in first["metadata"]
        flagged = second["metadata"]["possible_duplicate_of"]
        assert flagged != second["contact_id"]

        dismiss = f"/v1/executions/{second['id']}/duplicate/dismiss"
        assert h.is_problem(await member.post(dismiss), 403)
        r = await admin.post(dismiss)
        assert r.status_code == 200 and "possible_duplicate_of" not in r.json()["metadata"], r.text
        assert r.json()["metadata"]["submission_id"] == "d2"
        assert h.is_problem(await admin.post(dismiss), 409)

        # Merging. On the shared test broker every contacts process of the session takes an
        # applicant in (each in its own database) and the first to answer is the case's contact,
        # so the two people are this chain's own contacts, and the flagged case is opened as
        # intake opens it, flag and all.
        async def contact(**body) -> str:
            r = await admin.post("/v1/contacts", json=body)
            assert r.status_code == 201, r.text
            return r.json()["id"]

        pat = f"pat-{tag}@example.org"
        survivor = await contact(first_name="Pat", last_name="Doe", email=pat, phone="478-555-0142", tags=["vip"])
        duplicate = await contact(
            first_name="P.",
            last_name="Doe",
            email=f"p-doe-{tag}@example.org",
            phone="4785550142",
            company="Bibb County",
            tags=["deputy"],
            metadata={"shift": "nights"},
        )

        async def open_case(contact_id: str, **body) -> dict:
            # executions knows a contact once its `contact.created` arrived
            async def opened():
                r = await admin.post(
                    "/v1/executions", json={"contact_id": contact_id, "definition_id": review["id"], **body}
                )
                assert r.status_code == 201, r.text
                return r.json()

            return await h.eventually(opened)

        third = await open_case(duplicate, metadata={"possible_duplicate_of": survivor})
        task = await first_task(third["id"])
        assert task["contact_id"] == duplicate

        # refusals: clear, and nothing merged
        merge = f"/v1/contacts/{duplicate}/merge"
        assert h.is_problem(await member.post(merge, json={"into": survivor}), 403)
        assert h.is_problem(await admin.post(merge, json={"into": duplicate}), 422)
        assert h.is_problem(await admin.post(merge, json={"into": str(uuid.uuid4())}), 422)
        assert h.is_problem(await admin.post(f"/v1/contacts/{uuid.uuid4()}/merge", json={"into": survivor}), 404)
        r = await admin.post(
            "/v1/notes", json={"entity_type": "contact", "entity_id": duplicate, "content": "called back"}
        )
        assert r.status_code == 201, r.text
        bootstrap = stack["kafka_bootstrap_servers"]
        async with (
            EventTap(bootstrap, topics.CONTACTS) as contact_events,
            EventTap(bootstrap, topics.EXECUTIONS) as case_events,
            EventTap(bootstrap, topics.TASKS) as task_events,
        ):
            r = await admin.post(merge, json={"into": survivor})
            assert r.status_code == 200, r.text
            kept = r.json()
            assert (kept["id"], kept["email"], kept["phone"]) == (survivor, pat, "478-555-0142")
            assert (kept["company"], kept["tags"], kept["metadata"]) == (
                "Bibb County",
                ["vip", "deputy"],
                {"shift": "nights"},
            )
            # merged already: says where it went, whichever side names it
            again = await admin.post(merge, json={"into": survivor})
            assert h.is_problem(again, 409) and again.json()["merged_into"] == survivor
            other_person = await contact(first_name="Sam", last_name="Roe")
            r = await admin.post(f"/v1/contacts/{other_person}/merge", json={"into": duplicate})
            assert h.is_problem(r, 409) and r.json()["merged_into"] == survivor
            assert h.is_problem(await admin.get(f"/v1/contacts/{duplicate}"), 404)

            async def repointed():
                case = (await admin.get(f"/v1/executions/{third['id']}")).json()
                assert case["contact_id"] == survivor and "possible_duplicate_of" not in case["metadata"]
                assert (await first_task(third["id"]))["contact_id"] == survivor
                # what staff wrote about the merged contact is on the survivor
                notes = (await admin.get("/v1/notes", params={"entity_type": "contact", "entity_id": survivor})).json()
                assert [n["content"] for n in notes["items"]] == ["called back"]
                return True

            await h.eventually(repointed)

            [(merged, _, _)] = await contact_events.collect(
                lambda e: e.org_id == org_id and e.type == "contact.merged", count=1, timeout=60
            )
            assert (merged.data["from_contact_id"], merged.data["into_contact_id"]) == (duplicate, survivor)
            # Kafka delivers it again; then a second merge into the same survivor (the same key,
            # so read after the copy) shows when both consumers are past the copy
            await publish(merged)
            other_id = await contact(first_name="Pat", last_name="Doe")
            other_case = (await open_case(other_id))["id"]
            await first_task(other_case)
            r = await admin.post(f"/v1/contacts/{other_id}/merge", json={"into": survivor})
            assert r.status_code == 200, r.text

            async def other_repointed():
                assert (await admin.get(f"/v1/executions/{other_case}")).json()["contact_id"] == survivor
                assert (await first_task(other_case))["contact_id"] == survivor
                return True

            await h.eventually(other_repointed)

            def repoints(event_type: str):
                return lambda e: (
                    e.org_id == org_id and e.type == event_type and "contact_id" in e.data["changed_fields"]
                )

            async def announced(tap, event_type: str) -> Counter:
                seen = await tap.collect(repoints(event_type), count=2, timeout=60)
                seen += [
                    (e, None, None)
                    for e in map(Envelope.from_bytes, (r.value for r in await tap.everything()))
                    if repoints(event_type)(e)
                ]
                return Counter(e.subject for e, _, _ in seen)

            assert await announced(case_events, "execution.updated") == {third["id"]: 1, other_case: 1}
            assert await announced(task_events, "task.updated") == {
                task["id"]: 1,
                (await first_task(other_case))["id"]: 1,
            }

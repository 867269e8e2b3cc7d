"""The activity log on the real stack: every event type of every service lands once, however
often it is delivered; the trail reads per case, contact and task and as a feed, with filters;
the service's own database role cannot change it; a rebuild from the topics gives the same rows;
each read is an index scan at 100k rows."""

import types
import typing
import uuid
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any

import asyncpg
import pydantic
from byte_contracts import EVENTS, topic_for
from byte_contracts.registry import EventSpec
from byte_executions.rebuild import rebuild
from byte_executions.settings import ExecutionsSettings


class Ids:
    """The ids one scenario's events share, so they link up as real ones do."""

    def __init__(self) -> None:
        self.case, self.contact, self.task, self.note = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        self.submission = f"sub-{uuid.uuid4().hex[:8]}"

    def by_name(self, name: str, owner: str) -> Any:
        if name in ("execution_id", "workflow_execution_id"):
            return self.case
        if name == "contact_id":
            return self.contact
        if name == "task_id":
            return self.task
        if name == "submission_id":
            return self.submission
        if name == "id":
            return {"execution": self.case, "contact": self.contact, "task": self.task, "note": self.note}.get(owner)
        if name == "entity_type":
            return "task"
        if name == "entity_id":
            return self.task
        if name == "source":
            return "formstack"
        if name == "source_id":
            return self.submission
        return None


def _value(annotation: Any, name: str, owner: str, ids: Ids) -> Any:
    """A valid value for a field, every optional one filled (so every detail shows)."""
    named = ids.by_name(name, owner)
    if named is not None:
        return named
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return typing.get_args(annotation)[0]
    if origin is typing.Annotated:
        return _value(typing.get_args(annotation)[0], name, owner, ids)
    if origin in (list, tuple, set):
        return ["status"] if name == "changed_fields" else []
    if origin is dict or annotation is dict:
        return {}
    if isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
        return sample(annotation, ids, owner=name)
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return next(iter(annotation))
    return {
        uuid.UUID: uuid.uuid4(),
        str: f"{name}-1",
        int: 2,
        float: 1.0,
        bool: True,
        datetime: datetime.now(UTC),
    }.get(annotation)


def sample(model: type[pydantic.BaseModel], ids: Ids, owner: str = "") -> pydantic.BaseModel:
    hints = typing.get_type_hints(model)
    return model.model_validate(
        {name: _value(hints[name], name, owner, ids) for name in model.model_fields}, strict=False
    )


def scenario(h, org_id: str, ids: Ids, spec: EventSpec, actor: str = "user_ann") -> Any:
    # one key per scenario: on each topic its events stay in one partition, in order
    return h.event(spec.type, org_id, str(ids.case), sample(spec.payload, ids), actor=actor)


async def trail(api, path: str = "/v1/activity", **params) -> list[dict]:
    items, cursor = [], None
    while True:
        r = await api.get(path, params={**params, "limit": 50, **({"cursor": cursor} if cursor else {})})
        assert r.status_code == 200, r.text
        items += r.json()["items"]
        if not (cursor := r.json()["next_cursor"]):
            return items


async def test_every_event_type_lands_once_and_a_rebuild_gives_the_same_rows(
    client, publish, h, org_id, executions_db, fresh_database, stack
):
    ids = Ids()
    events = [scenario(h, org_id, ids, spec) for spec in EVENTS.values()]
    for event in events:
        await publish(event)
    for event in events:  # redelivered, as after a consumer crash
        await publish(event)
    # after the copies on each topic's partition: once they show, the copies were handled
    sentinels = {topic: h.event(
        next(t for t, s in EVENTS.items() if s.topic == topic), org_id, str(ids.case),
        sample(next(s for s in EVENTS.values() if s.topic == topic).payload, ids), actor="system:sentinel")
        for topic in {topic_for(e.type) for e in events}}  # fmt: skip
    for sentinel in sentinels.values():
        await publish(sentinel)

    ours = {str(e.id) for e in [*events, *sentinels.values()]}
    async with client(roles=("guest",), user_id="user_guest") as api:

        async def all_in():
            items = await trail(api)
            missing = ours - {i["id"] for i in items}
            assert not missing, sorted(e.type for e in [*events, *sentinels.values()] if str(e.id) in missing)
            return items

        # (the service adds its own: the org's default definition, provisioned on its first event)
        items = await h.eventually(all_in)
        assert sorted(i["id"] for i in items if i["id"] in ours) == sorted(ours), "each event exactly once"
        by_action = {i["action"]: i for i in items if i["actor"] == "user_ann"}
        assert set(by_action) == set(EVENTS)
        assert {i["actor_type"] for i in items} == {"user", "system"}

        # what changed, and the links each event concerns
        assert by_action["task.status_changed"]["details"]["status"] == {"before": "todo", "after": "todo"}
        assert by_action["task.claimed"]["details"]["assigned_to"] == {"before": None, "after": "claimed_by-1"}
        assert by_action["contact.updated"]["details"]["changed"] == {"status": "active"}
        task_deleted = by_action["task.deleted"]
        assert (task_deleted["task_id"], task_deleted["execution_id"], task_deleted["contact_id"]) == (
            str(ids.task),
            str(ids.case),
            str(ids.contact),
        ), "a deleted task's contact comes from what was seen of the task"
        assert by_action["workflow.step_entered"]["contact_id"] == str(ids.contact)

        # per case: its own events, its tasks', its notes', its contact's and its submission's
        case_trail = await trail(api, f"/v1/activity/cases/{ids.case}")
        assert {i["action"] for i in case_trail} >= {"execution.created", "task.claimed", "note.created",
                                                     "contact.updated", "submission.received"}  # fmt: skip
        assert not {i["action"] for i in case_trail} & {"identity.user.updated", "definition.created"}
        task_trail = await trail(api, f"/v1/activity/tasks/{ids.task}")
        assert {i["action"] for i in task_trail} == {t for t in EVENTS if t.startswith("task.")} | {
            "note.created", "note.updated", "note.deleted"}  # fmt: skip
        contact_trail = await trail(api, f"/v1/activity/contacts/{ids.contact}")
        assert "contact.deleted" in {i["action"] for i in contact_trail}

        # filters: actor, action, a date range
        assert {i["actor"] for i in await trail(api, actor="system:sentinel")} == {"system:sentinel"}
        claimed = await trail(api, action="task.claimed")
        assert [i["id"] for i in claimed] == [str(events[[e.type for e in events].index("task.claimed")].id)]
        now = datetime.now(UTC)
        assert await trail(api, **{"from": (now + timedelta(days=1)).isoformat()}) == []
        ranged = await trail(api, **{"from": (now - timedelta(days=1)).isoformat(), "to": now.isoformat()})
        assert ours <= {i["id"] for i in ranged}
        # the dashboard's feed is the same
        assert ours <= {i["id"] for i in await trail(api, "/v1/dashboard/activity")}

    # another org sees none of it
    async with client(f"org_{uuid.uuid4().hex[:12]}") as other:
        assert await trail(other) == []
        assert await trail(other, f"/v1/activity/cases/{ids.case}") == []

    # a rebuild from the topics into an empty table ends with the same rows (compared on this
    # test's events: the org's trail may still grow from what other processes do with them)
    columns = "id, org_id, occurred_at, actor, actor_type, action, entity_type, entity_id, execution_id, " \
        "contact_id, task_id, submission_id, details::text, correlation_id"  # fmt: skip
    before = [row for row in await _rows(executions_db, org_id, columns) if str(row[0]) in ours]
    assert len(before) == len(ours)
    empty = fresh_database("executions")
    await rebuild(
        ExecutionsSettings(database_url=empty, kafka_bootstrap_servers=stack["kafka_bootstrap_servers"]),
        frozenset({org_id}),
    )
    assert [row for row in await _rows(empty, org_id, columns) if str(row[0]) in ours] == before


async def _rows(database_url: str, org_id: str, columns: str) -> list:
    conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg", "postgresql"))
    try:
        async with conn.transaction():
            await conn.execute("SELECT set_config('app.org_id', $1, true)", org_id)
            return [tuple(r) for r in await conn.fetch(f"SELECT {columns} FROM activity_log ORDER BY id")]
    finally:
        await conn.close()

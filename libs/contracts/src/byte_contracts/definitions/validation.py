"""The rules a definition must obey to be stored or run, and `Definition`, which obeys them.

`validate_definition(data)` answers every error it finds, each with a `path` into the
document (`steps[3].config.timeout`, `phases[0].id`, `steps[2].config.fields["nick name"]`;
the empty path is the document itself) and a message. Structure comes first (types, required
fields, well-formed templates, bounded durations: the models' own checks); when the structure
holds, the rules that span the definition follow:

- ids are unique: step ids, phase ids, status keys, variable names; no step is called `end`;
- the first step is the trigger, and no other step is one;
- references resolve: a step's phase, `next` / `then` / `else` / a timeout's `go_to`, a
  status key, a wait's or update's `task_step` (an `assign_task` earlier on every path; an
  approval task for `wait_for_approval`); nothing goes back to the trigger;
- every step is reachable from the trigger, every path can end, and a loop passes through a
  wait or a delay (a loop of instant steps would spin forever);
- a timeout comes with its `on_timeout` and the reverse; an escalation does something; an
  `assign_task` names an assignee; an `update_task` changes something;
- templates and condition fields read only the documented context at their step (see
  `context`); `update_contact` writes contact fields only;
- condition values fit their operator and field; variable defaults fit their type.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from byte_contracts.definitions.context import VariableRef, refs_at, why_unknown
from byte_contracts.definitions.flow import Flow
from byte_contracts.definitions.models import (
    CONTACT_FIELDS,
    END,
    LANGUAGE_VERSION,
    PATTERN_MEANINGS,
    AssignTaskStep,
    ConditionStep,
    DefinitionDraft,
    EscalateOnTimeout,
    Loc,
    Operator,
    TriggerStep,
    UpdateContactStep,
    UpdateStatusStep,
    UpdateTaskConfig,
    UpdateTaskStep,
    VariableType,
    WaitForApprovalStep,
    WaitForTaskStep,
)
from byte_contracts.definitions.templates import references
from byte_contracts.enums import StepType, TaskType
from byte_contracts.errors import DomainError, Invalid

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_STEP_TYPES = frozenset(StepType)
_TIMEOUT_ACTIONS = frozenset({"continue", "escalate", "go_to"})
_TASK_DELETED_ACTIONS = frozenset({"continue", "escalate", "on_hold"})


class DefinitionError(BaseModel):
    model_config = ConfigDict(frozen=True)

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path or '(definition)'}: {self.message}"


class InvalidDefinition(Invalid):
    """A definition was refused; `definition_errors` holds every error found."""

    title = "Invalid definition"

    def __init__(self, errors: list[DefinitionError]) -> None:
        DomainError.__init__(
            self,
            f"the definition breaks {len(errors)} rule(s): " + "; ".join(map(str, errors[:5])),
            errors=[{"field": e.path, "in": "body", "message": e.message} for e in errors],
        )
        self.definition_errors = errors


def format_path(loc: Iterable[str | int]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _NAME.match(part):
            out += f".{part}" if out else part
        else:
            out += f"[{json.dumps(part)}]"
    return out


# ----- entry points -----------------------------------------------------------------------


def validate_definition(data: Any) -> list[DefinitionError]:
    """Every error in `data` (a decoded JSON document); an empty list when it is valid."""
    if not isinstance(data, dict):
        return [DefinitionError(path="", message="a definition is a JSON object")]
    try:
        draft = DefinitionDraft.model_validate(data)
    except ValidationError as exc:
        return _structure_errors(exc)
    return rule_errors(draft)


def parse_definition(data: Any) -> Definition:
    """The valid definition `data` describes, or InvalidDefinition naming every error."""
    try:
        return Definition.model_validate(data)
    except ValidationError:
        raise InvalidDefinition(validate_definition(data)) from None


class Definition(DefinitionDraft):
    """A definition that obeys every rule: the only kind that may be stored or run.

    Built only through validation (`model_validate`, `model_validate_json`, `parse_definition`,
    or the constructor, which validates too); frozen afterwards. `model_construct`, which would
    skip the rules, is refused, and `model_copy(update=...)` validates the copy.
    """

    @model_validator(mode="after")
    def _obeys_the_rules(self) -> Self:
        errors = rule_errors(self)
        if errors:
            raise ValueError(f"the definition breaks {len(errors)} rule(s): " + "; ".join(map(str, errors)))
        return self

    @classmethod
    def model_construct(cls, _fields_set: set[str] | None = None, **values: Any) -> Self:  # type: ignore[override]
        raise TypeError("a Definition is only built through validation: use Definition.model_validate")

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        if not update:
            return super().model_copy(deep=deep)
        return type(self).model_validate({**self.model_dump(), **update})


def definition_json_schema() -> dict[str, Any]:
    """JSON Schema (2020-12) of a definition, for an editor. It covers the structure; the rules
    above (references, the graph, templates' context) are `validate_definition`'s."""
    schema = Definition.model_json_schema(by_alias=True)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **schema,
        "title": "BYTE workflow definition",
        "x-language-version": LANGUAGE_VERSION,
    }


# ----- structure --------------------------------------------------------------------------


def _structure_errors(exc: ValidationError) -> list[DefinitionError]:
    errors: list[DefinitionError] = []
    seen: set[tuple[str, str]] = set()
    for err in exc.errors(include_url=False):
        path, message = _describe(err)
        if (path, message) not in seen:
            seen.add((path, message))
            errors.append(DefinitionError(path=path, message=message))
    return errors


def _describe(err: Any) -> tuple[str, str]:
    loc = _without_union_tags(err["loc"])
    kind, ctx = err["type"], err.get("ctx", {})
    if kind == "union_tag_invalid":
        name = ctx["discriminator"].strip("'")
        return format_path((*loc, name)), f"unknown {name} {ctx['tag']!r}; one of {ctx['expected_tags']}"
    if kind == "union_tag_not_found":
        name = ctx["discriminator"].strip("'")
        return format_path((*loc, name)), "required"
    if kind == "missing":
        return format_path(loc), "required"
    if kind == "extra_forbidden":
        return format_path(loc), "unknown field"
    if kind == "string_pattern_mismatch" and ctx.get("pattern") in PATTERN_MEANINGS:
        return format_path(loc), PATTERN_MEANINGS[ctx["pattern"]]
    if kind in ("tuple_type", "list_type"):
        return format_path(loc), "must be a list"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return format_path(loc), "must be an object"
    if kind in ("value_error", "assertion_error") and "error" in ctx:
        return format_path(loc), str(ctx["error"])
    return format_path(loc), err["msg"]


def _without_union_tags(loc: tuple[str | int, ...]) -> Loc:
    """Pydantic names the union member it tried (`steps.3.assign_task.config`); the document
    has no such level."""
    out: list[str | int] = []
    for k, part in enumerate(loc):
        after_step = k >= 2 and loc[k - 2] == "steps" and isinstance(loc[k - 1], int)
        if isinstance(part, str) and (
            (after_step and part in _STEP_TYPES)
            or (k >= 1 and loc[k - 1] == "on_timeout" and part in _TIMEOUT_ACTIONS)
            or (k >= 1 and loc[k - 1] == "on_task_deleted" and part in _TASK_DELETED_ACTIONS)
        ):
            continue
        out.append(part)
    return tuple(out)


# ----- rules ------------------------------------------------------------------------------


def rule_errors(definition: DefinitionDraft) -> list[DefinitionError]:
    """The errors of a structurally sound definition against the rules spanning it."""
    rules = _Rules(definition)
    rules.check()
    return rules.errors


class _Rules:
    def __init__(self, definition: DefinitionDraft) -> None:
        self.definition = definition
        self.flow = Flow(definition)
        self.errors: list[DefinitionError] = []

    def error(self, loc: Loc, message: str) -> None:
        self.errors.append(DefinitionError(path=format_path(loc), message=message))

    def check(self) -> None:
        d = self.definition
        self.unique("phases", "id", "phase id", [p.id for p in d.phases])
        self.unique("steps", "id", "step id", [s.id for s in d.steps])
        self.unique("variables", "name", "variable name", [v.name for v in d.variables])
        self.unique("statuses", "key", "status key", [s.key for s in d.statuses])
        for i, variable in enumerate(d.variables):
            self.variable_default(i, variable)
        self.trigger()
        phases = {p.id for p in d.phases}
        for i, step in enumerate(d.steps):
            if step.id == END:
                self.error(("steps", i, "id"), f"{END!r} is reserved: it ends the case")
            if step.phase_id not in phases:
                self.error(("steps", i, "phase_id"), f"no phase {step.phase_id!r}; phases are {_listing(phases)}")
            self.targets(i, step)
            self.config(i, step)
            self.templates(i, step)
        self.graph()

    def unique(self, section: str, field: str, what: str, values: list[str]) -> None:
        first: dict[str, int] = {}
        for i, value in enumerate(values):
            if value in first:
                self.error((section, i, field), f"duplicate {what} {value!r} (also {section}[{first[value]}])")
            else:
                first[value] = i

    def variable_default(self, i: int, variable: Any) -> None:
        value = variable.default
        if value is None:
            return
        fits = {
            VariableType.STRING: isinstance(value, str),
            VariableType.NUMBER: isinstance(value, int | float) and not isinstance(value, bool),
            VariableType.BOOLEAN: isinstance(value, bool),
            VariableType.DATE: isinstance(value, str) and _is_date(value),
        }[variable.type]
        if not fits:
            shape = "a date (YYYY-MM-DD)" if variable.type == VariableType.DATE else f"a {variable.type}"
            self.error(("variables", i, "default"), f"must be {shape}, like the variable")

    def trigger(self) -> None:
        steps = self.definition.steps
        if not isinstance(steps[0], TriggerStep):
            self.error(("steps", 0, "type"), "the first step must be the trigger")
        for i, step in enumerate(steps[1:], start=1):
            if isinstance(step, TriggerStep):
                self.error(("steps", i, "type"), "only the first step may be a trigger: a definition has one")

    def targets(self, i: int, step: Any) -> None:
        if isinstance(step, ConditionStep) and step.next is not None:
            self.error(("steps", i, "next"), "a condition goes on through then / else, not next")
        found = [(("steps", i, "next"), step.next)] if step.next is not None else []
        found += [(("steps", i, "config", *loc), target) for loc, target in step.config.targets()]
        for loc, target in found:
            if target == END:
                continue
            if target not in self.flow.index:
                self.error(loc, f"no step {target!r} (use {END!r} to end the case)")
            elif self.flow.index[target] == 0:
                self.error(loc, "cannot go back to the trigger: it only starts a case")

    def config(self, i: int, step: Any) -> None:
        at = ("steps", i, "config")
        c = step.config
        if isinstance(step, AssignTaskStep) and c.assigned_role is None and c.assigned_to is None:
            self.error((*at, "assigned_role"), "an assign_task needs an assignee: assigned_role, assigned_to or both")
        if isinstance(step, WaitForTaskStep | WaitForApprovalStep | UpdateTaskStep):
            self.task_step(i, step)
        if isinstance(step, WaitForTaskStep | WaitForApprovalStep):
            if c.timeout is not None and c.on_timeout is None:
                self.error((*at, "on_timeout"), "required with a timeout: continue, escalate or go_to")
            if c.timeout is None and c.on_timeout is not None:
                self.error((*at, "on_timeout"), "there is no timeout: set timeout or remove on_timeout")
            o = c.on_timeout
            if isinstance(o, EscalateOnTimeout) and not (o.reassign_to_role or o.raise_priority_to or o.notify):
                self.error((*at, "on_timeout"), "an escalation needs reassign_to_role, raise_priority_to or notify")
        if isinstance(step, UpdateTaskStep) and all(getattr(c, name) is None for name in UpdateTaskConfig.CHANGES):
            self.error(at, f"changes nothing: give one of {', '.join(UpdateTaskConfig.CHANGES)}")
        if isinstance(step, UpdateContactStep):
            for name in c.fields:
                if name not in CONTACT_FIELDS:
                    self.error(
                        (*at, "fields", name), f"not a contact field; contact fields are {', '.join(CONTACT_FIELDS)}"
                    )
        if isinstance(step, UpdateStatusStep):
            keys = [s.key for s in self.definition.statuses]
            if c.status not in keys:
                self.error((*at, "status"), f"no status {c.status!r}; statuses are {', '.join(keys)}")
        if isinstance(step, ConditionStep):
            self.condition(i, step)

    def task_step(self, i: int, step: Any) -> None:
        loc = ("steps", i, "config", "task_step")
        target = step.config.task_step
        if target not in self.flow.index:
            self.error(loc, f"no step {target!r}")
            return
        j = self.flow.index[target]
        assign = self.flow.steps[j]
        if not isinstance(assign, AssignTaskStep):
            self.error(loc, f"step {target!r} is of type {assign.type}, not assign_task")
            return
        if isinstance(step, WaitForApprovalStep) and assign.config.task_type != TaskType.APPROVAL:
            self.error(
                loc,
                f"step {target!r} assigns a {assign.config.task_type} task: wait_for_approval needs an approval task",
            )
        if i in self.flow.reachable and j not in self.flow.earlier(i):
            self.error(loc, f"step {target!r} does not come before this step on every path to it")

    def condition(self, i: int, step: ConditionStep) -> None:
        at = ("steps", i, "config")
        c = step.config
        refs = {ref.path: ref for ref in self.known(i)}
        ref = refs.get(c.field)
        if ref is None:
            self.error((*at, "field"), why_unknown(c.field, self.definition, self.flow, i))
        value, op = c.value, c.operator
        if op == Operator.EXISTS:
            if value is not None:
                self.error((*at, "value"), "exists takes no value")
            return
        if value is None:
            self.error((*at, "value"), f"{op} needs a value")
            return
        if op in (Operator.IN, Operator.NOT_IN):
            if not isinstance(value, tuple) or not value:
                self.error((*at, "value"), f"{op} needs a non-empty list of values")
                return
            candidates = value
        elif isinstance(value, tuple):
            self.error((*at, "value"), f"{op} compares with one value, not a list")
            return
        else:
            candidates = (value,)
        kind = ref.type if ref else None
        if op in (Operator.GT, Operator.LT):
            if kind == VariableType.DATE:
                if not (isinstance(value, str) and _is_date(value)):
                    self.error((*at, "value"), f"{c.field} is a date: compare it with a date (YYYY-MM-DD)")
            elif kind in (VariableType.STRING, VariableType.BOOLEAN):
                self.error((*at, "operator"), f"{op} compares numbers and dates; {c.field} is of type {kind}")
            elif not isinstance(value, int | float) or isinstance(value, bool):
                self.error((*at, "value"), f"{op} compares with a number")
            return
        if op == Operator.CONTAINS:
            if not isinstance(value, str):
                self.error((*at, "value"), "contains looks for a text")
            return
        if ref is not None and ref.values is not None:
            for candidate in candidates:
                if candidate not in ref.values:
                    self.error(
                        (*at, "value"),
                        f"{candidate!r} is never a value of {c.field}: it is one of {', '.join(ref.values)}",
                    )

    def templates(self, i: int, step: Any) -> None:
        known = {ref.path for ref in self.known(i)}
        for loc, template in step.config.templates():
            for path in sorted(references(template)):
                if path not in known:
                    self.error(
                        ("steps", i, "config", *loc),
                        f"{{{{ {path} }}}}: {why_unknown(path, self.definition, self.flow, i)}",
                    )

    def known(self, i: int) -> list[VariableRef]:
        return refs_at(self.definition, self.flow, i)

    def graph(self) -> None:
        flow = self.flow
        for i in range(len(flow.steps)):
            if i not in flow.reachable:
                self.error(("steps", i), "unreachable: no path from the trigger leads here")
            elif i not in flow.can_end:
                self.error(("steps", i), "never ends: every path from this step loops forever")
        for loop in flow.loops_without_pause():
            names = " → ".join([flow.steps[edge.source].id for edge in loop] + [flow.steps[loop[0].source].id])
            self.error(loop[0].loc, f"loops without a wait or a delay ({names}): it would spin forever")


def _is_date(value: str) -> bool:
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return len(value) == 10


def _listing(values: Iterable[str]) -> str:
    return ", ".join(sorted(values)) or "none"

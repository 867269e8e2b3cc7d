import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from byte_contracts.enums import TaskOutcome, TaskStatus, TaskType
from byte_contracts.errors import Invalid
from byte_tasks import domain
from byte_tasks.domain import IllegalTransition, NotAllowed, TaskState


@dataclass(frozen=True)
class Who:
    user_id: str
    roles: frozenset = field(default_factory=frozenset)

    @property
    def is_admin(self) -> bool:
        return bool(self.roles & {"admin", "owner"})


ANN = Who("ann", frozenset({"reviewer"}))
BOB = Who("bob", frozenset({"user"}))
ADMIN = Who("root", frozenset({"admin"}))


def task(status="todo", task_type="standard", assigned_to=None, role=None, execution=None, created_by="ann"):
    return TaskState(TaskStatus(status), TaskType(task_type), assigned_to, role, execution, created_by)


def test_claim_refusals_name_the_reason():
    assert isinstance(domain.claim_refusal(task(role="reviewer"), BOB), NotAllowed)
    done = domain.claim_refusal(task(status="done", role="reviewer"), ANN)
    assert isinstance(done, IllegalTransition) and "done" in done.detail
    held = domain.claim_refusal(task(assigned_to="bob", role="reviewer"), ANN)
    assert isinstance(held, IllegalTransition) and held.extra == {"assigned_to": "bob"} and "bob" in held.detail
    assert "you" in domain.claim_refusal(task(assigned_to="ann"), ANN).detail
    assert domain.holds_role(task(role="reviewer"), ADMIN) and domain.holds_role(task(), BOB)


def test_status_changes_only_by_the_assignee_or_an_admin_and_done_is_final():
    mine = task(assigned_to="ann")
    assert domain.check_status_change(mine, ANN, TaskStatus.IN_PROGRESS) == "change"
    assert domain.check_status_change(mine, ANN, TaskStatus.TODO) == "noop"
    assert domain.check_status_change(mine, ANN, TaskStatus.DONE) == "complete"
    assert domain.check_status_change(mine, ADMIN, TaskStatus.DONE) == "complete"
    with pytest.raises(NotAllowed, match="assignee \\(ann\\)"):
        domain.check_status_change(mine, BOB, TaskStatus.DONE)
    with pytest.raises(NotAllowed, match="claim it first"):
        domain.check_status_change(task(), ANN, TaskStatus.IN_PROGRESS)
    with pytest.raises(IllegalTransition, match="already done"):
        domain.check_status_change(task(status="done", assigned_to="ann"), ANN, TaskStatus.DONE)
    with pytest.raises(IllegalTransition, match="reopened"):
        domain.check_status_change(task(status="done", assigned_to="ann"), ADMIN, TaskStatus.TODO)
    with pytest.raises(IllegalTransition, match="approve or reject"):
        domain.check_status_change(task(task_type="approval", assigned_to="ann"), ANN, TaskStatus.DONE)


def test_decisions_only_on_open_approval_tasks_by_the_assignee_or_an_admin():
    approval = task(task_type="approval", assigned_to="ann")
    domain.check_decision(approval, ANN, TaskOutcome.APPROVED)
    domain.check_decision(task(task_type="approval"), ADMIN, TaskOutcome.REJECTED, "no references")
    with pytest.raises(IllegalTransition, match="only approval tasks"):
        domain.check_decision(task(assigned_to="ann"), ANN, TaskOutcome.APPROVED)
    with pytest.raises(IllegalTransition, match="already done"):
        domain.check_decision(task(status="done", task_type="approval", assigned_to="ann"), ANN, TaskOutcome.REJECTED)
    with pytest.raises(NotAllowed):
        domain.check_decision(approval, BOB, TaskOutcome.REJECTED)


def test_a_rejection_needs_a_comment_unless_the_tasks_case_step_waived_it():
    standalone = task(task_type="approval", assigned_to="ann")
    of_a_case = TaskState(TaskStatus.TODO, TaskType.APPROVAL, "ann", "manager", uuid.uuid4(), "system:tasks")
    strict = TaskState(
        TaskStatus.TODO, TaskType.APPROVAL, "ann", "manager", uuid.uuid4(), "system:tasks",
        {"comment_required_on_reject": True},
    )  # fmt: skip
    for needs_one in (standalone, strict):
        with pytest.raises(Invalid, match="needs a comment"):
            domain.check_decision(needs_one, ANN, TaskOutcome.REJECTED)
        domain.check_decision(needs_one, ANN, TaskOutcome.REJECTED, "incomplete file")
        domain.check_decision(needs_one, ANN, TaskOutcome.APPROVED)
    domain.check_decision(of_a_case, ANN, TaskOutcome.REJECTED)


def test_unclaim_edit_delete_rules():
    with pytest.raises(IllegalTransition):
        domain.check_unclaim(task(), ANN)
    with pytest.raises(NotAllowed):
        domain.check_unclaim(task(assigned_to="ann"), BOB)
    domain.check_unclaim(task(assigned_to="ann"), ADMIN)
    execution = uuid.uuid4()
    domain.check_edit(task(assigned_to="bob"), BOB, {"title"})
    domain.check_edit(task(created_by="bob"), BOB, {"assigned_to"})
    with pytest.raises(NotAllowed):
        domain.check_edit(task(created_by="bob", execution=execution), BOB, {"assigned_role"})
    with pytest.raises(NotAllowed):
        domain.check_edit(task(), BOB, {"title"})
    with pytest.raises(IllegalTransition):
        domain.check_edit(task(status="done"), ADMIN, {"title"})
    domain.check_delete(task(created_by="bob"), BOB)
    domain.check_delete(task(execution=execution), ADMIN)
    with pytest.raises(NotAllowed, match="workflow execution"):
        domain.check_delete(task(created_by="bob", execution=execution), BOB)
    with pytest.raises(NotAllowed):
        domain.check_delete(task(created_by="ann"), BOB)


def test_moves_within_a_column_are_reorders_across_are_status_changes():
    assert domain.check_move(task(), BOB, TaskStatus.TODO) == "reorder"
    assert domain.check_move(task(status="done", assigned_to="ann"), BOB, TaskStatus.DONE) == "reorder"
    assert domain.check_move(task(assigned_to="ann"), ANN, TaskStatus.DONE) == "complete"
    with pytest.raises(NotAllowed):
        domain.check_move(task(assigned_to="ann"), BOB, TaskStatus.IN_PROGRESS)


def test_positions_between_neighbours_and_when_to_renumber():
    assert domain.position_between(None, None) == domain.GAP
    assert domain.position_between(2048.0, None) == 2048.0 + domain.GAP
    assert domain.position_between(None, 1024.0) == 0.0
    assert domain.position_between(1024.0, 2048.0) == 1536.0
    assert domain.position_between(5.0, 5.0) is None
    assert domain.position_between(5.0, 5.0 + domain.MIN_GAP) is None
    low, high, steps = 1024.0, 2048.0, 0
    while (mid := domain.position_between(low, high)) is not None:
        assert low < mid < high
        high, steps = mid, steps + 1
    assert steps > 15  # halvings available before a renumber is needed


def test_requested_due_dates_are_relative_to_the_request():
    at = datetime(2026, 1, 1, tzinfo=UTC)
    assert domain.requested_due_date(None, 3600, at) == at + timedelta(hours=1)
    fixed = datetime(2026, 2, 1, tzinfo=UTC)
    assert domain.requested_due_date(fixed, 3600, at) == fixed
    assert domain.requested_due_date(None, None, at) is None
    assert domain.check_requested_title("  Review  ") == "Review"
    for bad in ["", "   ", "x" * 501]:
        with pytest.raises(domain.InvalidInput):
            domain.check_requested_title(bad)

"""Recorded Applicant Review histories (approve, reject, timeout-escalation) still replay on
today's workflow code: a change that would break the cases already running fails here.
Re-record with record_histories.py only on purpose (docs/adr/0006)."""

from __future__ import annotations

import pytest
from byte_worker.workflows import CaseWorkflow
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from .conftest import HISTORIES

RECORDED = sorted(HISTORIES.glob("*.json"))


def test_the_three_applicant_review_runs_are_recorded():
    assert {p.stem for p in RECORDED} >= {
        "applicant_review_approve",
        "applicant_review_reject",
        "applicant_review_timeout_escalation",
    }


@pytest.mark.parametrize("path", RECORDED, ids=[p.stem for p in RECORDED])
async def test_a_recorded_case_replays_on_todays_code(path):
    history = WorkflowHistory.from_json(f"replay-{path.stem}", path.read_text())
    replayer = Replayer(workflows=[CaseWorkflow], data_converter=pydantic_data_converter)
    await replayer.replay_workflow(history)

"""The service's rules without I/O."""

import pytest
from byte_contracts.errors import Invalid
from byte_executions import domain

DECLARED = [
    {"name": "start_date", "type": "date", "required": True},
    {"name": "score", "type": "number", "default": 5},
    {"name": "remote", "type": "boolean"},
    {"name": "notes", "type": "string"},
]


def test_variables_are_checked_and_defaults_filled_in():
    assert domain.check_variables(DECLARED, {"start_date": "2025-03-01"}) == {"start_date": "2025-03-01", "score": 5}
    assert domain.check_variables(DECLARED, {"start_date": "2025-03-01", "score": 2.5, "remote": False}) == {
        "start_date": "2025-03-01", "score": 2.5, "remote": False,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("given", "field"),
    [
        ({}, "variables.start_date"),
        ({"start_date": None}, "variables.start_date"),
        ({"start_date": "2025-3-1"}, "variables.start_date"),
        ({"start_date": 20250301}, "variables.start_date"),
        ({"start_date": "2025-03-01", "score": True}, "variables.score"),
        ({"start_date": "2025-03-01", "remote": "yes"}, "variables.remote"),
        ({"start_date": "2025-03-01", "notes": 3}, "variables.notes"),
        ({"start_date": "2025-03-01", "other": 1}, "variables.other"),
    ],
)
def test_bad_variables_name_their_field(given, field):
    with pytest.raises(Invalid) as refused:
        domain.check_variables(DECLARED, given)
    assert refused.value.errors[0]["field"] == field


def test_the_edited_version_comes_from_if_match_or_the_body():
    assert domain.expected_version('"3"', None) == 3
    assert domain.expected_version('W/"3"', None) == 3
    assert domain.expected_version("3", 3) == 3
    assert domain.expected_version(None, 4) == 4
    for header, body in ((None, None), ('"x"', None), ('"0"', None), (None, True), (None, "2"), ('"2"', 3)):
        with pytest.raises(Invalid):
            domain.expected_version(header, body)


def test_keys():
    assert domain.key_from_name("Applicant Review") == "applicant-review"
    assert domain.key_from_name("  Déjà Vu: 2nd pass! ") == "deja-vu-2nd-pass"
    assert domain.key_from_name("2025 hires") == "definition-2025-hires"
    assert domain.key_from_name("!!!") == "definition"
    assert domain.definition_ref("applicant-review") == "applicant-review"
    with pytest.raises(Invalid):
        domain.definition_ref("Applicant Review")
    with pytest.raises(Invalid):
        domain.check_key("-leading")


def test_the_trigger_decides_who_may_open_a_case():
    steps = [{"id": "start", "type": "trigger", "config": {"sources": ["form_submission"]}}]
    domain.check_trigger(steps, "formstack")
    with pytest.raises(Invalid):
        domain.check_trigger(steps, "manual")
    with pytest.raises(Invalid):
        domain.check_trigger(steps, "api")

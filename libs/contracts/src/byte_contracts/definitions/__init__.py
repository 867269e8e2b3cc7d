"""The workflow definition language: what a case goes through, as data.

A definition is ordered steps grouped into phases, variables a case carries and the statuses
it moves through. The workflow worker walks it; the executions service stores immutable
versions of it and refuses invalid ones. Pydantic only, no I/O. docs/definitions.md describes
the language, its templates and its rules, with the Applicant Review definition as the example.

- `models`: the structure (`DefinitionDraft`, the step types and their configs);
- `templates`: `{{ dotted.path }}` templates (`render`, `references`);
- `flow`: the step graph (reachability, what comes before what);
- `context`: what a template may read at a step (`variables_at`);
- `conditions`: how a condition decides (`holds`);
- `validation`: the rules, `validate_definition`, and `Definition`, the valid kind;
- `defaults`: `applicant_review()`, every new org's definition.
"""

from byte_contracts.definitions.conditions import holds
from byte_contracts.definitions.context import (
    STEP_FIELDS,
    VariableRef,
    outcomes,
    variables_at,
)
from byte_contracts.definitions.defaults import (
    applicant_review,
    applicant_review_document,
)
from byte_contracts.definitions.models import (
    CONTACT_FIELDS,
    END,
    LANGUAGE_VERSION,
    MAX_DURATION,
    TASK_DELETED,
    TIMED_OUT,
    AssignTaskConfig,
    AssignTaskStep,
    ConditionConfig,
    ConditionStep,
    ContinueOnTaskDeleted,
    ContinueOnTimeout,
    DefinitionDraft,
    DelayConfig,
    DelayStep,
    Duration,
    Email,
    EscalateOnTaskDeleted,
    EscalateOnTimeout,
    GoToOnTimeout,
    HoldOnTaskDeleted,
    Operator,
    Phase,
    SendEmailConfig,
    SendEmailStep,
    Status,
    Step,
    TriggerConfig,
    TriggerSource,
    TriggerStep,
    UpdateContactConfig,
    UpdateContactStep,
    UpdateStatusConfig,
    UpdateStatusStep,
    UpdateTaskConfig,
    UpdateTaskStep,
    Variable,
    VariableType,
    WaitForApprovalConfig,
    WaitForApprovalStep,
    WaitForTaskConfig,
    WaitForTaskStep,
)
from byte_contracts.definitions.templates import TemplateError, references, render
from byte_contracts.definitions.validation import (
    Definition,
    DefinitionError,
    InvalidDefinition,
    definition_json_schema,
    parse_definition,
    validate_definition,
)

__all__ = [
    "CONTACT_FIELDS",
    "END",
    "LANGUAGE_VERSION",
    "MAX_DURATION",
    "STEP_FIELDS",
    "TASK_DELETED",
    "TIMED_OUT",
    "AssignTaskConfig",
    "AssignTaskStep",
    "ConditionConfig",
    "ConditionStep",
    "ContinueOnTaskDeleted",
    "ContinueOnTimeout",
    "Definition",
    "DefinitionDraft",
    "DefinitionError",
    "DelayConfig",
    "DelayStep",
    "Duration",
    "Email",
    "EscalateOnTaskDeleted",
    "EscalateOnTimeout",
    "GoToOnTimeout",
    "HoldOnTaskDeleted",
    "InvalidDefinition",
    "Operator",
    "Phase",
    "SendEmailConfig",
    "SendEmailStep",
    "Status",
    "Step",
    "TemplateError",
    "TriggerConfig",
    "TriggerSource",
    "TriggerStep",
    "UpdateContactConfig",
    "UpdateContactStep",
    "UpdateStatusConfig",
    "UpdateStatusStep",
    "UpdateTaskConfig",
    "UpdateTaskStep",
    "Variable",
    "VariableRef",
    "VariableType",
    "WaitForApprovalConfig",
    "WaitForApprovalStep",
    "WaitForTaskConfig",
    "WaitForTaskStep",
    "applicant_review",
    "applicant_review_document",
    "definition_json_schema",
    "holds",
    "outcomes",
    "parse_definition",
    "references",
    "render",
    "validate_definition",
    "variables_at",
]

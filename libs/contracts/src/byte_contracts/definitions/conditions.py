"""How a `condition` step decides, given the same context templates read.

Here, beside the language, so that the worker and anything previewing a case decide alike.

- A value that is missing, null or empty makes every operator false except `ne` and `not_in`
  (it equals nothing, so it differs from everything); `exists` asks exactly that.
- `eq`, `ne`, `in`, `not_in` compare numbers as numbers and everything else as the text a
  template would render (`true`, an ISO date, an enum's value).
- `gt`, `lt` compare numbers, or dates (a `YYYY-MM-DD` value against a date, a datetime or an
  ISO text in the context); anything else compares as false.
- `contains` looks for the value in the field's text, ignoring case.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from byte_contracts.definitions.models import ConditionConfig, Operator
from byte_contracts.definitions.templates import as_text, lookup


def holds(condition: ConditionConfig, context: Mapping[str, Any]) -> bool:
    actual = lookup(context, tuple(condition.field.split(".")))
    op, expected = condition.operator, condition.value
    if as_text(actual) == "":
        return op in (Operator.NE, Operator.NOT_IN)
    if op == Operator.EXISTS:
        return True
    if op in (Operator.EQ, Operator.NE):
        return _same(actual, expected) == (op == Operator.EQ)
    if op in (Operator.IN, Operator.NOT_IN):
        found = isinstance(expected, tuple) and any(_same(actual, item) for item in expected)
        return found == (op == Operator.IN)
    if op in (Operator.GT, Operator.LT):
        order = _order(actual, expected)
        return order is not None and (order > 0 if op == Operator.GT else order < 0)
    return isinstance(expected, str) and expected.casefold() in as_text(actual).casefold()


def _number(value: Any) -> float | None:
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return float(value)
    return None


def _same(actual: Any, expected: Any) -> bool:
    a, b = _number(actual), _number(expected)
    if a is not None and b is not None:
        return a == b
    return as_text(actual) == as_text(expected)


def _day(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value).date()
        except ValueError:
            return None
    return None


def _order(actual: Any, expected: Any) -> int | None:
    a, b = _number(actual), _number(expected)
    if a is None or b is None:
        if not isinstance(expected, str):
            return None
        a_day, b_day = _day(actual), _day(expected)
        if a_day is None or b_day is None:
            return None
        return (a_day > b_day) - (a_day < b_day)
    return (a > b) - (a < b)

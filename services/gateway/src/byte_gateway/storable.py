"""Whether a parsed JSON value can go into PostgreSQL as it is.

JSON can say things PostgreSQL cannot keep: `\\u0000` (no text or jsonb value holds NUL), a lone
surrogate such as `\\ud800` (not UTF-8, so asyncpg cannot encode it), `NaN`/`Infinity` (Python's
parser accepts them; jsonb does not), and nesting deep enough to exhaust a recursive reader.
A payload carrying any of them, anywhere, is refused as a whole before anything is written,
rather than failing halfway through a transaction as a 500.
"""

from __future__ import annotations

import math
from typing import Any

MAX_DEPTH = 64


class Unstorable(ValueError):
    def __init__(self, where: str, why: str) -> None:
        super().__init__(f"{where}: {why}")
        self.where = where
        self.why = why


def _text_fault(text: str) -> str | None:
    if "\x00" in text:
        return "contains NUL (\\u0000)"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "contains a lone surrogate (not valid Unicode)"
    return None


def ensure_storable(value: Any, *, where: str = "body", max_depth: int = MAX_DEPTH) -> None:
    """Raises `Unstorable` naming the first offending member (`body.data.first_name`).

    Walks with an explicit stack: the value may be as deep as the parser allowed."""
    pending: list[tuple[str, Any, int]] = [(where, value, 0)]
    while pending:
        path, node, depth = pending.pop()
        if isinstance(node, str):
            fault = _text_fault(node)
            if fault:
                raise Unstorable(path, fault)
        elif isinstance(node, float):
            if not math.isfinite(node):
                raise Unstorable(path, "is NaN or infinite")
        elif isinstance(node, dict | list):
            if depth >= max_depth:
                raise Unstorable(path, f"nests deeper than {max_depth} levels")
            if isinstance(node, dict):
                for key, child in node.items():
                    fault = _text_fault(key)
                    if fault:
                        raise Unstorable(f"{path} (a key)", fault)
                    pending.append((f"{path}.{key}", child, depth + 1))
            else:
                pending.extend((f"{path}[{i}]", child, depth + 1) for i, child in enumerate(node))

"""Records the JSON schema of every event type that has none yet.

Run `uv run python libs/contracts/tests/record_schemas.py` after adding an event type; never
rewrite an existing file to make the compatibility test pass.
"""

import json
from pathlib import Path

from byte_contracts import EVENTS

SNAPSHOTS = Path(__file__).parent / "schemas"


def snapshot_path(event_type: str) -> Path:
    return SNAPSHOTS / f"{event_type}.json"


def record_missing() -> list[str]:
    written = []
    for event_type, spec in EVENTS.items():
        path = snapshot_path(event_type)
        if not path.exists():
            path.write_text(json.dumps(spec.payload.model_json_schema(), indent=2, sort_keys=True) + "\n")
            written.append(event_type)
    return written


if __name__ == "__main__":
    SNAPSHOTS.mkdir(exist_ok=True)
    for name in record_missing():
        print(f"recorded {name}")

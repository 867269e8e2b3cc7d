"""The baseline of bench/cases.py: the least a case can be on Temporal. In a module of its own,
which Temporal's workflow sandbox imports (it cannot re-import a script's `__main__`)."""

from __future__ import annotations

from temporalio import workflow


@workflow.defn(name="BareCase")
class BareCase:
    """Start, wait for one signal, finish."""

    def __init__(self) -> None:
        self.decided = False

    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: self.decided)

    @workflow.signal
    def decide(self) -> None:
        self.decided = True

"""`eventually`: what it waits for, what it returns, how it fails."""

import pytest
from byte_testing import eventually


def counter():
    calls = {"n": 0}

    def tick() -> int:
        calls["n"] += 1
        return calls["n"]

    return tick


async def test_returns_the_first_truthy_value_of_a_sync_or_async_probe():
    tick = counter()
    assert await eventually(lambda: tick() >= 3 and "ready", interval=0) == "ready"

    atick = counter()

    async def rows():
        n = atick()
        return list(range(n)) if n >= 2 else []

    assert await eventually(rows, interval=0) == [0, 1]


async def test_an_assertion_in_the_probe_means_not_yet():
    tick = counter()

    def three():
        n = tick()
        assert n == 3, f"only {n}"
        return n

    assert await eventually(three, interval=0) == 3


async def test_timing_out_shows_the_last_value_or_assertion():
    with pytest.raises(AssertionError, match=r"last value: \[\]"):
        await eventually(list, timeout=0.05, interval=0.01)

    def never():
        raise AssertionError("still 2 rows")

    with pytest.raises(AssertionError, match="still 2 rows") as raised:
        await eventually(never, timeout=0.05, interval=0.01)
    assert isinstance(raised.value.__cause__, AssertionError)


async def test_other_errors_fail_at_once():
    tick = counter()

    def broken():
        tick()
        raise KeyError("bug")

    with pytest.raises(KeyError):
        await eventually(broken, timeout=5)
    assert tick() == 2  # tried once

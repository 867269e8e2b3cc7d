"""The runtime starts parts in order, stops them in reverse, and never leaves one running."""

import pytest
from byte_platform.runtime import Runtime
from byte_platform.settings import ServiceSettings


def recording(
    runtime: Runtime, log: list[str], name: str, *, fail_start: bool = False, fail_stop: bool = False
) -> None:
    async def start() -> None:
        if fail_start:
            raise RuntimeError(f"{name} cannot start")
        log.append(f"start {name}")

    async def stop() -> None:
        log.append(f"stop {name}")
        if fail_stop:
            raise RuntimeError(f"{name} cannot stop")

    runtime.add(name, start, stop)


async def test_parts_start_in_order_and_stop_in_reverse_without_http():
    log: list[str] = []
    runtime = Runtime(ServiceSettings())
    for name in ("database", "broker", "relay"):
        recording(runtime, log, name)
    async with runtime:
        log.append("serving")
    assert log == [
        "start database",
        "start broker",
        "start relay",
        "serving",
        "stop relay",
        "stop broker",
        "stop database",
    ]


async def test_a_part_that_fails_to_start_stops_those_already_started():
    log: list[str] = []
    runtime = Runtime(ServiceSettings())
    recording(runtime, log, "database")
    recording(runtime, log, "broker", fail_start=True)
    recording(runtime, log, "relay")
    with pytest.raises(RuntimeError, match="broker cannot start"):
        async with runtime:
            log.append("serving")
    assert log == ["start database", "stop database"]


async def test_a_part_that_fails_to_stop_does_not_keep_the_others_running(caplog):
    log: list[str] = []
    runtime = Runtime(ServiceSettings())
    recording(runtime, log, "database")
    recording(runtime, log, "broker", fail_stop=True)
    recording(runtime, log, "relay")
    async with runtime:
        pass
    assert log == ["start database", "start broker", "start relay", "stop relay", "stop broker", "stop database"]
    assert "stopping broker failed" in caplog.text


async def test_background_loops_are_cancelled_at_stop():
    import asyncio

    ticks: list[int] = []
    runtime = Runtime(ServiceSettings())

    async def loop() -> None:
        while True:
            ticks.append(1)
            await asyncio.sleep(0.01)

    runtime.background("ticker", loop)
    async with runtime:
        await asyncio.sleep(0.05)
    seen = len(ticks)
    await asyncio.sleep(0.05)
    assert seen > 0 and len(ticks) == seen

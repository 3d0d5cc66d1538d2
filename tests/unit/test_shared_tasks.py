"""Shutdown stops a loop even when something inside it swallowed the first cancellation."""

import asyncio

from grants_shared.tasks import stop


async def test_a_loop_that_swallows_a_cancellation_is_cancelled_again() -> None:
    swallowed = 0

    async def stubborn_loop() -> None:
        nonlocal swallowed
        while True:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                if swallowed == 0:  # as asyncio.wait_for on 3.11 can do (gh-86296)
                    swallowed += 1
                    asyncio.current_task().uncancel()
                    continue
                raise

    task = asyncio.create_task(stubborn_loop())
    await asyncio.sleep(0)
    await asyncio.wait_for(stop(task, grace=0.05), timeout=5)
    assert task.cancelled()
    assert swallowed == 1


async def test_stop_accepts_finished_and_missing_tasks() -> None:
    async def done() -> int:
        return 1

    finished = asyncio.create_task(done())
    await finished
    await stop(finished, None)
    assert finished.result() == 1

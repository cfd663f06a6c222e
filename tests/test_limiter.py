"""The adaptive concurrency limit: a bound that halves on 429s and grows back on successes."""

from __future__ import annotations

import asyncio

import pytest

from openai_gemini_vision.caption.limiter import AdaptiveLimiter


@pytest.mark.asyncio
async def test_never_more_holders_than_the_limit() -> None:
    """Thirty tasks through a limit of 4 never run more than 4 at once, and all finish."""
    limiter = AdaptiveLimiter(4)
    peak = 0
    finished = 0

    async def job() -> None:
        nonlocal peak, finished
        async with limiter:
            peak = max(peak, limiter.active)
            await asyncio.sleep(0.001)
            finished += 1

    await asyncio.gather(*(job() for _ in range(30)))
    assert (peak, finished, limiter.active) == (4, 30, 0)


def test_one_429_is_bad_luck_a_run_of_them_halves() -> None:
    """A single 429 leaves the limit alone; two in a row halve it."""
    limiter = AdaptiveLimiter(16)
    limiter.throttled()
    assert limiter.limit == 16
    limiter.succeeded()
    limiter.throttled()
    assert limiter.limit == 16
    limiter.throttled()
    assert limiter.limit == 8


def test_429s_from_requests_sent_before_a_drop_do_not_halve_again() -> None:
    """The answers still in flight at the old limit may all be 429: only one halving."""
    limiter = AdaptiveLimiter(16)
    for _ in range(2 + 16):
        limiter.throttled()
    assert limiter.limit == 8
    for _ in range(2):
        limiter.throttled()
    assert limiter.limit == 4


def test_successes_creep_back_up_to_the_maximum_only() -> None:
    """Each full round of successes adds one, never past the maximum asked for."""
    limiter = AdaptiveLimiter(4)
    limiter.throttled()
    limiter.throttled()
    assert limiter.limit == 2
    for _ in range(2):
        limiter.succeeded()
    assert limiter.limit == 3
    for _ in range(100):
        limiter.succeeded()
    assert limiter.limit == 4


@pytest.mark.asyncio
async def test_a_lowered_limit_holds_new_entrants_and_a_raised_one_lets_them_in() -> None:
    """After halving, a waiter enters only when the limit creeps back above the holders."""
    limiter = AdaptiveLimiter(2)
    await limiter.__aenter__()
    limiter.throttled()
    limiter.throttled()
    assert limiter.limit == 1
    entered = asyncio.Event()

    async def waiter() -> None:
        async with limiter:
            entered.set()

    task = asyncio.create_task(waiter())
    await asyncio.sleep(0.01)
    assert not entered.is_set()
    limiter.succeeded()
    await asyncio.wait_for(entered.wait(), 1)
    await task
    await limiter.__aexit__(None, None, None)


def test_a_limit_below_one_is_refused() -> None:
    """A zero limit would hang forever: it is refused up front."""
    with pytest.raises(ValueError, match="at least 1"):
        AdaptiveLimiter(0)

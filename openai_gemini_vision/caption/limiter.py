"""A concurrency limit that backs off when the server says "too many requests" (HTTP 429).

Additive increase, multiplicative decrease, as TCP does with congestion: a run of 429s
halves the number of requests allowed in flight; each full round of successes (as many
as the current limit) adds one back, up to the maximum asked for.
"""

from __future__ import annotations

import asyncio
from types import TracebackType

from ..errors import InvalidArgumentError

__all__ = ["AdaptiveLimiter"]


class AdaptiveLimiter:
    """An async semaphore whose size halves on repeated 429s and creeps back on successes."""

    def __init__(self, maximum: int, *, patience: int = 2) -> None:
        """Args:
        maximum: the most requests in flight at once, and the starting limit.
        patience: 429s in a row that count as "too fast" (one can be bad luck).
        """
        if maximum < 1:
            raise InvalidArgumentError(f"maximum must be at least 1, got {maximum}.")
        self.maximum = maximum
        self.limit = maximum
        self.patience = patience
        self.active = 0
        self._run = 0
        self._successes = 0
        # Responses to ignore after a drop: the requests already in flight at the old
        # limit (at most that many) answer 429 too, and must not halve it again.
        self._cooldown = 0
        self._waiters: set[asyncio.Future[None]] = set()

    async def __aenter__(self) -> None:
        while self.active >= self.limit:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.add(waiter)
            try:
                await waiter
            finally:
                self._waiters.discard(waiter)
        self.active += 1

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.active -= 1
        self._wake()

    def throttled(self) -> None:
        """Take note of a 429; halves the limit after `patience` in a row."""
        self._successes = 0
        if self._cooldown > 0:
            self._cooldown -= 1
            return
        self._run += 1
        if self._run >= self.patience:
            self._cooldown = self.limit
            self.limit = max(1, self.limit // 2)
            self._run = 0

    def succeeded(self) -> None:
        """Take note of a success; a full round of them raises the limit by one."""
        self._run = 0
        self._cooldown = max(0, self._cooldown - 1)
        if self.limit >= self.maximum:
            return
        self._successes += 1
        if self._successes >= self.limit:
            self.limit += 1
            self._successes = 0
            self._wake()

    def _wake(self) -> None:
        # Few waiters (one per worker): wake them all and let each re-check the limit.
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)

"""What the gateway holds at once: requests in flight, bytes in flight, and one body's size.

Memory stays bounded whatever clients send: a request waits for a slot among
`max_in_flight`, reads at most `max_body_bytes`, and reserves bytes against
`max_bytes_in_flight` before holding them (`request_cost`). A request that finds no room
waits up to `queue_timeout` (a burst is absorbed, not refused), then gets a 429 with
`Retry-After`; one that could never fit gets a 413.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Awaitable, Callable

from .problems import GatewayError

__all__ = ["Admission", "Ticket", "read_body", "request_cost"]

#: Copies of its body a request holds at its peak, while its images are prepared: the
#: bytes received, the parsed JSON's strings, an image's decoded bytes (3/4 of its base64)
#: and its new data URL; later the body serialized for the upstream replaces them. Checked
#: by bench_serve.py's memory workload (peak RSS against --max-bytes-in-flight).
BODY_COPIES = 4


def request_cost(body_bytes: int, image_urls: int, max_fetch_bytes: int) -> int:
    """Bytes a request may hold at its peak: its body's copies and every image URL fetched."""
    return BODY_COPIES * body_bytes + image_urls * max_fetch_bytes


class Admission:
    """Slots and bytes shared by every request of one app; waits are bounded.

    Everything runs on the event loop's thread and nothing awaits between a check and
    the count it guards, so no lock is needed. Giving back is synchronous on purpose: it
    runs in `finally` blocks of cancelled requests, where an await could be cancelled
    again (anyio's cancel scopes cancel every await inside them) and leak the slot.
    """

    def __init__(self, max_requests: int, max_bytes: int, wait: float) -> None:
        self.max_requests = max_requests
        self.max_bytes = max_bytes
        self.wait = wait
        self.requests = 0
        self.bytes = 0
        self.peak_bytes = 0
        """The most bytes ever reserved at once."""
        self._waiters: list[asyncio.Future[None]] = []

    def _busy(self, what: str) -> GatewayError:
        # Retry-After in whole seconds (RFC 9110 10.2.3): about the time a slot took to free.
        after = max(1, math.ceil(self.wait))
        return GatewayError(
            429,
            f"The gateway is full ({what}); retry after {after} s. Its operator can raise "
            "--max-in-flight / --max-bytes-in-flight or run more --workers.",
            code="gateway_busy",
            headers={"retry-after": str(after)},
        )

    async def _until(self, ready: Callable[[], bool], what: str) -> None:
        if ready():
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.wait
        while not ready():
            waiter: asyncio.Future[None] = loop.create_future()
            self._waiters.append(waiter)
            try:
                async with asyncio.timeout_at(deadline):
                    await waiter
            except TimeoutError:
                raise self._busy(what) from None
            finally:
                if not waiter.done():
                    self._waiters.remove(waiter)

    async def enter(self) -> Ticket:
        """A slot among `max_requests`, waiting up to `wait` seconds for one."""
        await self._until(
            lambda: self.requests < self.max_requests,
            f"{self.max_requests} requests in flight",
        )
        self.requests += 1
        return Ticket(self)

    def _release(self, requests: int, nbytes: int) -> None:
        self.requests -= requests
        self.bytes -= nbytes
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:  # each checks again whether there is room for it
            if not waiter.done():
                waiter.set_result(None)


class Ticket:
    """One request's slot and the bytes it reserved; `close()` gives them back."""

    def __init__(self, admission: Admission) -> None:
        self._admission = admission
        self.bytes = 0
        self._open = True

    async def reserve(self, total: int) -> None:
        """Hold `total` bytes in all (more than before: the difference is reserved)."""
        admission = self._admission
        more = total - self.bytes
        if more <= 0:
            return
        if total > admission.max_bytes:
            raise GatewayError(
                413,
                f"This request needs about {total:,} bytes of memory in the gateway, more than "
                f"its whole budget (--max-bytes-in-flight {admission.max_bytes:,}). Send "
                "smaller or fewer images, or images as data URLs rather than URLs to fetch.",
                code="request_too_large",
            )
        await admission._until(
            lambda: admission.bytes + (total - self.bytes) <= admission.max_bytes,
            f"{admission.max_bytes:,} bytes in flight",
        )
        admission.bytes += total - self.bytes
        admission.peak_bytes = max(admission.peak_bytes, admission.bytes)
        self.bytes = total

    def close(self) -> None:
        """Give back the slot and every byte reserved; a second call does nothing."""
        if self._open:
            self._open = False
            self._admission._release(1, self.bytes)


async def read_body(
    stream: Callable[[], AsyncIterator[bytes]],
    declared: int | None,
    limit: int,
    reserve: Callable[[int], Awaitable[None]],
) -> bytes:
    """The request body, refused with a 413 past `limit` bytes, its cost reserved first.

    What the body will cost (`BODY_COPIES` times its size) is reserved in one step
    before anything is read, from a declared Content-Length, so a request waiting for
    room holds nothing: requests holding part of what they need while waiting for the
    rest could wait on each other until every one timed out. A body sent without a
    Content-Length is reserved as it arrives.
    """
    if declared is not None:
        if declared > limit:
            raise _too_big(declared, limit)
        await reserve(BODY_COPIES * declared)
    chunks: list[bytes] = []
    size = 0
    async for chunk in stream():
        size += len(chunk)
        if size > limit:
            raise _too_big(size, limit, at_least=True)
        if declared is None or size > declared:
            await reserve(BODY_COPIES * size)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_big(size: int, limit: int, *, at_least: bool = False) -> GatewayError:
    amount = f"at least {size:,}" if at_least else f"{size:,}"
    return GatewayError(
        413,
        f"The request body is {amount} bytes, over the gateway's limit of {limit:,} "
        "(--max-body-bytes). Send smaller images (they are downscaled to fit Gemini's 20 MB "
        "anyway), or fewer per request.",
        code="body_too_large",
    )

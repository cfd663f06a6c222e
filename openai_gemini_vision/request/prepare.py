"""`prepare_messages`: every image part rewritten into a checked data URL, within budget.

It copies the messages, finds every image, loads each distinct image once (a URL is
fetched once, equal bytes are prepared once), fits the serialized request into
`policy.max_request_bytes` by shrinking the largest images first (`plan.py`, shared with
the estimator), and writes each image back as a data-URL part. Everything that is not an
image part is passed on as it came.

A prepared body is recognisable as such: its data URLs are the very strings this
library made (`images.prepared.prepared_image_of`), so `is_prepared` tells the client
hook, the command line and a gateway to send it on untouched rather than prepare it again.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
from pydantic import BaseModel, ConfigDict

from .. import fetch
from ..errors import FetchError
from ..images.prepared import PreparedImage, prepared_image_of
from ..policy import DEFAULT_POLICY, ImagePolicy
from .estimate import DEFAULT_MODEL, TokenEstimate, price
from .messages import image_slots
from .plan import Loader, RequestPlan, empty_parts, fit, plan_request

__all__ = [
    "DEFAULT_MODEL",
    "PreparedRequest",
    "aprepare_messages",
    "is_prepared",
    "prepare_messages",
    "prepare_messages_as",
]


class PreparedRequest(BaseModel):
    """Messages ready to send, the images in them, and what the request will cost."""

    model_config = ConfigDict(frozen=True)

    messages: list[dict[str, Any]]
    images: list[PreparedImage]
    """One entry per image part, in message order (an image used twice is listed twice)."""
    request_bytes: int
    """Length of `messages` serialized as openai sends them (compact UTF-8 JSON), without
    the rest of the body (model, tools, ...): pass that as `extra_bytes` to budget it too."""
    estimate: TokenEstimate


def is_prepared(messages: Any) -> bool:
    """Whether `messages` are plain message dicts whose every image this library prepared.

    True for `PreparedRequest.messages` (and copies of them, as openai makes) while the
    request's images are alive; such messages are sent on untouched.
    """
    if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        return False
    for message in messages:
        content = message.get("content")
        if isinstance(content, list) and any(
            isinstance(part, dict) and part.get("type") == "file" for part in content
        ):
            return False  # a PDF file part is still to be turned into pages
    return all(prepared_image_of(slot.value) is not None for slot in image_slots(messages))


@dataclass(frozen=True)
class _Pricing:
    """What prices the prepared request: model, backend, media resolution."""

    model: str | None
    backend: str | None
    media_resolution: str | None


def _build(
    plan: RequestPlan,
    fetched: Mapping[str, bytes | FetchError],
    policy: ImagePolicy,
    pricing: _Pricing,
    extra_bytes: int,
    url_of: Callable[[PreparedImage], str],
) -> PreparedRequest:
    """Load every image, fit the budget, and write the parts: the CPU-bound half."""
    loader = Loader(policy, fetched)
    try:
        for slot in plan.slots:
            loader.add(slot)
    finally:
        loader.close()
    skeleton = empty_parts(plan)
    fit(loader.entries, skeleton + extra_bytes, policy)
    images: list[PreparedImage] = []
    by_slot = {id(use.slot): (entry, use) for entry in loader.entries for use in entry.uses}
    for slot in plan.slots:
        entry, use = by_slot[id(slot)]
        image = entry.prepare()
        slot.content[slot.index]["image_url"]["url"] = url_of(image)
        relabel = use.label and use.label != image.source
        images.append(image.model_copy(update={"source": use.label}) if relabel else image)
    return PreparedRequest(
        messages=plan.messages,
        images=images,
        request_bytes=skeleton + sum(entry.room for entry in loader.entries),
        estimate=price(
            plan.messages,
            loader.entries,
            pricing.model or DEFAULT_MODEL,
            policy=policy,
            media_resolution=pricing.media_resolution,
            backend=pricing.backend,
        ),
    )


def prepare_messages(
    messages: Iterable[Any],
    *,
    model: str | None = None,
    policy: ImagePolicy | None = None,
    extra_bytes: int = 0,
    backend: str | None = None,
    media_resolution: str | None = None,
) -> PreparedRequest:
    """Rewrite every image part into a checked data URL; never mutates `messages`.

    Args:
        model: prices the token estimate; None prices it as `DEFAULT_MODEL`.
        extra_bytes: size of the rest of the request body (model, tools, ...), counted
            against `policy.max_request_bytes` with the messages.
        backend: where the request is billed, "gemini-api" (None) or "vertex-ai".
        media_resolution: the request's media resolution, if it carries one.
    """
    return _prepare(
        messages, _data_url, model, policy or DEFAULT_POLICY, extra_bytes, backend, media_resolution
    )


def _prepare(
    messages: Iterable[Any],
    url_of: Callable[[PreparedImage], str],
    model: str | None,
    policy: ImagePolicy,
    extra_bytes: int,
    backend: str | None,
    media_resolution: str | None,
) -> PreparedRequest:
    pricing = _Pricing(model, backend, media_resolution)
    plan = plan_request(messages, policy, model=model, backend=backend)
    fetched = fetch.fetch_many(plan.urls, policy) if plan.urls else {}
    return _build(plan, fetched, policy, pricing, extra_bytes, url_of)


def _data_url(image: PreparedImage) -> str:
    return image.data_url


def prepare_messages_as(
    messages: Iterable[Any],
    url_of: Callable[[PreparedImage], str],
    *,
    model: str | None = None,
    policy: ImagePolicy | None = None,
) -> PreparedRequest:
    """`prepare_messages`, with each image part's URL written as `url_of(image)`.

    Everything else is `prepare_messages` itself: the same images, checks, budget and
    estimate. `url_of` is called once per image part, in message order, with the image
    as sent; the batch build writes a marker there and splices the base64 payload into
    its JSON line, which spares building a data URL string and copying it again.
    """
    return _prepare(messages, url_of, model, policy or DEFAULT_POLICY, 0, None, None)


async def aprepare_messages(
    messages: Iterable[Any],
    *,
    model: str | None = None,
    policy: ImagePolicy | None = None,
    extra_bytes: int = 0,
    backend: str | None = None,
    media_resolution: str | None = None,
) -> PreparedRequest:
    """Async `prepare_messages`: URLs fetched concurrently, image work in a worker thread."""
    policy = policy or DEFAULT_POLICY
    pricing = _Pricing(model, backend, media_resolution)
    # Rendering a PDF or sampling a video takes seconds: off the event loop, as image work is.
    plan = await anyio.to_thread.run_sync(
        functools.partial(plan_request, messages, policy, model=model, backend=backend)
    )
    if not plan.slots:
        return _build(plan, {}, policy, pricing, extra_bytes, _data_url)
    fetched = await fetch.afetch_many(plan.urls, policy) if plan.urls else {}
    # Decoding and re-encoding (a 40 MB PNG takes seconds) must not stall the event loop;
    # anyio's thread runs under asyncio and trio alike, as openai's async client does.
    work = functools.partial(_build, plan, fetched, policy, pricing, extra_bytes, _data_url)
    return await anyio.to_thread.run_sync(work)

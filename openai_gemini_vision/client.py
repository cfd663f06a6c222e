"""Drop-in `OpenAI` / `AsyncOpenAI` clients for Gemini, and `wrap()`; nothing about pixels.

Every request of an openai client passes through `_prepare_options` (async in
`AsyncOpenAI`), inside the SDK's retry loop. The clients override it: after openai's own
preparation, a chat-completion body gets its messages prepared (`prepare_messages`), and
nothing else is touched. The SDK runs the hook again on every retry with the same body
object, so a prepared body is kept by that object's identity and a retry costs nothing.

API errors stay openai exceptions; `_make_status_error` only makes Gemini's bodies read
well (array-wrapped errors, a refused key, quota).
"""

from __future__ import annotations

import inspect
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast

import httpx2
import openai
from openai._base_client import BaseClient
from openai._models import FinalRequestOptions
from openai._utils._json import openapi_dumps

from .errors import InvalidArgumentError, MissingAPIKeyError
from .policy import DEFAULT_POLICY, ImagePolicy
from .request.prepare import PreparedRequest, aprepare_messages, is_prepared, prepare_messages
from .token_rules import backend_for_base_url, media_resolution_in

__all__ = ["GEMINI_BASE_URL", "AsyncOpenAI", "OpenAI", "wrap"]

GEMINI_BASE_URL = "https://generativelanguage.googleapis.com/v1beta/openai/"

#: Where Gemini API keys are made; named in every key error.
KEY_PAGE = "https://aistudio.google.com/apikey"
#: Google's page on rate limits and quotas, named in 429 errors.
QUOTA_PAGE = "https://ai.google.dev/gemini-api/docs/rate-limits"

_ClientT = TypeVar("_ClientT", openai.OpenAI, openai.AsyncOpenAI)

log = logging.getLogger("openai_gemini_vision")

# A prepared body is kept until this many newer ones, or this many bytes of them, have
# been made: enough for every request in flight to retry for free, without holding
# megabytes of base64 for long after the answers came back.
_CACHE_ENTRIES = 32
_CACHE_BYTES = 64_000_000


def _resolve_key(api_key: Any) -> Any:
    """The argument, else GEMINI_API_KEY, else GOOGLE_API_KEY; never OPENAI_API_KEY."""
    if isinstance(api_key, str):
        api_key = _sendable(api_key, "api_key")
        if not api_key:  # given, but blank: never quietly swapped for another key
            raise MissingAPIKeyError(
                "api_key=... was given but is blank. Pass the Gemini API key itself, or "
                "leave api_key out to read GEMINI_API_KEY (or GOOGLE_API_KEY); get a key at "
                f"{KEY_PAGE}."
            )
    if api_key:  # a string, or a callable returning one (what openai's copy() passes on)
        return api_key
    for name in ("GEMINI_API_KEY", "GOOGLE_API_KEY"):
        value = _sendable(os.environ.get(name, ""), name)
        if value:
            return value
    raise MissingAPIKeyError()


def _sendable(key: str, where: str) -> str:
    """`key` stripped, refused if a character in it cannot go in an HTTP header.

    A key read with `open("key.txt").read()` or `$(cat key.txt)` keeps its newline, and
    httpx's "Illegal header value b'Bearer <key>'" error would then print the key: the
    refusal names the position, never the key.
    """
    key = key.strip()
    bad = next((i for i, ch in enumerate(key) if not " " <= ch <= "~"), None)
    if bad is None:
        return key
    raise MissingAPIKeyError(
        f"The Gemini API key in {where} holds {key[bad]!r} at position {bad + 1} of "
        f"{len(key)}, which cannot be sent in an HTTP header (keys are plain ASCII). Copy "
        f"the key again from {KEY_PAGE} and set it without line breaks or quotes."
    )


def _resolve_base_url(base_url: Any) -> Any:
    """The argument, else GEMINI_BASE_URL, else Gemini's endpoint; never OPENAI_BASE_URL."""
    if base_url and not isinstance(base_url, openai.NotGiven):
        return base_url
    return os.environ.get("GEMINI_BASE_URL", "").strip() or GEMINI_BASE_URL


def _forget_openai_environment(
    client: openai.OpenAI | openai.AsyncOpenAI, given: Mapping[str, Any]
) -> None:
    """Drop what openai read from OPENAI_* variables: it belongs to an OpenAI account.

    OPENAI_ORG_ID and OPENAI_PROJECT_ID would go to Google as headers, OPENAI_ADMIN_KEY
    would sit on the client, and an Authorization line in OPENAI_CUSTOM_HEADERS would
    replace the Gemini key with an OpenAI one. Values passed as arguments are kept.
    """
    for name in ("organization", "project", "admin_api_key"):
        if given.get(name) is None:
            setattr(client, name, None)
    ambient = client._ambient_authorizations
    if ambient:
        client._custom_headers = {
            name: value
            for name, value in client._custom_headers.items()
            if not (name.lower() == "authorization" and value in ambient)
        }
        client._ambient_authorizations = frozenset()


class _Preparation:
    """One client's image policy, and the bodies it prepared, by identity of the input body."""

    def __init__(self, policy: ImagePolicy | None) -> None:
        self.policy = policy or DEFAULT_POLICY
        self._lock = threading.Lock()
        # id(input body) -> (input body, prepared body, its size). The input body is held
        # so that its id cannot be reused by another body while the entry lives.
        self._done: OrderedDict[int, tuple[object, dict[str, Any], int]] = OrderedDict()
        self._bytes = 0

    def pending(self, options: FinalRequestOptions) -> Mapping[str, Any] | None:
        """The chat body this request still needs prepared, or None.

        None for anything but a chat completion, for a body whose images this library
        prepared already (sent on untouched), and for a retry of a body prepared before,
        whose prepared copy goes back into `options` at no cost.
        """
        if options.method.lower() != "post":
            return None
        if not options.url.split("?", 1)[0].rstrip("/").endswith("/chat/completions"):
            return None
        body = options.json_data
        if not isinstance(body, Mapping) or "messages" not in body:
            return None
        if is_prepared(body["messages"]):
            return None
        with self._lock:
            entry = self._done.get(id(body))
            if entry is not None and entry[0] is body:
                self._done.move_to_end(id(body))
                options.json_data = entry[1]
                return None
        return body

    def arguments(
        self, body: Mapping[str, Any], options: FinalRequestOptions, base_url: object
    ) -> dict[str, Any]:
        """Keyword arguments for `prepare_messages`: model, policy, the rest's weight, and
        what prices it: the backend the base URL names, a media resolution the body holds."""
        model = body.get("model")
        rest: dict[str, Any] = {key: value for key, value in body.items() if key != "messages"}
        if isinstance(options.extra_json, Mapping):  # extra_body, merged in by openai later
            rest.update(options.extra_json)
        try:
            # The budget covers the whole body: what is not messages is sent too.
            extra_bytes = len(openapi_dumps(rest))
        except (TypeError, ValueError):  # openai will refuse to send it anyway
            extra_bytes = 0
        try:
            resolution = media_resolution_in(rest)
        except InvalidArgumentError:
            resolution = None  # the estimate's to honour, not ours to refuse: Gemini judges
        return {
            "model": model if isinstance(model, str) else None,
            "policy": self.policy,
            "extra_bytes": extra_bytes,
            "backend": backend_for_base_url(base_url),
            "media_resolution": resolution,
        }

    def store(
        self, options: FinalRequestOptions, body: Mapping[str, Any], prepared: PreparedRequest
    ) -> None:
        """Put a new body with the prepared messages into `options`; remember it for retries."""
        new_body = {**body, "messages": prepared.messages}
        size = prepared.request_bytes
        with self._lock:
            old = self._done.pop(id(body), None)
            if old is not None:
                self._bytes -= old[2]
            self._done[id(body)] = (body, new_body, size)
            self._bytes += size
            while len(self._done) > 1 and (
                len(self._done) > _CACHE_ENTRIES or self._bytes > _CACHE_BYTES
            ):
                _, (_, _, dropped) = self._done.popitem(last=False)
                self._bytes -= dropped
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "Prepared %d image(s): request %s bytes, about %s tokens",
                len(prepared.images),
                f"{size:,}",
                f"{prepared.estimate.total_tokens:,}",
            )
        options.json_data = new_body


def _error_message(status: int, message: str, error: Mapping[str, Any], max_retries: int) -> str:
    """Gemini's error text, then the fix when Gemini's text does not say it."""
    text = f"Error code: {status} - {message}" if message else f"Error code: {status}"
    reasons = {
        str(detail.get("reason"))
        for detail in error.get("details") or ()
        if isinstance(detail, Mapping)
    }
    if "API_KEY_INVALID" in reasons or "API key not valid" in message:
        return (
            f"{text} Gemini refused the API key: set GEMINI_API_KEY (or GOOGLE_API_KEY), "
            f"or pass api_key=..., with a Gemini API key from {KEY_PAGE}."
        )
    if status == 429 or error.get("status") == "RESOURCE_EXHAUSTED":
        retried = (
            f"The client retried {max_retries} time(s) with back-off; allow more with"
            if max_retries
            else "Retries are off (max_retries=0); turn them on with"
        )
        return (
            f"{text} Gemini's rate limit or quota was reached (RESOURCE_EXHAUSTED). {retried} "
            "max_retries=... (on the client or with_options), send fewer requests at once, "
            f"or raise the quota: {QUOTA_PAGE}."
        )
    return text


class _Client(Protocol):
    """What `_readable_error` reads of a client."""

    max_retries: int
    api_key: str


def _readable_error(client: _Client, err_msg: str, body: object, status: int) -> tuple[str, object]:
    """(message, body) for openai's exception: Gemini's `[{"error": {...}}]` unwrapped."""
    if (
        isinstance(body, list)
        and len(body) == 1
        and isinstance(body[0], Mapping)
        and "error" in body[0]
    ):
        body = body[0]
    error = body.get("error", body) if isinstance(body, Mapping) else None
    if isinstance(error, Mapping):
        message = error.get("message")
        text = message if isinstance(message, str) else ""
        err_msg = _error_message(status, text, error, client.max_retries)
    key = client.api_key
    if key and len(key) >= 8 and key in err_msg:  # an echoed key must not reach a log
        err_msg = err_msg.replace(key, "<api key>")
    return err_msg, body


_KEEP: Any = object()


def _copy_method(base: Callable[..., Any]) -> Callable[..., Any]:
    """openai's `copy()` / `with_options()` for a hooked client, also taking `image_policy`.

    The policy carries over to the copy unless one is given; `inspect.signature` shows
    openai's parameters plus `image_policy`, and a wrong argument is refused by openai's
    own method, in its words.
    """
    signature = inspect.signature(base)
    parameters = list(signature.parameters.values())
    policy = inspect.Parameter(
        "image_policy",
        inspect.Parameter.KEYWORD_ONLY,
        default=None,
        annotation="ImagePolicy | None",
    )
    last = len(parameters) - (parameters[-1].kind is inspect.Parameter.VAR_KEYWORD)

    def copy(self: Any, *args: Any, image_policy: Any = _KEEP, **kwargs: Any) -> Any:
        policy = self._ogv.policy if image_policy is _KEEP else image_policy
        extra = {"image_policy": policy, **kwargs.pop("_extra_kwargs", {})}
        return base(self, *args, _extra_kwargs=extra, **kwargs)

    copy.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[*parameters[:last], policy, *parameters[last:]]
    )
    copy.__doc__ = base.__doc__
    copy.__name__ = copy.__qualname__ = "copy"
    return copy


class _Hooks(BaseClient[Any, Any]):
    """What `OpenAI`, `AsyncOpenAI` and `wrap()` add to an openai client, sync or async:
    prepared messages, readable errors, and a policy that copies carry."""

    # Built on openai's common base, not on `object`: wrap() swaps an instance's class
    # for one with these hooks, which Python allows only between classes whose memory
    # layout comes from the same base.

    _ogv: _Preparation
    api_key: str

    def __init__(self, *, image_policy: ImagePolicy | None = None, **kwargs: Any) -> None:
        self._ogv = _Preparation(image_policy)
        super().__init__(**kwargs)

    @property
    def image_policy(self) -> ImagePolicy:
        """The policy every chat-completion request's images are prepared with."""
        return self._ogv.policy

    def _make_status_error(
        self, err_msg: str, *, body: object, response: httpx2.Response
    ) -> openai.APIStatusError:
        err_msg, body = _readable_error(self, err_msg, body, response.status_code)
        made: openai.APIStatusError = super()._make_status_error(
            err_msg, body=body, response=response
        )
        return made


class _SyncHooks(_Hooks, openai.OpenAI):
    """The hooks on an `openai.OpenAI`."""

    def _prepare_options(self, options: FinalRequestOptions) -> FinalRequestOptions:
        options = super()._prepare_options(options)
        body = self._ogv.pending(options)
        if body is not None:
            arguments = self._ogv.arguments(body, options, self.base_url)
            self._ogv.store(options, body, prepare_messages(body["messages"], **arguments))
        return options

    if not TYPE_CHECKING:  # keep openai's typed signature for callers
        copy = with_options = _copy_method(openai.OpenAI.copy)


class _AsyncHooks(_Hooks, openai.AsyncOpenAI):
    """The hooks on an `openai.AsyncOpenAI`; preparation runs off the event loop."""

    async def _prepare_options(self, options: FinalRequestOptions) -> FinalRequestOptions:
        options = await super()._prepare_options(options)
        body = self._ogv.pending(options)
        if body is not None:
            arguments = self._ogv.arguments(body, options, self.base_url)
            self._ogv.store(options, body, await aprepare_messages(body["messages"], **arguments))
        return options

    if not TYPE_CHECKING:  # keep openai's typed signature for callers
        copy = with_options = _copy_method(openai.AsyncOpenAI.copy)


class _GeminiDefaults(_Hooks):
    """Key and endpoint from the Gemini settings, never from OpenAI's."""

    def __init__(
        self,
        api_key: str | Callable[[], Any] | None = None,
        *,
        base_url: str | httpx2.URL | None = None,
        image_policy: ImagePolicy | None = None,
        **kwargs: Any,
    ) -> None:
        if kwargs.get("provider") is None:
            if kwargs.get("workload_identity") is None:
                api_key = _resolve_key(api_key)
            base_url = _resolve_base_url(base_url)
        super().__init__(image_policy=image_policy, api_key=api_key, base_url=base_url, **kwargs)
        _forget_openai_environment(self, kwargs)  # type: ignore[arg-type]


class OpenAI(_GeminiDefaults, _SyncHooks):
    """`openai.OpenAI` pointed at Gemini, preparing every image before it is sent."""


class AsyncOpenAI(_GeminiDefaults, _AsyncHooks):
    """`openai.AsyncOpenAI` pointed at Gemini, preparing every image before it is sent."""


_WRAPPED: dict[tuple[type[Any], type[Any]], type[Any]] = {}
_WRAPPED_LOCK = threading.Lock()


def _wrapped_class(base: type[Any], hooks: type[Any]) -> type[Any]:
    """`base` with the hooks in front, made once per class (copy() builds more of it)."""
    with _WRAPPED_LOCK:
        made = _WRAPPED.get((base, hooks))
        if made is None:
            # The base's own name: openai's User-Agent is "<class name>/Python <version>".
            made = type(base.__name__, (hooks, base), {"__module__": base.__module__})
            made.__qualname__ = base.__qualname__
            _WRAPPED[base, hooks] = made
        return made


def wrap(client: _ClientT, *, image_policy: ImagePolicy | None = None) -> _ClientT:
    """Install image preparation on an existing openai client; returns it; idempotent.

    The client keeps its key and base URL: point it at Gemini yourself
    (`base_url=GEMINI_BASE_URL`, a Gemini key). Wrapping again changes nothing, or only
    the policy when one is given; images are still prepared once per request.
    """
    if isinstance(client, _SyncHooks | _AsyncHooks):
        if image_policy is not None:
            client._ogv = _Preparation(image_policy)
        return client
    if isinstance(client, openai.OpenAI):
        hooks: type[Any] = _SyncHooks
    elif isinstance(client, openai.AsyncOpenAI):
        hooks = _AsyncHooks
    else:
        raise TypeError(
            f"wrap() takes an openai.OpenAI or openai.AsyncOpenAI client, not {type(client).__name__}."
        )
    # A subclass rather than patched methods on the instance: copy() and with_options()
    # build `self.__class__(...)`, so copies are wrapped too.
    client.__class__ = _wrapped_class(type(client), hooks)
    cast(_SyncHooks | _AsyncHooks, client)._ogv = _Preparation(image_policy)
    return client

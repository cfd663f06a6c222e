"""Who may use the gateway, and which Gemini key goes upstream for them.

A client sends a gateway key as OpenAI's SDKs send theirs (`Authorization: Bearer`),
so changing `OPENAI_API_KEY` and `OPENAI_BASE_URL` is all a client needs. Keys are
compared in constant time: each is hashed to a fixed length first and compared with
`hmac.compare_digest`, every configured key every time, so neither a key's length nor
which key matched shows in the time taken. With no gateway key configured, only
loopback peers are served (a user's own server may bind wider than `ogv serve` lets it).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

from .config import ServeConfig, is_loopback
from .problems import GatewayError

__all__ = ["Authenticator", "bearer_token"]

#: The header a client puts its own Gemini key in when a gateway key takes Authorization.
CLIENT_KEY_HEADER = "x-goog-api-key"


def bearer_token(headers: Mapping[str, str]) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, if there is one."""
    value = headers.get("authorization")
    if not value:
        return None
    scheme, _, token = value.strip().partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode("utf-8", "surrogateescape")).digest()


class Authenticator:
    """Checks a request's gateway key and picks the Gemini key sent upstream for it."""

    def __init__(self, config: ServeConfig) -> None:
        self._digests = [_digest(key.get_secret_value()) for key in config.gateway_keys]
        self._forward = config.forward_client_key
        self._server_key = config.upstream_key.get_secret_value() if config.upstream_key else None

    def upstream_key(self, headers: Mapping[str, str], peer: str | None) -> str:
        """The Gemini key to send for this request, or a 401 in OpenAI's shape."""
        token = bearer_token(headers)
        if self._digests:
            if token is None:
                raise _unauthorized(
                    "No gateway key was sent. Send it as OpenAI's SDKs send a key "
                    "(Authorization: Bearer <key>; OPENAI_API_KEY=<key> for most clients)."
                )
            given = _digest(token)
            matched = False
            for digest in self._digests:
                matched |= hmac.compare_digest(given, digest)
            if not matched:
                raise _unauthorized(
                    "The gateway key sent is not one of this gateway's keys. Ask its operator "
                    "for a key, and send it as Authorization: Bearer <key>."
                )
        elif peer is None or not is_loopback(peer):
            raise _unauthorized(
                "This gateway has no keys, so it serves its own machine only. Its operator "
                "can give clients a key with --api-key (or OGV_SERVE_API_KEYS)."
            )
        if not self._forward:
            assert self._server_key is not None  # check_exposure refused a config without
            return self._server_key
        own = headers.get(CLIENT_KEY_HEADER, "").strip()
        if own:
            return own
        if not self._digests and token:
            return token
        where = (
            f"in the {CLIENT_KEY_HEADER} header (Authorization carries the gateway key)"
            if self._digests
            else f"as Authorization: Bearer <key> or in the {CLIENT_KEY_HEADER} header"
        )
        raise _unauthorized(
            f"This gateway sends each client's own Gemini key upstream: send yours {where}. "
            "Keys come from https://aistudio.google.com/apikey."
        )


def _unauthorized(message: str) -> GatewayError:
    return GatewayError(
        401,
        message,
        code="invalid_api_key",
        headers={"www-authenticate": 'Bearer realm="ogv serve"'},
    )

"""Who may use the gateway: gateway keys, loopback only without one, never an open relay."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

pytest.importorskip("uvicorn", reason="the gateway's tests need the 'serve' extra")

import httpx2
import openai
from pydantic import SecretStr

from openai_gemini_vision import ImagePolicy, InvalidArgumentError, MissingAPIKeyError
from openai_gemini_vision.serve import ServeConfig, check_exposure, create_app
from openai_gemini_vision.serve.auth import Authenticator
from openai_gemini_vision.serve.problems import GatewayError

from .fakegemini import FakeGemini
from .servekit import GATEWAY_KEY, MODEL, UPSTREAM_KEY, config_for, running

SECOND_KEY = "second-gateway-key-abcdefghijklmnop"


def test_wrong_or_missing_gateway_key_is_a_401_in_openai_shape(fake: FakeGemini) -> None:
    """A client without the right key gets OpenAI's authentication error, and nothing is sent."""
    with running(config_for(fake)) as gateway:
        wrong = openai.OpenAI(base_url=gateway.base_url, api_key="not-the-key", max_retries=0)
        with pytest.raises(openai.AuthenticationError) as caught:
            wrong.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "x"}])
        missing = httpx2.post(
            f"{gateway.base_url}/chat/completions",
            json={"model": MODEL, "messages": [{"role": "user", "content": "x"}]},
        )
        models = httpx2.get(f"{gateway.base_url}/models")
    assert caught.value.status_code == 401
    assert isinstance(caught.value.body, dict)
    assert caught.value.body["type"] == "authentication_error"
    assert missing.status_code == 401
    assert "Authorization: Bearer" in missing.json()["error"]["message"]
    assert models.status_code == 401
    assert fake.requests == []


def test_every_configured_key_is_accepted(fake: FakeGemini) -> None:
    """Each of several gateway keys lets its client in."""
    keys = (SecretStr(GATEWAY_KEY), SecretStr(SECOND_KEY))
    with running(config_for(fake, gateway_keys=keys)) as gateway:
        for key in (GATEWAY_KEY, SECOND_KEY):
            client = openai.OpenAI(base_url=gateway.base_url, api_key=key)
            client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "x"}])
    assert len(fake.requests) == 2
    # The gateway key never goes upstream; the server's Gemini key does.
    assert set(fake.authorizations) == {f"Bearer {UPSTREAM_KEY}"}


def test_keys_compared_whatever_their_length() -> None:
    """A prefix, an extension or an empty token of a key is refused; the key itself passes."""
    auth = Authenticator(
        ServeConfig(gateway_keys=(SecretStr(GATEWAY_KEY),), upstream_key=SecretStr(UPSTREAM_KEY))
    )
    assert auth.upstream_key({"authorization": f"Bearer {GATEWAY_KEY}"}, "10.0.0.1") == UPSTREAM_KEY
    for token in (GATEWAY_KEY[:-1], GATEWAY_KEY + "x", "", GATEWAY_KEY.upper()):
        with pytest.raises(GatewayError) as caught:
            auth.upstream_key({"authorization": f"Bearer {token}"}, "127.0.0.1")
        assert caught.value.status == 401


def test_refuses_to_listen_beyond_loopback_without_a_key() -> None:
    """No gateway key and a public bind address: refused, saying it would be an open relay."""
    config = ServeConfig(upstream_key=SecretStr(UPSTREAM_KEY))
    wide = ("0.0.0.0", "::", "192.168.1.10", "example.org")  # noqa: S104 - refused, not bound
    for host in wide:
        with pytest.raises(InvalidArgumentError, match="open relay"):
            check_exposure(config, host)
    for host in ("127.0.0.1", "::1", "localhost", "127.0.0.2"):
        check_exposure(config, host)


def test_without_a_server_key_it_says_which_variable_to_set() -> None:
    """No GEMINI_API_KEY and no --forward-client-key: a MissingAPIKeyError naming both."""
    with pytest.raises(MissingAPIKeyError, match=r"GEMINI_API_KEY.*--forward-client-key"):
        create_app(ServeConfig(upstream_key=None), host="127.0.0.1")


def test_short_gateway_keys_are_refused() -> None:
    """A gateway key under 16 characters is refused with how to make a good one."""
    config = ServeConfig(gateway_keys=(SecretStr("short"),), upstream_key=SecretStr(UPSTREAM_KEY))
    with pytest.raises(InvalidArgumentError, match=r"secrets\.token_urlsafe"):
        check_exposure(config, "0.0.0.0")  # noqa: S104 - refused, not bound


def test_policy_cannot_open_local_files_or_every_private_address() -> None:
    """A gateway policy reading local files, or private URLs without host names, is refused."""
    with pytest.raises(ValueError, match="allow_local_files"):
        ServeConfig(policy=ImagePolicy(allow_local_files=True))
    with pytest.raises(ValueError, match="name the hosts"):
        ServeConfig(policy=ImagePolicy(allow_private_urls=True))


def _asgi_call(app: Any, peer: str, headers: list[tuple[bytes, bytes]]) -> int:
    """One GET /v1/models through the ASGI app directly, from `peer`; returns the status."""
    sent: list[dict[str, Any]] = []

    async def run() -> None:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": "/v1/models",
            "raw_path": b"/v1/models",
            "query_string": b"",
            "root_path": "",
            "headers": headers,
            "client": (peer, 40000),
            "server": ("127.0.0.1", 8080),
            "state": {},
        }

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await app(scope, receive, send)

    asyncio.run(run())
    status: int = sent[0]["status"]
    body = b"".join(m.get("body", b"") for m in sent[1:])
    assert "error" in json.loads(body)
    return status


def test_app_without_keys_serves_loopback_peers_only() -> None:
    """Under a user's own server bound wide, a keyless app still refuses non-loopback peers."""
    app = create_app(ServeConfig(upstream_key=SecretStr(UPSTREAM_KEY)))
    assert _asgi_call(app, "203.0.113.7", []) == 401

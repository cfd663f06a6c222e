"""`ServeConfig`: everything `ogv serve` and `create_app` can be told, in one immutable value.

Keys are `SecretStr`, so a config printed, logged or put in an exception shows none of
them. The checks that keep the gateway from becoming an open relay live here too
(`check_exposure`), so the command line and a user's own server refuse alike.
"""

from __future__ import annotations

import ipaddress
import json
import os
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from ..errors import InvalidArgumentError, MissingAPIKeyError
from ..policy import ImagePolicy

__all__ = [
    "CONFIG_ENVIRONMENT",
    "GATEWAY_KEYS_ENVIRONMENT",
    "LogFormat",
    "ServeConfig",
    "check_exposure",
    "gateway_keys_from_environment",
    "is_loopback",
]

#: Where `ogv serve --workers N` hands the config to its worker processes.
CONFIG_ENVIRONMENT = "OGV_SERVE_CONFIG"
#: Gateway keys, comma-separated: kept out of `ps` listings, unlike `--api-key`.
GATEWAY_KEYS_ENVIRONMENT = "OGV_SERVE_API_KEYS"

LogFormat = Literal["text", "json", "off"]

_GEMINI_OPENAI = "https://generativelanguage.googleapis.com/v1beta/openai/"


class ServeConfig(BaseModel):
    """How the gateway authenticates, where it forwards, and the limits it keeps."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    upstream: str = Field(
        default_factory=lambda: os.environ.get("GEMINI_BASE_URL", "").strip() or _GEMINI_OPENAI
    )
    """The OpenAI-compatible endpoint requests go to; `/v1/<path>` becomes `<upstream><path>`."""

    gateway_keys: tuple[SecretStr, ...] = ()
    """Keys clients must send as `Authorization: Bearer <key>`; none: loopback only."""

    upstream_key: SecretStr | None = Field(default_factory=lambda: _key_from_environment())
    """The Gemini key sent upstream: the server's GEMINI_API_KEY (or GOOGLE_API_KEY)."""

    forward_client_key: bool = False
    """Send each client's own Gemini key upstream instead of `upstream_key`: its
    `x-goog-api-key` header, else (with no gateway keys) its bearer token."""

    policy: ImagePolicy = ImagePolicy()
    """How images are prepared; local files stay refused (message JSON comes from strangers)."""

    private_hosts: frozenset[str] = frozenset()
    """Host names whose images may be fetched from private or loopback addresses: a
    request whose image URLs all name these hosts is fetched with the address checks
    lifted for them alone."""

    prepare_threads: int = Field(default_factory=lambda: max(4, 2 * (os.cpu_count() or 1)), gt=0)
    """Worker threads for image work at once: pixel work is CPU-bound, and each thread
    may hold a decoded image, so more threads than this only hold more memory."""

    max_body_bytes: int = Field(default=50_000_000, gt=0)
    """Largest request body read (413 beyond): a 20 MB image sent as base64 is 27 MB."""

    max_in_flight: int = Field(default=256, gt=0)
    """Requests handled at once; more wait up to `queue_timeout`, then get 429."""

    max_bytes_in_flight: int = Field(default=1_000_000_000, gt=0)
    """Bytes all requests in flight may hold at once (bodies, fetched images, prepared
    bodies, counted as `limits.request_cost` says); more wait, then get 429."""

    queue_timeout: float = Field(default=5.0, ge=0)
    """Seconds a request waits for room before the gateway answers 429."""

    request_timeout: float = Field(default=300.0, gt=0)
    """Seconds for one request: preparing its images, then waiting for each upstream read."""

    connect_timeout: float = Field(default=10.0, gt=0)
    """Seconds to connect to the upstream."""

    log_format: LogFormat = "text"
    """One access-log line per request, as text or JSON, or none."""

    @field_validator("upstream")
    @classmethod
    def _upstream_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(
                f"upstream must be an http(s) URL such as {_GEMINI_OPENAI}, not {value!r}"
            )
        return value if value.endswith("/") else value + "/"

    @field_validator("policy")
    @classmethod
    def _no_local_files(cls, value: ImagePolicy) -> ImagePolicy:
        if value.allow_local_files:
            raise ValueError(
                "a gateway's messages come from its clients, so ImagePolicy(allow_local_files="
                "True) would let any of them read the server's files; leave it False"
            )
        if value.allow_private_urls and not value.allowed_hosts:
            raise ValueError(
                "ImagePolicy(allow_private_urls=True) would let any client make the gateway "
                "fetch from its own network; name the hosts instead (private_hosts=..., "
                "--allow-private-host NAME), or set allowed_hosts as well"
            )
        return value

    def to_environment(self) -> str:
        """The config as JSON, keys included, for worker processes of the same server."""
        data = self.model_dump(mode="json")
        data["gateway_keys"] = [key.get_secret_value() for key in self.gateway_keys]
        data["upstream_key"] = self.upstream_key.get_secret_value() if self.upstream_key else None
        return json.dumps(data)

    @classmethod
    def from_environment(cls) -> ServeConfig:
        """The config `ogv serve` left in OGV_SERVE_CONFIG for this worker process."""
        text = os.environ.get(CONFIG_ENVIRONMENT)
        if not text:
            raise InvalidArgumentError(
                f"{CONFIG_ENVIRONMENT} is not set: start workers with `ogv serve --workers N`, "
                "or build the app with openai_gemini_vision.serve.create_app(ServeConfig(...))."
            )
        return cls.model_validate_json(text)


def _key_from_environment() -> SecretStr | None:
    for name in ("GEMINI_API_KEY", "GOOGLE_API_KEY"):
        value = os.environ.get(name, "").strip()
        if value:
            return SecretStr(value)
    return None


def gateway_keys_from_environment() -> tuple[SecretStr, ...]:
    """The gateway keys in OGV_SERVE_API_KEYS (comma-separated), blanks dropped."""
    text = os.environ.get(GATEWAY_KEYS_ENVIRONMENT, "")
    return tuple(SecretStr(key.strip()) for key in text.split(",") if key.strip())


def is_loopback(host: str) -> bool:
    """Whether `host` (what the server binds to) is reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_exposure(config: ServeConfig, host: str | None) -> None:
    """Refuse a config that would relay strangers' requests with the server's key.

    `host` is the address the server binds to (None: unknown, as under a user's own
    server, where only the key checks apply).
    """
    if not config.forward_client_key and config.upstream_key is None:
        raise MissingAPIKeyError(
            "The gateway has no Gemini key to send upstream. Set GEMINI_API_KEY (or "
            "GOOGLE_API_KEY) where it runs, or pass --forward-client-key so that each client's "
            "own Gemini key is sent; get a key at https://aistudio.google.com/apikey."
        )
    if host is not None and not config.gateway_keys and not is_loopback(host):
        raise InvalidArgumentError(
            f"Refusing to listen on {host} without a gateway key: anyone who can reach it "
            "could spend the Gemini key and make the server fetch URLs for them (an open "
            "relay). Give clients a key with --api-key KEY (or OGV_SERVE_API_KEYS=k1,k2), "
            "or listen on 127.0.0.1."
        )
    for key in config.gateway_keys:
        value = key.get_secret_value()
        if len(value) < 16 or not value.isascii() or not value.isprintable():
            raise InvalidArgumentError(
                f"A gateway key of {len(value)} characters is too easy to guess or cannot be "
                "sent in a header: use at least 16 printable ASCII characters, e.g. from "
                "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`."
            )

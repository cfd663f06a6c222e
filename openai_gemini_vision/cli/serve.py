"""`ogv serve`: run the OpenAI-compatible gateway on uvicorn."""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

import click
from pydantic import SecretStr, ValidationError

from ..errors import InvalidArgumentError
from ..policy import Detail, ImagePolicy
from ._common import debug_option

__all__ = ["serve"]

INSTALL_HINT = "pip install 'openai-gemini-vision[serve]'"


def _modules() -> tuple[Any, Any]:
    """uvicorn and our serve package, or a one-line error saying how to install them."""
    try:
        import uvicorn

        from .. import serve as gateway
    except ImportError as exc:
        raise click.ClickException(
            f"ogv serve needs the 'serve' extra ({exc.name or 'a package'} is not installed): "
            f"{INSTALL_HINT}"
        ) from None
    return uvicorn, gateway


def _log_to_stderr(debug: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("openai_gemini_vision.serve")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if debug else logging.INFO)
    logger.propagate = False


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Processes serving the same port (each keeps its own limits and metrics).",
)
@click.option(
    "--api-key",
    "api_keys",
    multiple=True,
    metavar="KEY",
    help="A key clients must send (Authorization: Bearer KEY); repeatable. Also "
    "OGV_SERVE_API_KEYS=k1,k2, which keeps keys out of process listings. Without "
    "one, only 127.0.0.1 / ::1 may be listened on.",
)
@click.option(
    "--upstream",
    metavar="URL",
    default=None,
    help="OpenAI-compatible endpoint to forward to [default: GEMINI_BASE_URL, else Gemini's].",
)
@click.option(
    "--forward-client-key",
    is_flag=True,
    help="Send each client's own Gemini key upstream (x-goog-api-key, or its bearer "
    "token when there are no gateway keys) instead of GEMINI_API_KEY.",
)
@click.option(
    "--allow-host",
    "allowed_hosts",
    multiple=True,
    metavar="NAME",
    help="Only fetch image URLs from these hosts; repeatable [default: any public host].",
)
@click.option(
    "--allow-private-host",
    "private_hosts",
    multiple=True,
    metavar="NAME",
    help="Fetch image URLs from this host even at a private or loopback address; "
    "repeatable. Such addresses stay refused for every other name.",
)
@click.option(
    "--detail",
    type=click.Choice(["low", "high", "auto"]),
    default="auto",
    show_default=True,
    help="Default image detail (a part's own detail wins).",
)
@click.option(
    "--max-body-bytes",
    type=click.IntRange(1),
    default=50_000_000,
    show_default=True,
    help="Largest request body accepted (413 beyond).",
)
@click.option(
    "--max-in-flight",
    type=click.IntRange(1),
    default=256,
    show_default=True,
    help="Requests handled at once; more wait --queue-timeout, then get 429.",
)
@click.option(
    "--max-bytes-in-flight",
    type=click.IntRange(1),
    default=1_000_000_000,
    show_default=True,
    help="Bytes all requests in flight may hold (bounds memory).",
)
@click.option(
    "--queue-timeout",
    type=click.FloatRange(0),
    default=5.0,
    show_default=True,
    help="Seconds a request waits for room before a 429.",
)
@click.option(
    "--request-timeout",
    type=click.FloatRange(0, min_open=True),
    default=300.0,
    show_default=True,
    help="Seconds for preparing images, and for each upstream wait.",
)
@click.option(
    "--grace",
    type=click.FloatRange(0),
    default=30.0,
    show_default=True,
    help="On SIGTERM, seconds to finish requests in flight before stopping.",
)
@click.option(
    "--log-format",
    type=click.Choice(["text", "json", "off"]),
    default="text",
    show_default=True,
    help="Access log on stderr: one line per request.",
)
@debug_option
def serve(
    host: str,
    port: int,
    workers: int,
    api_keys: tuple[str, ...],
    upstream: str | None,
    forward_client_key: bool,
    allowed_hosts: tuple[str, ...],
    private_hosts: tuple[str, ...],
    detail: Detail,
    max_body_bytes: int,
    max_in_flight: int,
    max_bytes_in_flight: int,
    queue_timeout: float,
    request_timeout: float,
    grace: float,
    log_format: str,
) -> None:
    """Serve an OpenAI-compatible endpoint that prepares images, then forwards to Gemini.

    \b
    Point any OpenAI client at it:
      OPENAI_BASE_URL=http://127.0.0.1:8080/v1 OPENAI_API_KEY=<gateway key>

    \b
    Examples:
      GEMINI_API_KEY=... ogv serve
      GEMINI_API_KEY=... OGV_SERVE_API_KEYS=$(cat keys) ogv serve --host 0.0.0.0
    """
    uvicorn, gateway = _modules()
    from ..serve.config import gateway_keys_from_environment

    keys = tuple(SecretStr(k) for k in api_keys) + gateway_keys_from_environment()
    settings: dict[str, Any] = {
        "gateway_keys": keys,
        "forward_client_key": forward_client_key,
        "policy": ImagePolicy(detail=detail, allowed_hosts=frozenset(allowed_hosts) or None),
        "private_hosts": frozenset(private_hosts),
        "max_body_bytes": max_body_bytes,
        "max_in_flight": max_in_flight,
        "max_bytes_in_flight": max_bytes_in_flight,
        "queue_timeout": queue_timeout,
        "request_timeout": request_timeout,
        "log_format": log_format,
    }
    if upstream:
        settings["upstream"] = upstream
    try:
        config = gateway.ServeConfig(**settings)
    except ValidationError as exc:
        problems = "; ".join(error["msg"] for error in exc.errors())
        raise InvalidArgumentError(problems) from None
    gateway.check_exposure(config, host)
    debug = bool(click.get_current_context().meta.get("ogv.debug"))
    _log_to_stderr(debug)
    who = f"{len(keys)} gateway key(s)" if keys else "no gateway key: this machine only"
    click.echo(
        f"ogv serve: forwarding to {config.upstream} ({who}); clients use "
        f"OPENAI_BASE_URL=http://{host}:{port}/v1",
        err=True,
    )
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "timeout_graceful_shutdown": grace,
        "access_log": False,  # ours has the request id, images and tokens
        "log_level": "debug" if debug else "info",
        "server_header": False,
    }
    if workers == 1:
        uvicorn.run(gateway.create_app(config, host=host), **options)
        return
    os.environ[gateway.config.CONFIG_ENVIRONMENT] = config.to_environment()
    uvicorn.run(
        "openai_gemini_vision.serve.app:app_from_environment",
        factory=True,
        workers=workers,
        **options,
    )

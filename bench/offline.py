"""Keep the benchmarks on loopback: any other connection or name lookup is refused and counted.

The anchors (google-genai, LiteLLM) are timed through their local functions only, but a
library may still phone home on import (LiteLLM fetches a price list unless told not to).
A download inside a timed recipe would measure the network, and this suite must not
send traffic anywhere but 127.0.0.1, so an audit hook refuses it and `blocked` records
it for RESULTS.md.
"""

from __future__ import annotations

import os
import socket
import sys
from typing import Any

__all__ = ["blocked", "forbid_network"]

_LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})

blocked: list[str] = []
"""Each refused connection or lookup, as "host:port", in the order they were tried."""

_installed = False


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if event == "socket.connect":
        sock, address = args
        if sock.family not in {socket.AF_INET, socket.AF_INET6}:
            return  # a Unix socket never leaves the machine
        host, port = address[0], address[1]
    elif event == "socket.getaddrinfo":
        host, port = args[0], args[1]
    else:
        return
    if isinstance(host, bytes):
        host = host.decode()
    if host is None or host in _LOOPBACK:
        return
    blocked.append(f"{host}:{port}")
    raise PermissionError(f"benchmarks reach only loopback, not {host}:{port}")


def forbid_network() -> None:
    """Refuse every connection and lookup outside loopback in this process, from now on."""
    global _installed
    # Tell LiteLLM to use its bundled price list rather than download one at import.
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    os.environ.setdefault("LITELLM_OFFLINE_MODE", "true")
    if not _installed:
        sys.addaudithook(_hook)  # audit hooks cannot be removed: install exactly one
        _installed = True

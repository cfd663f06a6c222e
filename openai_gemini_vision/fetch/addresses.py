"""Which IP addresses an image fetch may connect to: public ones only, by an explicit table.

The table follows IANA's special-purpose address registries (RFC 6890 and updates:
https://www.iana.org/assignments/iana-ipv4-special-registry and
https://www.iana.org/assignments/iana-ipv6-special-registry), so the answer does not
depend on which Python patch release is running (`ipaddress.is_private` gained entries
in 3.11.10 / 3.12.4). IPv6 addresses that carry an IPv4 address a gateway will connect
to (IPv4-mapped, 6to4, NAT64, ISATAP) are judged by that IPv4 address.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import TypeAlias

__all__ = ["IPAddress", "literal_address", "refusal"]

IPAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address

_V4 = ipaddress.IPv4Network
_V6 = ipaddress.IPv6Network

#: (network, what it is): never a public image host.
_NOT_PUBLIC: tuple[tuple[_V4 | _V6, str], ...] = (
    (_V4("0.0.0.0/8"), "unspecified"),
    (_V4("10.0.0.0/8"), "private"),
    (_V4("100.64.0.0/10"), "shared (carrier-grade NAT)"),
    (_V4("127.0.0.0/8"), "loopback"),
    (_V4("169.254.0.0/16"), "link-local (cloud metadata services live there)"),
    (_V4("172.16.0.0/12"), "private"),
    (_V4("192.0.0.0/24"), "IETF protocol assignments"),
    (_V4("192.0.2.0/24"), "documentation"),
    (_V4("192.88.99.0/24"), "6to4 relay"),
    (_V4("192.168.0.0/16"), "private"),
    (_V4("198.18.0.0/15"), "benchmarking"),
    (_V4("198.51.100.0/24"), "documentation"),
    (_V4("203.0.113.0/24"), "documentation"),
    (_V4("224.0.0.0/4"), "multicast"),
    (_V4("240.0.0.0/4"), "reserved"),
    (_V6("::/128"), "unspecified"),
    (_V6("::1/128"), "loopback"),
    (_V6("::/96"), "IPv4-compatible (deprecated)"),
    (_V6("64:ff9b:1::/48"), "local-use NAT64"),  # RFC 8215: a local gateway's prefix
    (_V6("100::/64"), "discard-only"),
    (_V6("2001::/23"), "IETF protocol assignments (Teredo included)"),
    (_V6("2001:db8::/32"), "documentation"),
    (_V6("3fff::/20"), "documentation"),
    (_V6("5f00::/16"), "segment routing"),
    (_V6("fc00::/7"), "private (unique local)"),
    (_V6("fe80::/10"), "link-local"),
    (_V6("fec0::/10"), "site-local (deprecated)"),
    (_V6("ff00::/8"), "multicast"),
)

#: RFC 6052's well-known NAT64 prefix: the last 32 bits are the IPv4 address reached.
_NAT64 = _V6("64:ff9b::/96")

#: RFC 5214 (ISATAP), 6.1: an interface identifier of 0000:5efe or 0200:5efe (the
#: universal/local bit set) followed by an IPv4 address, under any 64-bit prefix. A host
#: that routes ISATAP delivers to that IPv4 address, whatever the prefix in front.
_ISATAP_IDS = frozenset({0x00005EFE, 0x02005EFE})


def _embedded(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one stands for: mapped, 6to4, NAT64 or ISATAP; else None."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    low = int(address) & 0xFFFFFFFF
    if address in _NAT64 or (int(address) >> 32) & 0xFFFFFFFF in _ISATAP_IDS:
        return ipaddress.IPv4Address(low)
    return None


def refusal(address: IPAddress) -> str | None:
    """Why a connection to `address` is refused, or None when it is a public address."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded(address)
        if embedded is not None:
            reason = refusal(embedded)
            return f"{reason}, inside the IPv6 address {address}" if reason else None
        if address.scope_id:
            return f"the scoped (link-local) address {address}"
    for network, kind in _NOT_PUBLIC:
        if address.version == network.version and address in network:
            return f"the {kind} address {address}"
    if not address.is_global:  # whatever else this Python knows to be non-global
        return f"the not globally routable address {address}"
    return None


def literal_address(host: str) -> IPAddress | None:
    """The address an IP-literal host means, in any spelling inet_aton takes; else None."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if ":" in host:
        return None
    try:
        # "2130706433", "0x7f.1", "0177.0.0.1", "127.1": spellings C's resolver accepts.
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except (OSError, ValueError, UnicodeError):
        return None

"""Which addresses an input download may reach: only public ones, judged after resolution in
every spelling of a host (numeric IPv4 forms, IPv6 with an IPv4 inside, trailing dots), unless
the user trusts a network. The checked address is the one the download connects to."""

from __future__ import annotations

import ipaddress
import re
import socket
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from kling_prep.errors import ConfigError, FetchError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
# host, port -> the addresses the name stands for, as text (what getaddrinfo gives).
Resolver = Callable[[str, int], list[str]]

# Cloud instance metadata services: named in the refusal, since reaching one from a gate leaks
# the machine's credentials. (All of them are also link-local or private, refused anyway.)
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, Oracle, DigitalOcean
        "169.254.170.2",  # AWS ECS task metadata
        "fd00:ec2::254",  # AWS IMDS over IPv6
        "100.100.100.200",  # Alibaba Cloud
    )
)

# IPv6 prefixes that carry an IPv4 address which is the real destination: the IPv4 is judged.
_NAT64_PREFIXES = (
    ipaddress.IPv6Network("64:ff9b::/96"),  # RFC 6052 well-known prefix
    ipaddress.IPv6Network("64:ff9b:1::/48"),  # RFC 8215 local-use prefix
)
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")  # deprecated ::a.b.c.d

# A label that is all digits or 0x-hex: WHATWG's "ends in a number", which makes the host an
# IPv4 address however it is written (the OS's inet_aton reads it so).
_NUMERIC_LABEL = re.compile(r"^(0[xX][0-9A-Fa-f]*|[0-9]+)$")


def parse_networks(values: Iterable[str], *, source: str) -> tuple[IPNetwork, ...]:
    """Networks written as CIDR or single addresses ("127.0.0.0/8", "::1").

    Raises:
        ConfigError: a value that is not a network, naming `source`.
    """
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError as exc:
            raise ConfigError(
                f"{source}: {value!r} is not a network (write 10.0.0.0/8, 127.0.0.1 or ::1)"
            ) from exc
    return tuple(networks)


def _ipv4_number(label: str) -> int:
    if label[:2].lower() == "0x":
        return int(label[2:] or "0", 16)
    if len(label) > 1 and label.startswith("0"):
        return int(label, 8)  # raises ValueError on 8 or 9, as inet_aton refuses them
    return int(label)


def numeric_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """The IPv4 address a host written with numbers stands for, as inet_aton reads it:
    "2130706433", "0x7f.1", "0177.0.0.1" and "127.1" are all 127.0.0.1. None for a name.

    Raises:
        FetchError: the host ends in a number but is no valid IPv4 address (refused, not
            resolved: resolvers disagree on what it means).
    """
    labels = host.split(".")
    if not labels or not _NUMERIC_LABEL.match(labels[-1]):
        return None
    try:
        if len(labels) > 4 or not all(_NUMERIC_LABEL.match(x) for x in labels):
            raise ValueError(host)
        numbers = [_ipv4_number(x) for x in labels]
        # a.b.c.d; a.b.c16; a.b24; a32: the last part fills the bytes left.
        last_bits = 8 * (5 - len(numbers))
        if any(n > 255 for n in numbers[:-1]) or numbers[-1] >= 1 << last_bits:
            raise ValueError(host)
        value = numbers[-1]
        for i, n in enumerate(numbers[:-1]):
            value |= n << (24 - 8 * i)
        return ipaddress.IPv4Address(value)
    except ValueError as exc:
        raise FetchError(f"{host!r} ends in a number but is not a valid IPv4 address") from exc


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one leads to: IPv4-mapped, NAT64, 6to4, Teredo (its client)
    or IPv4-compatible; None for a plain IPv6 address."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if any(address in prefix for prefix in _NAT64_PREFIXES):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _IPV4_COMPATIBLE and int(address) > 1:  # :: and ::1 are judged as IPv6
        return ipaddress.IPv4Address(int(address))
    return None


def _not_public(address: IPAddress) -> str | None:
    """Why `address` is not a public unicast address, or None when it is."""
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    for label, flag in (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("private", address.is_private),
        ("reserved", address.is_reserved),
    ):
        if flag:
            return f"a {label} address"
    if isinstance(address, ipaddress.IPv4Address) and address == ipaddress.IPv4Address(
        "255.255.255.255"
    ):
        return "the broadcast address"
    if not address.is_global:  # shared (100.64.0.0/10), benchmarking, documentation, ...
        return "not a public address"
    return None


@dataclass(frozen=True)
class AddressPolicy:
    """Public addresses only, plus the networks the user trusts (`fetch_allow`)."""

    allowed: tuple[IPNetwork, ...] = ()

    def refusal(self, address: IPAddress) -> str | None:
        """Why a download may not connect to `address`, or None when it may."""
        if isinstance(address, ipaddress.IPv6Address) and address.scope_id:
            return "an address with a zone id"
        judged: list[IPAddress] = [address]
        if isinstance(address, ipaddress.IPv6Address):
            inner = embedded_ipv4(address)
            if inner is not None and (address.ipv4_mapped or address in _IPV4_COMPATIBLE):
                judged = [inner]  # only a spelling of the IPv4 address: the socket goes there
            elif inner is not None:
                judged = [inner, address]  # a tunnel: both ends must be public
        for each in judged:
            if any(each.version == net.version and each in net for net in self.allowed):
                continue
            why = _not_public(each)
            if why is not None:
                inside = f" (inside {address})" if each is not address else ""
                return f"{each} is {why}{inside}"
        return None


def system_resolver(host: str, port: int) -> list[str]:
    """The addresses of `host` from the system's resolver (getaddrinfo)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return [str(info[4][0]) for info in infos]


def _resolve_within(resolver: Resolver, host: str, port: int, timeout_s: float) -> list[str]:
    """`resolver(host, port)`, given up after `timeout_s` (getaddrinfo has no timeout of its
    own; the thread left behind is a daemon and ends with its lookup).

    Raises:
        FetchError: no answer in time, or the name does not resolve.
    """
    answer: list[list[str]] = []
    failure: list[BaseException] = []

    def lookup() -> None:
        try:
            answer.append(resolver(host, port))
        except (OSError, UnicodeError, ValueError) as exc:
            failure.append(exc)

    worker = threading.Thread(target=lookup, name=f"resolve {host}", daemon=True)
    worker.start()
    worker.join(max(timeout_s, 0.0))
    if failure:
        raise FetchError(f"the name {host} does not resolve ({failure[0]})") from failure[0]
    if not answer:
        raise FetchError(f"the name {host} did not resolve within {timeout_s:.0f} s")
    if not answer[0]:
        raise FetchError(f"the name {host} resolves to no address")
    return answer[0]


def checked_address(
    host: str, port: int, policy: AddressPolicy, resolver: Resolver, timeout_s: float
) -> IPAddress:
    """The one address a download of `host` connects to, once every address the host stands
    for is allowed (a name with one private address among public ones is refused: which one a
    client takes is not ours to predict).

    Args:
        host: the host as the URL parser read it (IDNA-encoded, IPv6 without brackets).

    Raises:
        FetchError: a zone id, a malformed numeric host, a name that does not resolve, or an
            address the policy refuses; the message names the host, the address and the rule.
    """
    if "%" in host:
        raise FetchError(f"{host}: an IPv6 zone id is refused (it only names link-local hosts)")
    name = host[:-1] if host.endswith(".") else host  # one trailing dot: the same host
    if not name or name.endswith("."):
        raise FetchError(f"{host!r} is not a host name")
    literal: IPAddress | None
    if ":" in name:
        try:
            literal = ipaddress.IPv6Address(name)
        except ValueError as exc:
            raise FetchError(f"{host!r} is not a valid IPv6 address") from exc
    else:
        literal = numeric_ipv4(name)
    if literal is not None:
        addresses: list[IPAddress] = [literal]
    else:
        found = _resolve_within(resolver, name, port, timeout_s)
        try:
            addresses = [ipaddress.ip_address(a) for a in found]
        except ValueError as exc:
            raise FetchError(f"the name {host} resolves to something not an address") from exc
    for address in addresses:
        why = policy.refusal(address)
        if why is not None:
            shown = "" if literal is not None else f"{host} -> "
            raise FetchError(
                f"{shown}{why}: only public addresses are fetched (trust a network with "
                "fetch_allow in kling-prep.toml or KLING_PREP_FETCH_ALLOW)"
            )
    return addresses[0]

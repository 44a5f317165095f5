"""Which hosts pgc may reach for data (issue 21): an allow-list, checked before any request.

A graph from the internet names URLs (``load_stac``, a collection's STAC API, the assets
its items list). pgc reaches a URL only when its host is on the allow-list the operator
configured (:attr:`pgc.Options.allowed_hosts`; empty by default: nothing), over ``https``
(or ``http`` where the entry says so), on the default port unless the entry names one.
Whatever the list says, pgc never reaches an address that is link-local (``169.254.0.0/16``,
``fe80::/10``: the cloud metadata services live there), unspecified, multicast or reserved,
nor a URL with credentials in it. Loopback and private addresses are reached only when
the entry names the address itself (a test server on ``127.0.0.1:8080``), never through
a host name that resolves to one (a name an attacker controls can point anywhere).

Entries: ``example.com`` (that host, https, port 443), ``*.example.com`` (its subdomains),
``example.com:8443``, ``http://127.0.0.1:8080`` (http allowed for that entry).

>>> policy = HostPolicy(("earth-search.aws.element84.com", "http://127.0.0.1:8080"))
>>> policy.check("http://127.0.0.1:8080/collections/s2")
'http://127.0.0.1:8080/collections/s2'
>>> policy.check("http://169.254.169.254/latest/meta-data/")
Traceback (most recent call last):
...
pgc.hosts.HostRefused: pgc may not reach 169.254.169.254: not on the allowed hosts
"""

from __future__ import annotations

import fnmatch
import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

DEFAULT_PORTS = {"https": 443, "http": 80}
Resolver = Callable[[str], list[str]]


class HostRefused(ValueError):
    """A URL pgc may not reach, with the reason (safe to show: it names only the host)."""


@dataclass(frozen=True)
class Entry:
    pattern: str  # a host name, a *.domain pattern or an IP address
    port: int | None  # None: the scheme's default port
    schemes: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> Entry:
        text = text.strip()
        schemes: tuple[str, ...] = ("https",)
        if "://" in text:
            scheme, text = text.split("://", 1)
            if scheme not in DEFAULT_PORTS:
                raise ValueError(f"allowed host {text!r}: scheme must be https or http")
            if scheme == "http":  # plain http where the operator says so (https too)
                schemes = ("http", "https")
        text = text.rstrip("/")
        if not text or "/" in text or "@" in text:
            raise ValueError(f"allowed host {text!r}: a host, optionally with a port")
        host, port_text = text, ""
        if text.startswith("["):  # [::1]:8080
            host, _, rest = text[1:].partition("]")
            port_text = rest[1:] if rest.startswith(":") else ""
        elif text.count(":") == 1:
            host, port_text = text.split(":")
        if port_text and not port_text.isdigit():
            raise ValueError(f"allowed host {text!r}: the port is not a number")
        return cls(host.lower(), int(port_text) if port_text else None, schemes)

    def matches(self, scheme: str, host: str, port: int) -> bool:
        if scheme not in self.schemes:
            return False
        if port != (self.port if self.port is not None else DEFAULT_PORTS[scheme]):
            return False
        if self.pattern.startswith("*."):
            return fnmatch.fnmatchcase(host, self.pattern) and host.count(".") >= 2
        return host == self.pattern

    @property
    def is_address(self) -> bool:
        return _address(self.pattern) is not None


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def never(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why ``address`` is never reached, or None."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_link_local:
        return "a link-local address (where cloud metadata services answer)"
    reserved = address.is_reserved and not address.is_loopback  # ::1 lies in ::/8
    if address.is_unspecified or address.is_multicast or reserved:
        return "not an address of a server"
    if str(address) in ("fd00:ec2::254",):  # AWS's metadata service over IPv6
        return "a cloud metadata address"
    return None


def system_resolver(host: str) -> list[str]:
    """The addresses ``host`` resolves to (every family)."""
    infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    return sorted({info[4][0] for info in infos})


@dataclass(frozen=True)
class HostPolicy:
    """The allow-list (:attr:`pgc.Options.allowed_hosts`) and its check."""

    allowed: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "_entries", tuple(Entry.parse(e) for e in self.allowed))

    @property
    def entries(self) -> tuple[Entry, ...]:
        return self._entries  # type: ignore[attr-defined]

    def check(self, url: str, resolve: Resolver = system_resolver) -> str:
        """``url`` when pgc may reach it; HostRefused saying why otherwise."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise HostRefused("pgc may not reach this URL: it is not a valid URL") from None
        scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
        if scheme not in DEFAULT_PORTS or not host:
            raise HostRefused("pgc reaches only http(s) URLs with a host")
        if parts.username is not None or parts.password is not None:
            raise HostRefused(f"pgc may not reach {host}: the URL holds credentials")
        port = port if port is not None else DEFAULT_PORTS[scheme]
        entry = next((e for e in self.entries if e.matches(scheme, host, port)), None)
        if entry is None:
            raise HostRefused(f"pgc may not reach {host}: not on the allowed hosts")
        literal = _address(host)
        addresses = [literal] if literal is not None else [
            _address(a.split("%")[0]) for a in self._resolved(host, resolve)
        ]  # fmt: skip
        for address in addresses:
            if address is None:
                raise HostRefused(f"pgc may not reach {host}: it resolves to no address")
            reason = never(address)
            if reason is not None:
                raise HostRefused(f"pgc may not reach {host}: {address} is {reason}")
            if (address.is_loopback or address.is_private) and not entry.is_address:
                raise HostRefused(
                    f"pgc may not reach {host}: it resolves to the internal address "
                    f"{address} (allow the address itself to reach it)"
                )
        return url

    @staticmethod
    def _resolved(host: str, resolve: Resolver) -> list[str]:
        try:
            found = resolve(host)
        except OSError:
            raise HostRefused(f"pgc may not reach {host}: the name does not resolve") from None
        if not found:
            raise HostRefused(f"pgc may not reach {host}: the name does not resolve")
        return list(found)


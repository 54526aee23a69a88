"""Outbound URL guard: the hub only talks to public hosts, unless allowlisted.

A shop URL is user input, so without a guard it could point the hub at its own
database, a cloud metadata endpoint or anything else on the private network
(SSRF). Two layers:

* :func:`validate_platform_url` checks a URL when it is saved (model
  validation): scheme, no credentials, and every address the host resolves to.
* :class:`GuardedTransport` checks again at connection time, inside httpcore:
  it resolves the host itself, refuses unsafe addresses and connects to the
  address it checked. A DNS answer that changes between validation and
  request (DNS rebinding) therefore cannot reach a private address. TLS still
  uses the host name for SNI and certificate checks, since httpcore takes the
  server name from the request URL, not from the connected address.

An allowlist entry is a host name, an IP address or a CIDR network
(``settings.PLATFORM_URL_ALLOWLIST`` by default).
"""

from __future__ import annotations

import functools
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import SplitResult, urlsplit

import httpcore
import httpx

from .errors import UnsafeURLError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

ALLOWED_SCHEMES = frozenset({"http", "https"})
NAT64_PREFIX = ipaddress.ip_network("64:ff9b::/96")
DEFAULT_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20)


@dataclass(frozen=True)
class Allowlist:
    """Host names and networks that may be reached even though they are not public."""

    hosts: frozenset[str] = frozenset()
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def parse(cls, entries: Iterable[str]) -> Allowlist:
        hosts: set[str] = set()
        networks: list[IPNetwork] = []
        for raw_entry in entries:
            entry = raw_entry.strip()
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
            except ValueError:
                hosts.add(_normalize_host(entry))
        return cls(frozenset(hosts), tuple(networks))

    def allows_host(self, host: str) -> bool:
        return _normalize_host(host) in self.hosts

    def allows_address(self, address: IPAddress) -> bool:
        return any(address in network for network in self.networks)


def _normalize_host(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()


def default_allowlist() -> Allowlist:
    from django.conf import settings

    return Allowlist.parse(getattr(settings, "PLATFORM_URL_ALLOWLIST", ()))


def _as_allowlist(allowlist: Allowlist | Iterable[str] | None) -> Allowlist:
    if allowlist is None:
        return default_allowlist()
    if isinstance(allowlist, Allowlist):
        return allowlist
    return Allowlist.parse(allowlist)


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries (mapped, 6to4 or NAT64), if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in NAT64_PREFIX:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_public_address(address: IPAddress) -> bool:
    """True for addresses on the public internet, checking IPv4 addresses embedded in IPv6."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return is_public_address(embedded)
    return address.is_global and not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


def parse_http_url(url: str) -> SplitResult:
    """Check a URL's shape (no DNS): http(s), a host, no user name or password."""
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError as exc:
        raise UnsafeURLError(f"The URL is malformed: {exc}.") from None
    if parts.scheme.lower() not in ALLOWED_SCHEMES:
        raise UnsafeURLError(f"Only http and https URLs are allowed, not {parts.scheme or 'a URL without scheme'!r}.")
    if not parts.hostname:
        raise UnsafeURLError("The URL has no host name.")
    if parts.username is not None or parts.password is not None:
        raise UnsafeURLError("The URL must not contain a user name or password.")
    return parts


def _getaddrinfo(host: str, port: int | None) -> list:
    try:
        return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except UnicodeError as exc:
        raise socket.gaierror(f"invalid host name: {exc}") from None


def _getaddrinfo_within(host: str, port: int | None, timeout: float) -> list:
    """``getaddrinfo``, given up after ``timeout`` seconds: the C resolver takes no time limit, so
    it runs in a thread of its own, left to finish in the background (a fresh thread each time:
    a shared pool would not survive a Celery worker's fork)."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["infos"] = _getaddrinfo(host, port)
        except OSError as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=run, name=f"resolve {host}", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise TimeoutError(f"resolving {host!r} took longer than {timeout:.1f} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["infos"]


def resolve(host: str, port: int | None, timeout: float | None = None) -> list[IPAddress]:
    """Every distinct address ``host`` resolves to, in resolver order, within ``timeout`` seconds.

    Raises ``OSError`` (``socket.gaierror``) when the name does not resolve, ``TimeoutError`` when
    the resolver does not answer in time.
    """
    infos = _getaddrinfo(host, port) if timeout is None else _getaddrinfo_within(host, port, timeout)
    addresses: list[IPAddress] = []
    for *_, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise socket.gaierror(f"no address for {host!r}")
    return addresses


def check_host(host: str, port: int | None, allowlist: Allowlist, timeout: float | None = None) -> list[IPAddress]:
    """Resolve ``host`` and return its addresses, refusing any unsafe one."""
    addresses = resolve(host, port, timeout)
    if allowlist.allows_host(host):
        return addresses
    for address in addresses:
        if not is_public_address(address) and not allowlist.allows_address(address):
            raise UnsafeURLError(
                f"The host {host!r} resolves to {address}, a private, loopback, link-local or reserved "
                "address; add it to PLATFORM_URL_ALLOWLIST if this is intended."
            )
    return addresses


def validate_platform_url(url: str, *, allowlist: Allowlist | Iterable[str] | None = None) -> str:
    """Return ``url`` stripped if it is safe to call, else raise :class:`UnsafeURLError`."""
    parts = parse_http_url(url)
    port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    try:
        check_host(parts.hostname or "", port, _as_allowlist(allowlist))
    except OSError as exc:
        raise UnsafeURLError(f"The host {parts.hostname!r} could not be resolved ({exc}).") from None
    return url.strip()


def _until(deadline: float, timeout: float | None, error: type[Exception]) -> float:
    """``timeout`` shortened to what is left before ``deadline``; ``error`` when nothing is."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise error("the request's deadline has passed")
    return left if timeout is None else min(timeout, left)


class DeadlineStream(httpcore.NetworkStream):
    """A connection whose every socket operation ends by ``deadline`` (a ``time.monotonic()``
    value): httpx's timeouts apply per read, so a peer trickling one byte at a time would
    otherwise hold the caller for as long as it likes."""

    def __init__(self, stream: httpcore.NetworkStream, deadline: float) -> None:
        self.stream = stream
        self.deadline = deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self.stream.read(max_bytes, _until(self.deadline, timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.stream.write(buffer, _until(self.deadline, timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self.stream.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        timeout = _until(self.deadline, timeout, httpcore.ConnectTimeout)
        return DeadlineStream(self.stream.start_tls(ssl_context, server_hostname, timeout), self.deadline)

    def get_extra_info(self, info: str) -> Any:
        return self.stream.get_extra_info(info)


class GuardedBackend(httpcore.SyncBackend):
    """An httpcore network backend that only connects to addresses it has checked, and
    with a ``deadline`` (a ``time.monotonic()`` value) ends every socket operation by then."""

    def __init__(self, allowlist: Allowlist, deadline: float | None = None) -> None:
        self.allowlist = allowlist
        self.deadline = deadline

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        if self.deadline is not None:
            timeout = _until(self.deadline, timeout, httpcore.ConnectTimeout)
        try:
            addresses = check_host(host, port, self.allowlist, timeout)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(str(exc)) from exc
        except OSError as exc:  # a resolver failure is a network problem, maybe transient
            raise httpcore.ConnectError(f"could not resolve {host!r}: {exc}") from exc
        failures: list[httpcore.ConnectError | httpcore.ConnectTimeout] = []
        for address in addresses:  # never empty: check_host raises instead
            try:
                if self.deadline is None:
                    return super().connect_tcp(str(address), port, timeout, local_address, socket_options)
                timeout = _until(self.deadline, timeout, httpcore.ConnectTimeout)
                stream = super().connect_tcp(str(address), port, timeout, local_address, socket_options)
                return DeadlineStream(stream, self.deadline)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failures.append(exc)
        raise failures[-1]

    def connect_unix_socket(self, path: str, *args: Any, **kwargs: Any) -> httpcore.NetworkStream:
        raise UnsafeURLError("Unix sockets are not allowed for outbound platform requests.")


@functools.cache
def _default_ssl_context(trust_env: bool, http2: bool) -> ssl.SSLContext:
    """A shared verifying context: building one loads the CA bundle (about 50 ms).

    Keyed by ``http2`` too, since httpcore sets the ALPN protocols on the
    context it is given for every connection.
    """
    return httpx.create_ssl_context(trust_env=trust_env)


class GuardedTransport(httpx.HTTPTransport):
    """``httpx.HTTPTransport`` whose connection pool uses :class:`GuardedBackend`.

    Proxies and Unix sockets are not supported: both would bypass the check.
    """

    def __init__(
        self,
        *,
        allowlist: Allowlist | Iterable[str] | None = None,
        deadline: float | None = None,
        verify: Any = True,
        trust_env: bool = True,
        http1: bool = True,
        http2: bool = False,
        limits: httpx.Limits = DEFAULT_LIMITS,
        retries: int = 0,
    ) -> None:
        if verify is True:
            ssl_context = _default_ssl_context(trust_env, http2)
        else:
            ssl_context = httpx.create_ssl_context(verify=verify, trust_env=trust_env)
        super().__init__(
            verify=ssl_context, trust_env=trust_env, http1=http1, http2=http2, limits=limits, retries=retries
        )
        # The pool httpx just built has no connection yet; this one, with the same
        # options, differs only by its network backend.
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            http1=http1,
            http2=http2,
            retries=retries,
            network_backend=GuardedBackend(_as_allowlist(allowlist), deadline),
        )


_TRANSPORT_OPTIONS = ("verify", "trust_env", "http1", "http2", "limits", "deadline")


def guarded_client(*, allowlist: Allowlist | Iterable[str] | None = None, **kwargs: Any) -> httpx.Client:
    """An ``httpx.Client`` whose every connection goes through the URL guard.

    Accepts ``httpx.Client`` keyword arguments, except ``transport``, ``mounts``
    and ``proxy``, which would route requests around the guard; and ``deadline``, a
    ``time.monotonic()`` value by which every connection, read and write of the client ends
    (a total time limit, where ``timeout`` limits each operation).
    """
    forbidden = {"transport", "mounts", "proxy"} & kwargs.keys()
    if forbidden:
        raise TypeError(f"guarded_client() does not accept {', '.join(sorted(forbidden))}")
    transport_options = {name: kwargs.pop(name) for name in _TRANSPORT_OPTIONS if name in kwargs}
    if "trust_env" in transport_options:
        kwargs["trust_env"] = transport_options["trust_env"]
    transport = GuardedTransport(allowlist=allowlist, **transport_options)
    return httpx.Client(transport=transport, **kwargs)

"""The outbound URL guard, at validation time and at connection time."""

from __future__ import annotations

import socket

import httpx
import pytest

from catalog.platforms import PrestaShopService, UnsafeURLError, guarded_client, urlguard, validate_platform_url
from tests.plugins.simulator import sim_stats

PUBLIC_IP = "93.184.216.34"


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://127.8.9.10:8080/api",
        "http://10.1.2.3/",
        "http://172.16.0.1/",
        "http://192.168.1.10/",
        "http://169.254.169.254/latest/meta-data/",
        "http://0.0.0.0/",
        "http://100.64.0.1/",
        "http://224.0.0.1/",
        "http://240.0.0.1/",
        "http://[::1]/",
        "http://[::]/",
        "http://[fe80::1]/",
        "http://[fc00::1]/",
        "http://[ff02::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[::ffff:10.0.0.1]/",
        "http://[2002:7f00:1::]/",
        "http://[64:ff9b::a00:1]/",
        "http://localhost:8000/",
    ],
)
def test_non_public_addresses_are_refused(url):
    with pytest.raises(UnsafeURLError) as error:
        validate_platform_url(url, allowlist=[])
    assert error.value.code == "UNSAFE_URL" and error.value.http_status == 400


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/",
        "file:///etc/passwd",
        "gopher://example.com/",
        "javascript:alert(1)",
        "http://",
        "example.com/api",
        "http://user:secret@93.184.216.34/",
        "http://:key@93.184.216.34/",
        "http://93.184.216.34:99999/",
    ],
)
def test_malformed_urls_and_other_schemes_are_refused(url):
    with pytest.raises(UnsafeURLError):
        validate_platform_url(url, allowlist=[])


def test_public_addresses_pass():
    assert validate_platform_url(f" https://{PUBLIC_IP}/shop ", allowlist=[]) == f"https://{PUBLIC_IP}/shop"
    assert validate_platform_url("http://[2606:2800:220:1:248:1893:25c8:1946]/", allowlist=[])


def test_a_host_that_does_not_resolve_is_refused():
    with pytest.raises(UnsafeURLError, match="could not be resolved"):
        validate_platform_url("https://no-such-shop.invalid/", allowlist=[])


@pytest.mark.parametrize(
    ("url", "allowlist"),
    [
        ("http://localhost:8000/", ["localhost"]),
        ("http://LOCALHOST/", ["localhost."]),
        ("http://127.0.0.1/", ["127.0.0.1"]),
        ("http://10.20.30.40/", ["10.0.0.0/8"]),
        ("http://[::1]/", ["::1"]),
        ("http://[fd12::5]/", ["fc00::/7"]),
    ],
)
def test_allowlisted_hosts_addresses_and_networks_pass(url, allowlist):
    validate_platform_url(url, allowlist=allowlist)


def test_an_allowlisted_address_does_not_open_its_neighbours():
    with pytest.raises(UnsafeURLError):
        validate_platform_url("http://127.0.0.2/", allowlist=["127.0.0.1", "10.0.0.0/8"])


def test_the_default_allowlist_comes_from_settings(settings):
    settings.PLATFORM_URL_ALLOWLIST = ["192.168.0.0/16"]
    validate_platform_url("http://192.168.5.5/")
    with pytest.raises(UnsafeURLError):
        validate_platform_url("http://127.0.0.1/")


# At connection time


def test_a_connection_to_a_loopback_address_not_allowlisted_is_refused(shop_simulator):
    with guarded_client(allowlist=["127.0.0.2"]) as client, pytest.raises(UnsafeURLError):
        client.get(f"{shop_simulator.url}/_sim/stats")
    assert sim_stats(shop_simulator)["total"] == 0


def test_a_name_resolving_to_loopback_is_refused_unless_allowlisted(shop_simulator):
    port = shop_simulator.server.server_address[1]
    with guarded_client(allowlist=["127.0.0.2"]) as client, pytest.raises(UnsafeURLError, match="localhost"):
        client.get(f"http://localhost:{port}/_sim/stats")
    with guarded_client(allowlist=["localhost"]) as client:
        assert client.get(f"http://localhost:{port}/_sim/stats").status_code == 200


def test_dns_rebinding_after_validation_cannot_reach_a_private_address(shop_simulator, monkeypatch):
    """The name resolves to a public address when validated, to loopback when connecting."""
    port = shop_simulator.server.server_address[1]
    answers = iter([PUBLIC_IP, "127.0.0.1"])
    real_getaddrinfo = socket.getaddrinfo

    def rebinding_getaddrinfo(host, *args, **kwargs):
        if host != "shop.rebind.test":
            return real_getaddrinfo(host, *args, **kwargs)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), port))]

    monkeypatch.setattr(urlguard.socket, "getaddrinfo", rebinding_getaddrinfo)
    url = f"http://shop.rebind.test:{port}/_sim/stats"
    validate_platform_url(url, allowlist=[])
    with guarded_client(allowlist=[]) as client, pytest.raises(UnsafeURLError, match=r"127\.0\.0\.1"):
        client.get(url)
    assert sim_stats(shop_simulator)["total"] == 0


def test_the_guard_connects_to_the_address_it_checked(shop_simulator, monkeypatch):
    """A name allowlisted through its address is reached at that address."""
    port = shop_simulator.server.server_address[1]
    real_getaddrinfo = socket.getaddrinfo

    def resolve(host, *args, **kwargs):
        if host == "shop.internal.test":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(urlguard.socket, "getaddrinfo", resolve)
    with guarded_client(allowlist=["127.0.0.0/8"]) as client:
        assert client.get(f"http://shop.internal.test:{port}/_sim/stats").status_code == 200


def test_the_connector_uses_the_guard(shop_simulator, settings):
    settings.PLATFORM_URL_ALLOWLIST = []
    settings.PLATFORM_RETRY_BACKOFF = 0.01
    with PrestaShopService(shop_simulator.url, shop_simulator.api_key) as shop, pytest.raises(UnsafeURLError):
        shop.check_connection()
    assert sim_stats(shop_simulator)["total"] == 0


def test_the_connector_refuses_other_schemes_at_once():
    with pytest.raises(UnsafeURLError):
        PrestaShopService("file:///etc/passwd", "K" * 32)


def test_guarded_client_refuses_ways_around_the_guard():
    for option in ("transport", "mounts", "proxy"):
        with pytest.raises(TypeError):
            guarded_client(**{option: None})
    with guarded_client(allowlist=[], timeout=1.0, verify=False) as client:
        assert isinstance(client, httpx.Client)


@pytest.mark.parametrize("limit", ["deadline", "timeout"])
def test_a_resolver_that_hangs_is_cut_off_by_the_deadline_or_the_connect_timeout(monkeypatch, limit):
    """A DNS server that never answers (the far edge: the machine's resolver is not ours to slow
    down, so getaddrinfo is replaced) holds the caller no longer than its deadline or connect
    timeout: webhook attempts and shop calls keep their time limits."""
    import threading
    import time

    released = threading.Event()
    real_getaddrinfo = socket.getaddrinfo

    def hanging_getaddrinfo(host, *args, **kwargs):
        if host == "slow-dns.example.com":
            released.wait(30)
            raise socket.gaierror("no answer")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(urlguard.socket, "getaddrinfo", hanging_getaddrinfo)
    options = (
        {"deadline": time.monotonic() + 0.5} if limit == "deadline" else {"timeout": httpx.Timeout(5, connect=0.5)}
    )
    started = time.monotonic()
    try:
        with guarded_client(allowlist=[], **options) as client, pytest.raises(httpx.ConnectTimeout):
            client.get("http://slow-dns.example.com/")
        assert time.monotonic() - started < 5
    finally:
        released.set()

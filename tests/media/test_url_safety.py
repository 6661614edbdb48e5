"""URL inputs are fetched only from public addresses, judged after resolution in every
spelling, with each redirect re-checked, and the connection made to the checked address.

No test here can reach another machine, even with the protection broken: names resolve from a
table (FakeResolver), and the transport connects to loopback literals only, refusing and
recording anything else (LoopbackOnlyTransport)."""

from __future__ import annotations

import ipaddress
import time
from pathlib import Path

import httpx
import pytest
from url_fixtures import (
    FakeResolver,
    LoopbackOnlyTransport,
    LoopbackServer,
    serve_bytes,
    silence,
    trickle,
)

from kling_prep.errors import ConfigError, FetchError
from kling_prep.media.fetch import MAX_REDIRECTS, fetch_url
from kling_prep.media.urlsafety import AddressPolicy, numeric_ipv4, parse_networks
from kling_prep.settings import load_settings

PUBLIC = "93.184.216.34"  # a public address: the transport refuses it, so nothing is sent
NAMES = {
    "localhost": ["127.0.0.1", "::1"],
    "cdn.test": [PUBLIC],
    "metadata.google.internal": ["169.254.169.254"],
    "lan.test": ["192.168.1.20"],
    "mixed.test": [PUBLIC, "10.0.0.7"],
    "ula.test": ["fd12:3456::1"],
    "mapped.test": ["::ffff:10.1.2.3"],
    "nat64.test": ["64:ff9b::a9fe:a9fe"],
    "cgnat.test": ["100.64.0.1"],
}

# Every way to name an address a download must not reach, with the address it stands for
# (hosts as written in the URL).
REFUSED_HOSTS = {
    # loopback, in the spellings inet_aton and URL parsers accept
    "127.0.0.1": "127.0.0.1", "127.1": "127.0.0.1", "2130706433": "127.0.0.1",
    "0x7f.1": "127.0.0.1", "0x7f000001": "127.0.0.1", "017700000001": "127.0.0.1",
    "0x7f.0.0.0x1": "127.0.0.1", "127.0.0.1.": "127.0.0.1",
    "localhost": "127.0.0.1", "localhost.": "127.0.0.1", "LocalHost": "127.0.0.1",
    "[::1]": "::1", "[0:0:0:0:0:0:0:1]": "::1",
    # IPv6 forms that carry an IPv4 address
    "[::ffff:127.0.0.1]": "127.0.0.1", "[::ffff:7f00:1]": "127.0.0.1",
    "[::127.0.0.1]": "127.0.0.1", "[64:ff9b::7f00:1]": "127.0.0.1",
    "[64:ff9b::a9fe:a9fe]": "169.254.169.254", "[64:ff9b:1::a00:1]": "10.0.0.1",
    "[2002:7f00:1::]": "127.0.0.1", "[::ffff:a9fe:a9fe]": "169.254.169.254",
    # link-local, zone ids, metadata services
    "169.254.169.254": "169.254.169.254", "0xa9fea9fe": "169.254.169.254",
    "2852039166": "169.254.169.254", "169.254.170.2": "169.254.170.2",
    "[fe80::1]": "fe80::1", "[fe80::1%25eth0]": "fe80::1", "[fd00:ec2::254]": "fd00:ec2::254",
    "100.100.100.200": "100.100.100.200", "metadata.google.internal": "169.254.169.254",
    # private, shared, unspecified, multicast, broadcast, reserved
    "10.0.0.1": "10.0.0.1", "012.1": "10.0.0.1", "172.16.0.1": "172.16.0.1",
    "192.168.1.1": "192.168.1.1", "0xc0a80101": "192.168.1.1", "lan.test": "192.168.1.20",
    "ula.test": "fd12:3456::1", "mapped.test": "10.1.2.3", "nat64.test": "169.254.169.254",
    "mixed.test": "10.0.0.7", "100.64.0.1": "100.64.0.1", "cgnat.test": "100.64.0.1",
    "0.0.0.0": "0.0.0.0", "0": "0.0.0.0", "[::]": "::", "224.0.0.1": "224.0.0.1",
    "239.255.255.250": "239.255.255.250", "[ff02::1]": "ff02::1",
    "255.255.255.255": "255.255.255.255", "240.0.0.1": "240.0.0.1",
    "198.18.0.1": "198.18.0.1", "192.0.2.1": "192.0.2.1", "[2001:db8::1]": "2001:db8::1",
}  # fmt: skip

# Inputs refused before any lookup, for what the URL itself is.
REFUSED_URLS = [
    "ftp://cdn.test/clip.mp4",
    "file:///etc/passwd",
    "gopher://cdn.test/",
    "http://user:secret@cdn.test/clip.mp4",
    "http://cdn.test@127.0.0.1/clip.mp4",
    "http://127.0.0.1\\@cdn.test/clip.mp4",
    "http://1.2.3.4.5/clip.mp4",  # ends in a number, not an IPv4 address
    "http://0x100000000/clip.mp4",
    "http://08.0.0.1/clip.mp4",  # 08 is no octal number
    "http://127.000.000.001/clip.mp4",  # dotted with leading zeros: httpx refuses it
    "http://012.0.0.1/clip.mp4",
    "http://no-such-name.test/clip.mp4",
    "http://127.0.0.1../clip.mp4",
]


def _ok(body: bytes) -> httpx.Response:
    """A 200 whose body streams (a Response built from bytes counts as already read)."""
    return httpx.Response(200, stream=httpx.ByteStream(body))


def _fetch(url: str, tmp_path: Path, **kwargs):
    transport = kwargs.pop("transport", None) or LoopbackOnlyTransport()
    resolver = kwargs.pop("resolver", None) or FakeResolver(NAMES)
    kwargs.setdefault("max_bytes", 10_000)
    kwargs.setdefault("timeout_s", 5.0)
    return fetch_url(url, tmp_path, transport=transport, resolver=resolver, **kwargs), transport


@pytest.mark.parametrize(("host", "address"), REFUSED_HOSTS.items())
def test_a_private_address_is_refused_in_every_spelling_before_any_request(
    host: str, address: str, tmp_path: Path
):
    transport = LoopbackOnlyTransport()
    with pytest.raises(FetchError) as caught:
        _fetch(f"http://{host}/clip.mp4", tmp_path, transport=transport)
    assert transport.requests == []
    message = str(caught.value)
    assert f"http://{host}/clip.mp4" in message
    if "%" in host:
        assert "zone id" in message
    else:
        assert f"{address} is " in message
        assert "only public addresses are fetched" in message
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("url", REFUSED_URLS)
def test_a_url_that_is_not_plain_http_to_a_named_host_is_refused_before_any_request(
    url: str, tmp_path: Path
):
    transport = LoopbackOnlyTransport()
    with pytest.raises(FetchError, match=r"only http|user name|not a valid|not a host|resolve"):
        _fetch(url, tmp_path, transport=transport)
    assert transport.requests == []


def test_a_refused_password_is_not_repeated_in_the_message(tmp_path: Path):
    with pytest.raises(FetchError, match="user name or password") as caught:
        _fetch("http://user:secret@cdn.test/clip.mp4", tmp_path)
    assert "secret" not in str(caught.value)
    assert "cdn.test/clip.mp4" in str(caught.value)


def test_the_connection_goes_to_the_checked_address_with_the_name_in_the_host_header(
    tmp_path: Path,
):
    resolver = FakeResolver(NAMES)
    transport = LoopbackOnlyTransport()
    with pytest.raises(FetchError, match=r"no connection to cdn.test"):
        _fetch("https://cdn.test:8443/clip.mp4", tmp_path, transport=transport, resolver=resolver)
    (request,) = transport.requests
    assert request.url.host == PUBLIC
    assert request.url.port == 8443
    assert request.headers["Host"] == "cdn.test:8443"
    # TLS verifies the certificate for the name, not for the address.
    assert request.extensions["sni_hostname"] == "cdn.test"
    assert resolver.calls == ["cdn.test"]


def test_a_rebinding_name_is_looked_up_once_and_its_second_answer_never_used(tmp_path: Path):
    # First answer public (passes the check), every later answer loopback: a client that
    # looked the name up again to connect would reach 127.0.0.1.
    resolver = FakeResolver({"rebind.test": [[PUBLIC], ["127.0.0.1"]]})
    transport = LoopbackOnlyTransport()
    with pytest.raises(FetchError):
        _fetch("http://rebind.test/clip.mp4", tmp_path, transport=transport, resolver=resolver)
    assert resolver.calls == ["rebind.test"]
    assert transport.hosts == [PUBLIC]


@pytest.mark.parametrize(
    "location",
    [
        "http://127.0.0.1/clip.mp4",
        "http://2130706433/clip.mp4",
        "http://[::ffff:169.254.169.254]/latest/meta-data/",
        "http://metadata.google.internal/computeMetadata/v1/",
        "//lan.test/clip.mp4",
        "ftp://cdn.test/clip.mp4",
        "file:///etc/passwd",
        "http://user:pw@cdn.test/clip.mp4",
    ],
)
def test_each_redirect_is_checked_again_before_it_is_followed(location: str, tmp_path: Path):
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(302, headers={"Location": location})

    with pytest.raises(FetchError, match="redirected to"):
        _fetch("http://cdn.test/start", tmp_path, transport=httpx.MockTransport(answer))
    assert [r.url.host for r in seen] == [PUBLIC]
    assert list(tmp_path.iterdir()) == []


def test_redirects_are_followed_a_few_times_then_refused(tmp_path: Path):
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(302, headers={"Location": f"/hop{len(seen)}"})

    with pytest.raises(FetchError, match=f"more than {MAX_REDIRECTS} redirects"):
        _fetch("http://cdn.test/start", tmp_path, transport=httpx.MockTransport(answer))
    assert len(seen) == MAX_REDIRECTS + 1
    assert [r.url.path for r in seen[:3]] == ["/start", "/hop1", "/hop2"]
    assert {r.headers["Host"] for r in seen} == {"cdn.test"}


def test_a_public_redirect_is_followed_to_the_file(tmp_path: Path):
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/start":
            return httpx.Response(301, headers={"Location": "https://cdn.test/media/clip.mp4"})
        return _ok(b"video bytes")

    path, _ = _fetch("http://cdn.test/start", tmp_path, transport=httpx.MockTransport(answer))
    assert path.name == "clip.mp4"
    assert path.read_bytes() == b"video bytes"


def test_a_body_over_the_limit_is_cut_while_it_streams_and_leaves_nothing(tmp_path: Path):
    sent: list[int] = []

    def endless() -> object:
        for _ in range(1000):
            sent.append(1)
            yield b"x" * 4096

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=endless())  # no Content-Length: chunked

    with pytest.raises(FetchError, match="more than 10000 bytes"):
        _fetch("http://cdn.test/big", tmp_path, transport=httpx.MockTransport(answer))
    assert len(sent) < 100  # cut within a read of the limit, not read to the end (1000)
    assert list(tmp_path.iterdir()) == []


def test_an_announced_size_over_the_limit_is_refused_before_the_body(tmp_path: Path):
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Length": "10000000000"}, content=b"")

    with pytest.raises(FetchError, match="10000000000 bytes announced"):
        _fetch("http://cdn.test/big", tmp_path, transport=httpx.MockTransport(answer))


def test_a_compressed_body_is_refused_rather_than_inflated(tmp_path: Path):
    import gzip

    bomb = gzip.compress(b"\0" * 5_000_000)  # 5 MB in about 5 KB

    def answer(request: httpx.Request) -> httpx.Response:
        assert request.headers["Accept-Encoding"] == "identity"
        return httpx.Response(200, headers={"Content-Encoding": "gzip"}, content=bomb)

    with pytest.raises(FetchError, match="gzip-compressed"):
        _fetch("http://cdn.test/clip.mp4", tmp_path, transport=httpx.MockTransport(answer))


@pytest.mark.parametrize(
    ("path", "name"),
    [("/..", "download"), ("/", "download"), ("/a/.hidden.mp4", "hidden.mp4"),
     ("/a%2F..%2F..%2Fetc", "etc"), ("/" + "v" * 300 + ".mp4", "v" * 96 + ".mp4")],
)  # fmt: skip
def test_the_saved_file_stays_in_its_folder_whatever_the_url_path(
    path: str, name: str, tmp_path: Path
):
    def answer(request: httpx.Request) -> httpx.Response:
        return _ok(b"data")

    saved, _ = _fetch(f"http://cdn.test{path}", tmp_path, transport=httpx.MockTransport(answer))
    assert saved.name == name
    assert saved.parent.parent == tmp_path


def test_two_urls_with_the_same_file_name_do_not_overwrite_each_other(tmp_path: Path):
    def answer(request: httpx.Request) -> httpx.Response:
        return _ok(request.url.query)

    mock = httpx.MockTransport(answer)
    first, _ = _fetch("http://cdn.test/get?id=1", tmp_path, transport=mock)
    second, _ = _fetch("http://cdn.test/get?id=2", tmp_path, transport=mock)
    assert (first.read_bytes(), second.read_bytes()) == (b"id=1", b"id=2")


def test_a_trusted_network_is_fetched_from_and_only_that_one(tmp_path: Path):
    trusted = AddressPolicy(parse_networks(["127.0.0.0/8", "::1"], source="test"))
    with LoopbackServer(serve_bytes(b"image bytes")) as server:
        url = f"http://localhost:{server.port}/a.jpg"
        path, transport = _fetch(url, tmp_path, policy=trusted)
        assert path.read_bytes() == b"image bytes"
        assert transport.hosts == ["127.0.0.1"]
        assert server.host_headers == [f"localhost:{server.port}"]
        # Trusting loopback trusts neither the LAN nor the metadata service.
        for other in ("lan.test", "169.254.169.254"):
            with pytest.raises(FetchError, match="only public"):
                _fetch(f"http://{other}/a.jpg", tmp_path, policy=trusted)


def test_numeric_hosts_read_as_inet_aton_reads_them():
    assert numeric_ipv4("2130706433") == ipaddress.IPv4Address("127.0.0.1")
    assert numeric_ipv4("0x7f.1") == ipaddress.IPv4Address("127.0.0.1")
    assert numeric_ipv4("0177.0.0.01") == ipaddress.IPv4Address("127.0.0.1")
    assert numeric_ipv4("10.1") == ipaddress.IPv4Address("10.0.0.1")
    assert numeric_ipv4("192.168.257") == ipaddress.IPv4Address("192.168.1.1")
    assert numeric_ipv4("cdn.test") is None
    assert numeric_ipv4("1e100.net") is None  # a name that merely starts with a digit


def test_the_trusted_networks_come_from_the_file_or_the_environment(tmp_path: Path):
    config = tmp_path / "kling-prep.toml"
    config.write_text('fetch_allow = ["127.0.0.0/8", "::1"]\n')
    assert load_settings(config, env={}).fetch_allow == ("127.0.0.0/8", "::1")
    env = {"KLING_PREP_FETCH_ALLOW": "10.0.0.0/8, 192.168.0.0/16"}
    assert load_settings(config, env=env).fetch_allow == ("10.0.0.0/8", "192.168.0.0/16")
    assert load_settings(None, env={}).fetch_allow == ()
    with pytest.raises(ConfigError, match=r"'10.0.0.0/33' is not a network"):
        load_settings(None, env={"KLING_PREP_FETCH_ALLOW": "10.0.0.0/33"})
    config.write_text('fetch_allow = "127.0.0.1"\n')
    with pytest.raises(ConfigError, match="must be a list"):
        load_settings(config, env={})


TRUST_LOOPBACK = AddressPolicy(parse_networks(["127.0.0.0/8", "::1"], source="test"))


@pytest.mark.parametrize(
    ("respond", "why"),
    [
        (trickle(0.2), "a byte every 0.2 s, for ever"),
        (trickle(1.5, stall_after=1), "one byte at 1.5 s, then silence"),
        (silence(), "no answer at all"),
    ],
)
def test_a_slow_server_is_cut_at_the_deadline_not_a_read_timeout_later(
    respond: object, why: str, tmp_path: Path
):
    with LoopbackServer(respond) as server:
        started = time.monotonic()
        with pytest.raises(FetchError, match=r"within 2 s|did not answer in time"):
            _fetch(
                f"http://127.0.0.1:{server.port}/slow.mp4", tmp_path,
                max_bytes=10_000_000, timeout_s=2.0, policy=TRUST_LOOPBACK,
            )  # fmt: skip
        elapsed_s = time.monotonic() - started
    assert elapsed_s < 2.6, why
    assert list(tmp_path.iterdir()) == []

"""Fetching image URLs: address checks before any connection, redirects, size and time limits.

No test here sends a packet past loopback. The resolver (`socket.getaddrinfo`) is
replaced by a table, and every socket connect goes through a guard that lets loopback
through, forwards the few "public" test addresses to a loopback server (a test NAT), and
refuses anything else with ECONNREFUSED while recording it: a bug in the checks fails the
test instead of reaching another machine.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from openai_gemini_vision import BlockedURLError, FetchError, ImagePolicy, load_image
from openai_gemini_vision.fetch import (
    MAX_REDIRECTS,
    afetch_image,
    afetch_many,
    fetch_image,
    fetch_many,
)
from openai_gemini_vision.fetch.addresses import refusal

from .imaging import image_bytes

PNG = image_bytes("PNG", 32, 24)
LOOPBACK = ImagePolicy(allow_private_urls=True)
#: Public addresses (example.com's, a CDN's) standing in for image hosts; the guard
#: forwards them to the loopback server, so nothing is ever sent to them.
PUBLIC_A = "93.184.216.34"
PUBLIC_B = "151.101.1.69"

Handler = Callable[[BaseHTTPRequestHandler], None]


# --- a loopback server whose paths do what a test needs --------------------------------


class Server:
    """A threaded loopback HTTP server: path -> handler, with hit counts and requests in flight."""

    def __init__(self) -> None:
        self.routes: dict[str, Handler] = {}
        self.hits: dict[str, int] = {}
        self.headers: list[dict[str, str]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.stop = threading.Event()
        self._lock = threading.Lock()
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            answered = True

            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                with server._lock:
                    server.hits[path] = server.hits.get(path, 0) + 1
                    server.headers.append({k.lower(): v for k, v in self.headers.items()})
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                self.answered = False
                try:
                    server.routes.get(path, not_found)(self)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up, as the limits make it do
                finally:
                    self._leave()

            def send_response(self, code: int, message: str | None = None) -> None:
                # A request stops counting as in flight before its answer goes out: a
                # client that has its answer and starts the next request must not find
                # this one still counted.
                self._leave()
                super().send_response(code, message)

            def _leave(self) -> None:
                if not self.answered:
                    self.answered = True
                    with server._lock:
                        server.in_flight -= 1

            def log_message(self, *args: Any) -> None:
                pass

        class _HTTPServer(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 64

        self.httpd = _HTTPServer(("127.0.0.1", 0), _Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"


def respond(status: int, body: bytes = b"", **headers: str) -> Handler:
    def handle(h: BaseHTTPRequestHandler) -> None:
        h.send_response(status)
        headers.setdefault("Content-Length", str(len(body)))
        for name, value in headers.items():
            h.send_header(name.replace("_", "-"), value)
        h.end_headers()
        h.wfile.write(body)

    return handle


def not_found(h: BaseHTTPRequestHandler) -> None:
    respond(404, b"<!DOCTYPE html><html><body>Not Found</body></html>", Content_Type="text/html")(h)


def redirect(location: str, status: int = 302) -> Handler:
    return respond(status, Location=location)


def together(barrier: threading.Barrier) -> Handler:
    """Answers only once `barrier.parties` requests are in flight at the same time."""

    def handle(h: BaseHTTPRequestHandler) -> None:
        try:
            barrier.wait()
        except threading.BrokenBarrierError:  # too few at once: fail the fetch
            respond(503, b"not together")(h)
            return
        respond(200, PNG, Content_Type="image/png")(h)

    return handle


@pytest.fixture
def server() -> Iterator[Server]:
    """A loopback server, shut down (and its endless handlers told to stop) after the test."""
    s = Server()
    s.thread.start()
    yield s
    s.stop.set()
    s.httpd.shutdown()
    s.httpd.server_close()


# --- the resolver table and the connect guard -------------------------------------------


@dataclass
class Net:
    """What the test's resolver answers and what the guard saw."""

    names: dict[str, list[str]] = field(default_factory=dict)
    nat: dict[str, int] = field(default_factory=dict)
    """Public test address -> loopback port it is forwarded to."""
    lookups: list[str] = field(default_factory=list)
    connects: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


@pytest.fixture(autouse=True)
def net(monkeypatch: pytest.MonkeyPatch) -> Net:
    """Replace DNS with `net.names` and keep every connection on loopback."""
    state = Net()
    real_getaddrinfo = socket.getaddrinfo
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        name = (host.decode() if isinstance(host, bytes) else str(host)).rstrip(".")
        try:
            ipaddress.ip_address(name)
        except ValueError:
            state.lookups.append(name)
            if name == "localhost":
                return real_getaddrinfo("127.0.0.1", port, *args, **kwargs)
            answers = state.names.get(name)
            if answers is None:
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None
            answer = answers.pop(0) if len(answers) > 1 else answers[0]
            return real_getaddrinfo(answer, port, *args, **kwargs)
        return real_getaddrinfo(name, port, *args, **kwargs)

    def routed(address: Any) -> Any:
        host, port = address[0], address[1]
        state.connects.append(host)
        if host in state.nat:
            return ("127.0.0.1", state.nat[host])
        if ipaddress.ip_address(host.split("%")[0]).is_loopback:
            return address
        state.refused.append(host)
        raise ConnectionRefusedError(errno.ECONNREFUSED, f"test guard: no route to {host}:{port}")

    def connect(sock: socket.socket, address: Any) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            address = routed(address)
        return real_connect(sock, address)

    def connect_ex(sock: socket.socket, address: Any) -> int:
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            address = routed(address)
        return real_connect_ex(sock, address)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    return state


# --- fetching what is allowed -----------------------------------------------------------


def test_a_loopback_url_is_fetched_when_private_urls_are_allowed(server: Server) -> None:
    """With allow_private_urls=True the bytes come back as served, with our User-Agent."""
    server.routes["/a.png"] = respond(200, PNG, Content_Type="image/png")
    assert fetch_image(server.url("/a.png"), LOOPBACK) == PNG
    assert server.headers[0]["user-agent"].startswith("openai-gemini-vision/")
    assert server.headers[0]["accept-encoding"] == "identity"


def test_a_public_name_is_fetched_from_the_address_it_resolved_to(server: Server, net: Net) -> None:
    """A name resolving to a public address is fetched by default, from that address."""
    net.names["images.example.com"] = [PUBLIC_A]
    net.nat[PUBLIC_A] = server.port
    server.routes["/cat.png"] = respond(200, PNG)
    assert fetch_image("http://images.example.com/cat.png", ImagePolicy()) == PNG
    assert net.connects == [PUBLIC_A]
    assert server.headers[0]["host"] == "images.example.com"


def test_the_type_comes_from_the_bytes_not_the_content_type(server: Server) -> None:
    """A PNG served as text/html is sent as image/png."""
    server.routes["/x"] = respond(200, PNG, Content_Type="text/html")
    image = load_image(server.url("/x?sig=1"), policy=LOOPBACK)
    assert image.mime_type == "image/png"
    assert image.source == server.url("/x")


def test_proxy_variables_are_not_used(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    """HTTP(S)_PROXY is ignored: a proxy would connect to addresses no one checked."""
    proxy = Server()
    proxy.thread.start()
    try:
        monkeypatch.setenv("HTTP_PROXY", proxy.url(""))
        monkeypatch.setenv("ALL_PROXY", proxy.url(""))
        server.routes["/a.png"] = respond(200, PNG)
        assert fetch_image(server.url("/a.png"), LOOPBACK) == PNG
        assert proxy.hits == {}
    finally:
        proxy.httpd.shutdown()
        proxy.httpd.server_close()


# --- addresses refused before any connection --------------------------------------------

REFUSED_LITERALS = {
    "127.0.0.1": "loopback",
    "0.0.0.0": "unspecified",  # noqa: S104 - a URL host to refuse, not a bind address
    "169.254.169.254": "link-local",
    "10.0.0.8": "private",
    "172.16.5.4": "private",
    "172.31.255.1": "private",
    "192.168.1.1": "private",
    "100.64.0.1": "carrier-grade NAT",
    "224.0.0.251": "multicast",
    "240.0.0.1": "reserved",
    "[::1]": "loopback",
    "[::]": "unspecified",
    "[fc00::1]": "private",
    "[fd12:3456::1]": "private",
    "[fe80::1]": "link-local",
    "[::ffff:127.0.0.1]": "loopback",
    "[::ffff:169.254.169.254]": "link-local",
    "[64:ff9b::a9fe:a9fe]": "link-local",
    "[2002:7f00:1::]": "loopback",
    "[2606:4700::5efe:192.168.1.1]": "private address 192.168.1.1, inside",  # ISATAP
    "[2606:4700::200:5efe:127.0.0.1]": "loopback address 127.0.0.1, inside",  # ISATAP, u bit
    "2130706433": "127.0.0.1 written another way",
    "0x7f.1": "127.0.0.1 written another way",
    "0177.0.0.1": "127.0.0.1 written another way",
    "127.1": "127.0.0.1 written another way",
    "0xa9fea9fe": "169.254.169.254 written another way",
}


@pytest.mark.parametrize(("host", "reason"), REFUSED_LITERALS.items())
def test_private_addresses_are_refused_before_connecting(host: str, reason: str, net: Net) -> None:
    """Loopback, private, link-local, CGNAT, multicast, reserved and odd spellings are refused."""
    url = f"http://{host}/latest/meta-data/?token=secret"
    with pytest.raises(BlockedURLError, match="allow_private_urls=True") as caught:
        fetch_image(url, ImagePolicy())
    assert reason in str(caught.value)
    assert "token=secret" not in str(caught.value)
    assert net.connects == []
    assert net.lookups == []


def test_an_isatap_address_around_a_public_ipv4_is_not_refused() -> None:
    """ISATAP is judged by the IPv4 it carries: a public one passes the address check."""
    assert refusal(ipaddress.ip_address("2606:4700::5efe:93.184.216.34")) is None
    assert refusal(ipaddress.ip_address("2606:4700::200:5efe:93.184.216.34")) is None


LOOPBACK_NAMES = ["localhost", "localhost.", "LOCALHOST.", "img.localhost", "a.b.LocalHost."]


@pytest.mark.parametrize("host", LOOPBACK_NAMES)
def test_names_reserved_for_loopback_are_refused_before_any_lookup(host: str, net: Net) -> None:
    """localhost and every name under it (RFC 6761, 6.3) never reach the resolver."""
    with pytest.raises(BlockedURLError, match="RFC 6761") as caught:
        fetch_image(f"http://{host}:8080/a.png?token=secret", ImagePolicy())
    assert "allow_private_urls=True" in str(caught.value)
    assert "token=secret" not in str(caught.value)
    assert net.lookups == []
    assert net.connects == []


def test_localhost_is_fetched_when_private_urls_are_allowed(server: Server) -> None:
    """allow_private_urls=True lets localhost through to the resolver and the server."""
    server.routes["/a.png"] = respond(200, PNG)
    assert fetch_image(server.url("/a.png", host="localhost"), LOOPBACK) == PNG


@pytest.mark.asyncio
@pytest.mark.parametrize("host", ["169.254.169.254", "[::ffff:10.0.0.1]", "2130706433"])
async def test_async_fetch_refuses_the_same_addresses(host: str, net: Net) -> None:
    """The async fetch applies the same checks."""
    with pytest.raises(BlockedURLError):
        await afetch_image(f"http://{host}/x.png", ImagePolicy())
    assert net.connects == []


@pytest.mark.parametrize(
    ("answers", "reason"),
    [
        (["127.0.0.1"], "loopback address 127.0.0.1"),
        (["10.1.2.3"], "private address 10.1.2.3"),
        ([PUBLIC_A, "192.168.0.7"], "private address 192.168.0.7"),
        (["::1"], "loopback address ::1"),
    ],
    ids=["loopback", "private", "one-of-two", "ipv6"],
)
def test_a_name_resolving_to_a_private_address_is_refused(
    answers: list[str], reason: str, net: Net, server: Server
) -> None:
    """Every address a name resolves to must be public; the reason names the address."""

    def getaddrinfo_all(*_: Any, **__: Any) -> Any:
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, 1, 6, "", (a, 80)) for a in answers
        ]

    net.names["intranet.example.com"] = answers
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket, "getaddrinfo", getaddrinfo_all)
        with pytest.raises(BlockedURLError, match=f"intranet.example.com resolves to the {reason}"):
            fetch_image("http://intranet.example.com/a.png", ImagePolicy())
    assert net.connects == []


def test_a_name_for_loopback_is_fetched_when_allowed(server: Server, net: Net) -> None:
    """allow_private_urls=True lets a name that resolves to loopback through."""
    net.names["dev.local"] = ["127.0.0.1"]
    server.routes["/a.png"] = respond(200, PNG)
    with pytest.raises(BlockedURLError):
        fetch_image(server.url("/a.png", host="dev.local"), ImagePolicy())
    assert fetch_image(server.url("/a.png", host="dev.local"), LOOPBACK) == PNG


@pytest.mark.asyncio
async def test_rebinding_cannot_swap_the_address_after_the_check(server: Server, net: Net) -> None:
    """The connection goes to the address that was checked; a second lookup never happens."""
    net.names["rebind.example.com"] = [PUBLIC_B, "127.0.0.1"]  # public first, then loopback
    server.routes["/a.png"] = respond(200, PNG)
    url = server.url("/a.png", host="rebind.example.com")
    with pytest.raises(FetchError, match="Could not fetch"):
        fetch_image(url, ImagePolicy())
    assert net.lookups == ["rebind.example.com"]
    assert net.connects == [PUBLIC_B]  # refused by the guard: it is not a real host here
    assert server.hits == {}  # the loopback server behind the second answer was never reached
    net.names["rebind.example.com"] = [PUBLIC_B, "127.0.0.1"]
    with pytest.raises(FetchError, match="Could not fetch"):
        await afetch_image(url, ImagePolicy())
    assert server.hits == {}


@pytest.mark.parametrize(
    "url",
    ["file:///etc/passwd", "ftp://example.com/a.png", "gopher://example.com:70/_x", "dict://x/"],
)
def test_other_schemes_are_refused(url: str, net: Net) -> None:
    """Only http and https are fetched."""
    with pytest.raises(BlockedURLError, match=r"only http:// and https://"):
        fetch_image(url, LOOPBACK)
    assert net.connects == []


def test_allowed_hosts_restricts_even_private_urls(server: Server, net: Net) -> None:
    """allowed_hosts refuses any other host, and matches case and a trailing dot loosely."""
    net.names["cdn.example.com"] = ["127.0.0.1"]
    server.routes["/a.png"] = respond(200, PNG)
    policy = ImagePolicy(allow_private_urls=True, allowed_hosts=frozenset({"CDN.example.com"}))
    with pytest.raises(
        BlockedURLError, match=r"127\.0\.0\.1 is not in ImagePolicy\(allowed_hosts="
    ):
        fetch_image(server.url("/a.png"), policy)
    assert fetch_image(server.url("/a.png", host="cdn.example.com."), policy) == PNG
    assert server.hits == {"/a.png": 1}


def test_an_unknown_name_is_a_fetch_error(net: Net) -> None:
    """A name that does not resolve gives FetchError naming the host."""
    with pytest.raises(FetchError, match=r"cannot resolve nowhere\.invalid"):
        fetch_image("http://nowhere.invalid/a.png", ImagePolicy())


# --- redirects --------------------------------------------------------------------------


def test_redirects_are_followed_up_to_the_limit(server: Server) -> None:
    """A chain of MAX_REDIRECTS redirects is followed; one more is refused."""
    for hop in range(MAX_REDIRECTS + 1):
        server.routes[f"/r{hop}"] = redirect(
            f"/r{hop + 1}", status=(301, 302, 303, 307, 308)[hop % 5]
        )
    server.routes[f"/r{MAX_REDIRECTS}"] = respond(200, PNG)
    assert fetch_image(server.url("/r0"), LOOPBACK) == PNG
    server.routes[f"/r{MAX_REDIRECTS}"] = redirect(f"/r{MAX_REDIRECTS + 1}")
    server.routes[f"/r{MAX_REDIRECTS + 1}"] = respond(200, PNG)
    with pytest.raises(FetchError, match=f"redirected more than {MAX_REDIRECTS} times"):
        fetch_image(server.url("/r0"), LOOPBACK)


def test_a_redirect_loop_is_named(server: Server) -> None:
    """A redirect back to a URL already visited stops at once."""
    server.routes["/a"] = redirect("/b")
    server.routes["/b"] = redirect("/a")
    with pytest.raises(FetchError, match="redirect loop"):
        fetch_image(server.url("/a"), LOOPBACK)
    assert server.hits == {"/a": 1, "/b": 1}


@pytest.mark.parametrize(
    "target",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://127.0.0.1:1/admin",
        "http://[::1]/",
        "http://internal.example.com/",
        "file:///etc/passwd",
    ],
)
def test_a_redirect_from_a_public_host_to_a_private_one_is_refused(
    target: str, server: Server, net: Net
) -> None:
    """Every hop is checked like the first: a public image host cannot bounce us inside."""
    net.names["images.example.com"] = [PUBLIC_A]
    net.names["internal.example.com"] = ["10.0.0.5"]
    net.nat[PUBLIC_A] = server.port
    server.routes["/cat.png"] = redirect(target)
    with pytest.raises(BlockedURLError, match=r"images\.example\.com/cat\.png \(redirected to"):
        fetch_image("http://images.example.com/cat.png", ImagePolicy())
    assert net.connects == [PUBLIC_A]


def test_a_redirect_off_the_allowed_hosts_is_refused(server: Server, net: Net) -> None:
    """allowed_hosts applies to every hop."""
    net.names["cdn.example.com"] = ["127.0.0.1"]
    net.names["other.example.com"] = ["127.0.0.1"]
    server.routes["/a.png"] = redirect(server.url("/b.png", host="other.example.com"))
    server.routes["/b.png"] = respond(200, PNG)
    policy = ImagePolicy(allow_private_urls=True, allowed_hosts=frozenset({"cdn.example.com"}))
    with pytest.raises(BlockedURLError, match=r"other\.example\.com is not in"):
        fetch_image(server.url("/a.png", host="cdn.example.com"), policy)
    assert "/b.png" not in server.hits


# --- statuses, sizes and time -----------------------------------------------------------


def test_a_404_html_page_is_a_fetch_error_with_the_status(server: Server) -> None:
    """A 404 names the status and the URL without its query string."""
    with pytest.raises(FetchError, match=r"/gone\.png failed: HTTP 404 Not Found") as caught:
        fetch_image(server.url("/gone.png?X-Amz-Signature=abc"), LOOPBACK)
    assert "X-Amz-Signature" not in str(caught.value)


def test_a_declared_length_over_the_cap_is_refused_unread(server: Server) -> None:
    """A 2 GB Content-Length is refused from the headers, before any body is read."""

    def huge(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", "2000000000")
        h.end_headers()
        for _ in range(1000):  # bounded: stops once the client hangs up
            h.wfile.write(b"\0" * 65536)

    server.routes["/huge.png"] = huge
    with pytest.raises(
        FetchError, match=r"declares 2,000,000,000 bytes.*max_fetch_bytes=20,000,000"
    ):
        fetch_image(server.url("/huge.png"), LOOPBACK)


def endless(server: Server, delay: float = 0.0) -> Handler:
    """A chunked body that never ends (until the client hangs up or the test finishes)."""

    def handle(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        chunk = b"\x89PNG" * 4096
        while not server.stop.is_set():
            h.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            h.wfile.flush()
            server.stop.wait(delay)

    return handle


def test_a_body_that_streams_forever_stops_at_the_byte_cap(server: Server) -> None:
    """Without a Content-Length, reading stops once max_fetch_bytes is passed."""
    server.routes["/forever"] = endless(server)
    policy = LOOPBACK.model_copy(update={"max_fetch_bytes": 1_000_000})
    with pytest.raises(
        FetchError, match=r"larger than that, over ImagePolicy\(max_fetch_bytes=1,000,000\)"
    ):
        fetch_image(server.url("/forever"), policy)


@pytest.mark.asyncio
async def test_a_trickling_body_stops_at_the_time_limit(server: Server) -> None:
    """A body arriving a little at a time cannot hold a fetch past fetch_timeout."""
    server.routes["/trickle"] = endless(server, delay=0.05)
    policy = LOOPBACK.model_copy(update={"fetch_timeout": 0.5, "max_fetch_bytes": 10**9})
    url = server.url("/trickle")
    timed_out = r"took longer than ImagePolicy\(fetch_timeout=0.5\)"
    with pytest.raises(FetchError, match=timed_out):
        fetch_image(url, policy)
    with pytest.raises(FetchError, match=timed_out):
        await afetch_image(url, policy)


@pytest.fixture
def silent() -> Iterator[str]:
    """A loopback port that accepts connections and never answers."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    done = threading.Event()

    def accept() -> None:
        listener.settimeout(0.05)
        while not done.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                continue
            except OSError:
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/a.png"
    done.set()
    thread.join()
    for sock in held:
        sock.close()
    listener.close()


@pytest.mark.asyncio
async def test_a_server_that_never_answers_times_out(silent: str) -> None:
    """No answer at all is a FetchError after fetch_timeout, sync and async."""
    policy = LOOPBACK.model_copy(update={"fetch_timeout": 0.3})
    with pytest.raises(FetchError, match="took longer than"):
        fetch_image(silent, policy)
    with pytest.raises(FetchError, match="took longer than"):
        await afetch_image(silent, policy)


def test_a_refused_connection_is_a_fetch_error(net: Net) -> None:
    """Nothing listening: FetchError naming the URL and the fix."""
    with socket.create_server(("127.0.0.1", 0)) as s:
        port = s.getsockname()[1]  # closed on leaving: nothing listens there any more
    with pytest.raises(
        FetchError, match=rf"Could not fetch http://127.0.0.1:{port}/a.png: .*data: URL"
    ):
        fetch_image(f"http://127.0.0.1:{port}/a.png?k=v", LOOPBACK)


# --- several URLs at once ---------------------------------------------------------------


def test_fetch_many_runs_together_and_keeps_each_result(server: Server) -> None:
    """Eight URLs are in flight together; a failing one does not stop the rest."""
    barrier = threading.Barrier(8, timeout=10)
    for index in range(8):
        server.routes[f"/{index}.png"] = together(barrier)
    urls = [server.url(f"/{index}.png") for index in range(8)] + [server.url("/missing.png")]
    results = fetch_many(urls, LOOPBACK)
    assert list(results) == urls
    assert all(results[url] == PNG for url in urls[:8])
    assert isinstance(results[urls[8]], FetchError)


@pytest.mark.asyncio
async def test_afetch_many_respects_fetch_concurrency(server: Server) -> None:
    """At most fetch_concurrency requests are in flight, each URL fetched once."""
    barrier = threading.Barrier(3, timeout=10)  # three at once, twice over
    for index in range(6):
        server.routes[f"/{index}.png"] = together(barrier)
    urls = [server.url(f"/{index}.png") for index in range(6)]
    policy = LOOPBACK.model_copy(update={"fetch_concurrency": 3})
    results = await afetch_many([*urls, urls[0]], policy)
    assert results == dict.fromkeys(urls, PNG)
    assert server.max_in_flight == 3
    assert all(count == 1 for count in server.hits.values())


@pytest.mark.asyncio
async def test_afetch_many_returns_refusals_per_url(server: Server) -> None:
    """A refused URL maps to its BlockedURLError; the allowed one is still fetched."""
    net_policy = ImagePolicy(allowed_hosts=frozenset({"127.0.0.1"}), allow_private_urls=True)
    server.routes["/a.png"] = respond(200, PNG)
    results = await afetch_many(
        [server.url("/a.png"), "http://elsewhere.example.com/b.png"], net_policy
    )
    assert results[server.url("/a.png")] == PNG
    assert isinstance(results["http://elsewhere.example.com/b.png"], BlockedURLError)


# --- what a hostile server or URL tries against the limits ------------------------------


def header_trickle(server: Server) -> Handler:
    """Headers one byte every 0.1 s for 3 s, then an empty body: fine, if anyone waited."""

    def handle(h: BaseHTTPRequestHandler) -> None:
        h.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
        for _ in range(30):
            if server.stop.wait(0.1):
                return
            h.wfile.write(b"a")
            h.wfile.flush()
        h.wfile.write(b"\r\nContent-Length: 0\r\n\r\n")

    return handle


@pytest.mark.asyncio
async def test_headers_sent_a_byte_at_a_time_stop_at_the_time_limit(server: Server) -> None:
    """fetch_timeout bounds the whole fetch, not each read: a header trickle cannot hold it."""
    server.routes["/slow-headers"] = header_trickle(server)
    policy = LOOPBACK.model_copy(update={"fetch_timeout": 0.5})
    with pytest.raises(FetchError, match="took longer than"):
        fetch_image(server.url("/slow-headers"), policy)
    with pytest.raises(FetchError, match="took longer than"):
        await afetch_image(server.url("/slow-headers"), policy)


def test_a_compressed_body_is_refused(server: Server) -> None:
    """A gzip body (asked for without compression) is refused: it could inflate or stall unseen."""
    gzip_of_nothing = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + b"\x00\x00\x00\xff\xff" * 1000
    server.routes["/a.png"] = respond(200, gzip_of_nothing, Content_Encoding="gzip")
    with pytest.raises(FetchError, match=r"compressed \(gzip\)"):
        fetch_image(server.url("/a.png"), LOOPBACK)


def test_each_connect_gets_only_what_is_left(monkeypatch: pytest.MonkeyPatch, net: Net) -> None:
    """Ten unanswering addresses for one name share fetch_timeout instead of each taking it."""
    addresses = [f"93.184.216.{i}" for i in range(10, 20)]
    attempts: list[float | None] = []

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        answers = [host] if host in addresses else addresses
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in answers]

    def blackhole(sock: socket.socket, address: Any) -> None:
        attempts.append(sock.gettimeout())
        time.sleep(sock.gettimeout() or 0)  # a filtered port: no answer until the timeout
        raise TimeoutError("timed out")

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", blackhole)
    with pytest.raises(FetchError, match="took longer than"):
        fetch_image("http://many.example.com/a.png", ImagePolicy(fetch_timeout=0.3))
    assert len(attempts) == 1
    assert attempts[0] is not None
    assert attempts[0] <= 0.3


@pytest.mark.asyncio
async def test_a_slow_resolver_cannot_outlast_the_time_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A lookup that hangs ends the fetch at fetch_timeout, sync and async."""

    def slow_dns(*args: Any, **kwargs: Any) -> Any:
        time.sleep(1.5)
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr(socket, "getaddrinfo", slow_dns)
    policy = ImagePolicy(fetch_timeout=0.3)
    with pytest.raises(FetchError, match="took longer than"):
        fetch_image("http://slow.example.com/a.png", policy)
    with pytest.raises(FetchError, match="took longer than"):
        await afetch_image("http://slow.example.com/a.png", policy)


IMPOSSIBLE_HOSTS = [
    "http://" + "a" * 64 + ".example.com/a.png",
    "http://a..example.com/a.png",
    "http://images.example.com../a.png",
]


@pytest.mark.parametrize("url", IMPOSSIBLE_HOSTS, ids=["long label", "empty label", "two dots"])
def test_impossible_host_names_are_fetch_errors(url: str, net: Net) -> None:
    """A host no resolver can take is a FetchError, never a raw UnicodeError; nothing is looked up."""
    with pytest.raises(FetchError, match="impossible host name"):
        fetch_image(url, ImagePolicy())
    assert net.lookups == []


@pytest.mark.asyncio
async def test_one_stranger_url_does_not_sink_the_others(server: Server) -> None:
    """fetch_many and afetch_many give each URL its own result, whatever the others hold."""
    server.routes["/a.png"] = respond(200, PNG)
    server.routes["/r"] = redirect("http://[::1/")
    urls = [server.url("/a.png"), *IMPOSSIBLE_HOSTS, server.url("/r"), "http://[::1/"]
    for results in (fetch_many(urls, LOOPBACK), await afetch_many(urls, LOOPBACK)):
        assert results[urls[0]] == PNG
        assert all(isinstance(results[url], FetchError) for url in urls[1:])


@pytest.mark.parametrize("location", ["http://[::1/", "//[x/"])
def test_an_unreadable_location_is_a_fetch_error(location: str, server: Server) -> None:
    """A redirect to a Location no parser can read is a FetchError naming the fix."""
    server.routes["/r"] = redirect(location)
    with pytest.raises(FetchError, match="unreadable Location; give the image's final URL"):
        fetch_image(server.url("/r"), LOOPBACK)


def test_allowed_hosts_is_checked_on_the_host_connected_to(server: Server, net: Net) -> None:
    """A URL that one parser reads as the allowed host and another as a different one is refused."""
    net.names["evil.net%5ballowed.com"] = [PUBLIC_A]
    net.nat[PUBLIC_A] = server.port
    server.routes["/a.png"] = respond(200, PNG)
    policy = ImagePolicy(allowed_hosts=frozenset({"allowed.com"}))
    with pytest.raises(BlockedURLError, match="is not in ImagePolicy"):
        fetch_image("http://[::1]@evil.net[allowed.com/a.png", policy)
    assert server.hits == {}
    assert net.connects == []


def test_credentials_never_reach_a_message(server: Server, net: Net) -> None:
    """A password in a URL is not quoted by any error, readable URL or not."""
    for url in (
        "http://user:hunter2\uff03@example.com/a.png",
        server.url("/gone.png").replace("http://", "http://user:hunter2@"),
    ):
        with pytest.raises(FetchError) as caught:
            fetch_image(url, LOOPBACK)
        assert "hunter2" not in str(caught.value)
        assert "user" not in str(caught.value)


@pytest.mark.parametrize(
    "address",
    [
        "64:ff9b:1:a00:0:100:5db8:d822",  # 10.0.0.1 behind a local-use (/48) NAT64
        "64:ff9b::a00:1",  # 10.0.0.1 behind the well-known NAT64 prefix
        "192.0.0.8",  # IETF protocol assignments: global on some Python releases
        "192.0.0.200",
        "198.18.0.1",  # benchmarking
        "2001:db8::1",  # documentation
        "fec0::1",  # site-local
        "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
    ],
)
def test_special_purpose_addresses_are_refused_on_every_python(address: str) -> None:
    """The IANA special-purpose table decides, not the running Python's ipaddress release."""
    assert refusal(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize(
    "address",
    ["93.184.216.34", "8.8.8.8", "2606:2800:220:1:248:1893:25c8:1946", "64:ff9b::5db8:d822"],
)
def test_public_addresses_pass(address: str) -> None:
    """Real public addresses, IPv6 and NAT64 of a public IPv4 included, are allowed."""
    assert refusal(ipaddress.ip_address(address)) is None


def test_hanging_lookups_do_not_hold_up_later_fetches(
    server: Server, net: Net, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lookups that never answer are left behind; the next fetch still resolves at once."""
    release = threading.Event()
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if str(host).startswith("hang"):
            release.wait(10)  # a resolver that does not answer until the test ends
            raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    server.routes["/a.png"] = respond(200, PNG)
    policy = LOOPBACK.model_copy(update={"fetch_timeout": 0.3})
    try:
        hanging = [f"http://hang{n}.example.com/a.png" for n in range(8)]
        assert all(isinstance(r, FetchError) for r in fetch_many(hanging, policy).values())
        # A generous limit here: this fetch must not time out on a busy machine either.
        assert fetch_image(server.url("/a.png"), LOOPBACK) == PNG
    finally:
        release.set()


def test_a_url_in_another_spelling_is_not_called_redirected(server: Server) -> None:
    """A URL httpx2 writes differently (spaces, accents) is named once, with no redirect."""
    with pytest.raises(FetchError) as caught:
        fetch_image(server.url("/café photo.png"), LOOPBACK)
    assert "redirected" not in str(caught.value)
    assert "HTTP 404" in str(caught.value)

"""Fakes for URL tests that can never reach beyond this machine, even when the protection
under test is broken: a resolver that answers from a table, and a transport that connects
only to loopback address literals (a name would be a second DNS lookup; anything else is
refused and recorded)."""

from __future__ import annotations

import http.server
import ipaddress
import socket
import time

import httpx

from tests.client_fixtures import ServerThread


class FakeResolver:
    """Answers names from a table; each name may have a list of answers used in turn (the
    last repeats), as a rebinding DNS server would give. Unknown names do not resolve."""

    def __init__(self, table: dict[str, list[str] | list[list[str]]]) -> None:
        self.table = table
        self.calls: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append(host)
        answers = self.table.get(host.lower())
        if answers is None:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        if answers and isinstance(answers[0], list):
            turn = min(self.calls.count(host), len(answers)) - 1
            return list(answers[turn])
        return [str(a) for a in answers]


class LoopbackOnlyTransport(httpx.BaseTransport):
    """Records every request; connects only when the URL's host is a loopback literal."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self._inner = httpx.HTTPTransport()

    @property
    def hosts(self) -> list[str]:
        return [r.url.host for r in self.requests]

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        try:
            is_loopback = ipaddress.ip_address(request.url.host).is_loopback
        except ValueError:
            is_loopback = False  # a name: connecting would look it up again
        if not is_loopback:
            raise httpx.ConnectError(f"the test refuses to connect to {request.url.host}")
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.server.paths.append(self.path)
        self.server.host_headers.append(self.headers.get("Host", ""))
        self.server.respond(self)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    paths: list[str]
    host_headers: list[str]

    def respond(self, handler: _Handler) -> None:
        raise NotImplementedError


class LoopbackServer(ServerThread):
    """An HTTP server on 127.0.0.1 whose answer is a function of the handler; it counts
    requests."""

    def __init__(self, respond: object) -> None:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.paths = []
        self._server.host_headers = []
        self._server.respond = respond  # type: ignore[method-assign]
        super().__init__(self._server)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def paths(self) -> list[str]:
        return self._server.paths

    @property
    def host_headers(self) -> list[str]:
        return self._server.host_headers


def serve_bytes(body: bytes) -> object:
    def respond(handler: http.server.BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    return respond


# Slow responders end by themselves: their threads must not outlive the test session.
_SLOW_FOR_AT_MOST_S = 10.0


def trickle(byte_every_s: float, *, stall_after: int | None = None) -> object:
    """A body of one byte every `byte_every_s` (the first after that wait too); silent after
    `stall_after` bytes."""

    def respond(handler: http.server.BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.end_headers()
        handler.wfile.flush()
        sent = 0
        ends = time.monotonic() + _SLOW_FOR_AT_MOST_S
        try:
            while time.monotonic() < ends:
                time.sleep(byte_every_s)
                if stall_after is None or sent < stall_after:
                    handler.wfile.write(b"x")
                    handler.wfile.flush()
                    sent += 1
        except OSError:
            return

    return respond


def silence() -> object:
    """Takes the request and never answers."""

    def respond(handler: http.server.BaseHTTPRequestHandler) -> None:
        time.sleep(_SLOW_FOR_AT_MOST_S)

    return respond

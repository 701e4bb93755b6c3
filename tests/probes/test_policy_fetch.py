"""The MTA-STS policy fetch against small HTTPS servers of our own (real sockets, real TLS):
redirects are not followed, the body is capped, a silent server times out with a clear message."""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import certifi
import pytest

from mailtls.probes.https import MAX_POLICY_BYTES, fetch_policy, total_deadline
from tests.support.certs import make_cert
from tests.support.smtpserver import ScriptedServer

IP = "127.0.19.7"
DOMAIN = "policy.test"


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, Path]:
    cert, key = make_cert(f"mta-sts.{DOMAIN}").write(tmp_path_factory.mktemp("certs"))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    return ctx, cert


def _http(answer: bytes) -> Callable[[socket.socket, ssl.SSLContext], None]:
    def handler(conn: socket.socket, ctx: ssl.SSLContext) -> None:
        with ctx.wrap_socket(conn, server_side=True) as s:
            s.recv(4096)
            s.sendall(answer)

    return handler


def _silent(conn: socket.socket, ctx: ssl.SSLContext) -> None:
    time.sleep(3)


@pytest.fixture
def serve(tls: tuple[ssl.SSLContext, Path]) -> Iterator[Callable[..., tuple[str, int]]]:
    servers: list[ScriptedServer] = []

    def start(
        handler: Callable[[socket.socket, ssl.SSLContext], None], ip: str = IP
    ) -> tuple[str, int]:
        srv = ScriptedServer(ip, handler, tls[0])
        servers.append(srv)
        return ip, srv.address[1]

    yield start
    for srv in servers:
        srv.close()


def test_policy_recorded_with_request_and_digest(serve, tls) -> None:  # type: ignore[no-untyped-def]
    body = b"version: STSv1\r\nmode: enforce\r\nmx: mx.policy.test\r\nmax_age: 86400\r\n"
    where = serve(
        _http(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s"
            % (len(body), body)
        )
    )
    f = fetch_policy(DOMAIN, None, tls[1], 2.0, resolve=where)
    assert f.status == 200 and f.body == body and f.header("content-type") == "text/plain"
    assert f.stop_kind == "end" and f.failure_kind is None and f.body_bytes == len(body)
    assert f.request[0] == "GET /.well-known/mta-sts.txt HTTP/1.1"
    assert f"Host: mta-sts.{DOMAIN}" in f.request
    assert len(f.body_sha256) == 64 and f.chain_der and not f.truncated


def test_redirect_is_recorded_not_followed(serve, tls) -> None:  # type: ignore[no-untyped-def]
    where = serve(
        _http(
            b"HTTP/1.1 301 Moved\r\nLocation: https://elsewhere.test/p\r\nContent-Length: 0\r\n\r\n"
        )
    )
    f = fetch_policy(DOMAIN, None, tls[1], 2.0, resolve=where)
    assert f.status == 301 and f.header("Location") == "https://elsewhere.test/p"


def test_body_over_the_cap_is_a_failed_fetch(serve, tls) -> None:  # type: ignore[no-untyped-def]
    big = b"x" * (MAX_POLICY_BYTES * 3)
    where = serve(_http(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n" + big))
    f = fetch_policy(DOMAIN, None, tls[1], 2.0, resolve=where)
    assert f.truncated and f.stop_kind == "limit" and f.failure_kind == "too_large"
    assert f.body_bytes == len(f.body) == MAX_POLICY_BYTES + 1


def test_silent_server_times_out_with_a_clear_message(serve, tls) -> None:  # type: ignore[no-untyped-def]
    where = serve(_silent)
    started = time.monotonic()
    f = fetch_policy(DOMAIN, None, tls[1], 0.5, resolve=where)
    assert time.monotonic() - started < 3
    assert f.status is None and f.failure_kind == "timeout" and f.phase == "tls", f
    assert f.stop_kind == "idle" and f.failure and "time" in f.failure.lower()


def test_wrong_name_is_refused(serve, tls) -> None:  # type: ignore[no-untyped-def]
    where = serve(_http(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"))
    f = fetch_policy("other.test", None, tls[1], 2.0, resolve=where)
    assert f.status is None and f.failure_kind == "tls" and f.failure
    # The refused chain is still recorded (evidence, certificate-expiry view); no HTTP was sent.
    assert len(f.chain_der) == 1 and f.tls_version


def test_connection_refused_is_not_a_timeout() -> None:
    srv = socket.create_server((IP, 0))
    port = srv.getsockname()[1]
    srv.close()
    obs = fetch_policy(DOMAIN, None, Path(certifi.where()), 1.0, resolve=(IP, port))
    assert obs.failure_kind == "connect" and obs.failure is not None
    assert "refused" in obs.failure.lower()


def test_dripping_body_meets_the_deadline(serve, tls) -> None:  # type: ignore[no-untyped-def]
    def drip(conn: socket.socket, ctx: ssl.SSLContext) -> None:
        with ctx.wrap_socket(conn, server_side=True) as s:
            s.recv(4096)
            s.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\n"
            )
            for _ in range(60):
                s.sendall(b"v")
                time.sleep(0.2)

    started = time.monotonic()
    obs = fetch_policy(DOMAIN, None, tls[1], 0.5, resolve=serve(drip))  # budget 4 x 0.5 s
    assert time.monotonic() - started < 4
    assert obs.failure_kind == "timeout", obs


def test_recorded_request_is_what_went_over_the_wire(serve, tls) -> None:  # type: ignore[no-untyped-def]
    seen: list[bytes] = []

    def capture(conn: socket.socket, ctx: ssl.SSLContext) -> None:
        with ctx.wrap_socket(conn, server_side=True) as s:
            seen.append(s.recv(4096))
            s.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")

    obs = fetch_policy(DOMAIN, None, tls[1], 1.0, resolve=serve(capture))
    assert list(obs.request) == [line for line in seen[0].decode().split("\r\n") if line]


# Hostile answers (issue 17): servers of our own on 127.0.17.x, one total deadline of 4 x T.
IP17 = "127.0.17.250"


def _tls_server(
    script: Callable[[ssl.SSLSocket], None],
) -> Callable[[socket.socket, ssl.SSLContext], None]:
    def handler(conn: socket.socket, ctx: ssl.SSLContext) -> None:
        with ctx.wrap_socket(conn, server_side=True) as s:
            s.recv(4096)
            try:
                script(s)
            except OSError:
                pass  # the client left, as it should

    return handler


def _drip_all(s: ssl.SSLSocket) -> None:
    answer = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 10\r\n\r\nversion: S"
    for byte in answer:
        s.sendall(bytes([byte]))
        time.sleep(0.1)


def _endless_chunks(s: ssl.SSLSocket) -> None:
    s.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n")
    chunk = b"mx: mx.policy.test\r\n" * 100
    for _ in range(2000):
        s.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))


def _short_content_length(s: ssl.SSLSocket) -> None:
    s.sendall(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 500\r\n\r\nversion: STSv1\r\n"
    )


def test_drip_from_the_first_byte_meets_the_total_deadline(serve, tls) -> None:  # type: ignore[no-untyped-def]
    """Each byte comes well within the per-read timeout; only the total deadline ends it."""
    started = time.monotonic()
    f = fetch_policy(DOMAIN, None, tls[1], 0.5, resolve=serve(_tls_server(_drip_all), IP17))
    took = time.monotonic() - started
    assert f.deadline_s == total_deadline(0.5) == 2.0
    assert took < f.deadline_s + 0.5, took
    assert f.failure_kind == "timeout" and f.stop_kind == "deadline" and f.phase == "headers", f
    assert f.status is None and f.chain_der  # the TLS handshake was done: the host was reached


def test_endless_chunked_body_is_a_failed_fetch(serve, tls) -> None:  # type: ignore[no-untyped-def]
    f = fetch_policy(DOMAIN, None, tls[1], 2.0, resolve=serve(_tls_server(_endless_chunks), IP17))
    assert f.status == 200 and f.failure_kind == "too_large" and f.stop_kind == "limit", f
    assert f.body_bytes == MAX_POLICY_BYTES + 1


def test_body_shorter_than_its_content_length_is_incomplete(serve, tls) -> None:  # type: ignore[no-untyped-def]
    f = fetch_policy(
        DOMAIN, None, tls[1], 2.0, resolve=serve(_tls_server(_short_content_length), IP17)
    )
    assert f.status == 200 and f.failure_kind == "incomplete" and f.stop_kind == "closed", f
    assert f.body == b"version: STSv1\r\n" and "\\n" in f.body_escaped

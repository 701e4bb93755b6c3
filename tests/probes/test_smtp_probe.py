"""The SMTP probe against small real servers of our own (loopback, real TLS)."""

from __future__ import annotations

import socket
import ssl
import struct
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509

from mailtls.observations import Endpoint
from mailtls.probes.smtp import MAX_SESSION_BYTES, SmtpSettings, probe_smtp
from tests.support.certs import make_cert
from tests.support.smtpserver import ScriptedServer, good_smtp, read_line

IP = "127.0.19.21"
FAST = SmtpSettings(ehlo_name="probe.mailtls.test", timeout=1.0, retry_pause=0.1)


@pytest.fixture(scope="module")
def ctx(tmp_path_factory: pytest.TempPathFactory) -> ssl.SSLContext:
    cert, key = make_cert("mx.probe.test").write(tmp_path_factory.mktemp("certs"))
    c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    c.load_cert_chain(cert, key)
    return c


@pytest.fixture
def serve(ctx: ssl.SSLContext) -> Iterator[object]:
    servers: list[ScriptedServer] = []

    def start(handler: object) -> Endpoint:
        srv = ScriptedServer(IP, handler, ctx)  # type: ignore[arg-type]
        servers.append(srv)
        return Endpoint(IP, srv.address[1], "mx.probe.test")

    yield start
    for s in servers:
        s.close()


def test_good_session(serve: object) -> None:
    ep = serve(good_smtp)  # type: ignore[operator]
    obs = probe_smtp(ep, FAST)
    assert obs.failure is None
    assert obs.banner is not None and obs.banner.code == 220
    assert obs.starttls_offered
    assert obs.tls is not None and obs.tls.version in ("TLSv1.2", "TLSv1.3")
    assert obs.tls.server_name == "mx.probe.test"
    cert = x509.load_der_x509_certificate(obs.tls.chain_der[0])
    assert "mx.probe.test" in cert.subject.rfc4514_string()
    assert obs.ehlo_tls is not None and "STARTTLS" not in obs.ehlo_tls.keywords
    sent = [line.text.split()[0] for line in obs.transcript if line.direction == "C"]
    assert sent == ["EHLO", "STARTTLS", "EHLO", "QUIT"]  # never MAIL, RCPT, DATA or AUTH


def test_silent_server_times_out(serve: object) -> None:
    ep = serve(lambda conn, ctx: time.sleep(5))  # type: ignore[operator]
    started = time.monotonic()
    obs = probe_smtp(ep, FAST)
    assert time.monotonic() - started < 3
    assert (
        obs.failure is not None and obs.failure.kind == "timeout" and obs.failure.stage == "banner"
    )


def test_endless_reply_is_capped(serve: object) -> None:
    def endless(conn: socket.socket, ctx: ssl.SSLContext) -> None:
        conn.sendall(b"220 hi\r\n")
        read_line(conn)
        while True:
            conn.sendall(
                b"250-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\r\n" * 100
            )

    obs = probe_smtp(serve(endless), FAST)  # type: ignore[operator]
    assert obs.failure is not None and obs.failure.kind == "too_long"
    assert sum(len(line.text) for line in obs.transcript) < MAX_SESSION_BYTES + 4096


def test_421_banner_is_retried_once_then_inconclusive(serve: object) -> None:
    def busy(conn: socket.socket, ctx: ssl.SSLContext) -> None:
        conn.sendall(b"421 4.7.0 too busy\r\n")

    obs = probe_smtp(serve(busy), FAST)  # type: ignore[operator]
    assert obs.failure is not None and obs.failure.inconclusive
    assert obs.attempts == 2 and obs.connections == 2
    assert "inconclusive" in obs.failure.message


def test_reset_after_starttls_is_inconclusive(serve: object) -> None:
    def reset(conn: socket.socket, ctx: ssl.SSLContext) -> None:
        conn.sendall(b"220 hi\r\n")
        read_line(conn)
        conn.sendall(b"250-hi\r\n250 STARTTLS\r\n")
        read_line(conn)
        conn.sendall(b"220 go\r\n")
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()

    obs = probe_smtp(serve(reset), FAST)  # type: ignore[operator]
    assert obs.failure is not None and obs.failure.kind == "reset", obs.failure
    assert obs.tls is None and obs.tls_error is None


def test_garbage_instead_of_tls_is_a_tls_failure(serve: object) -> None:
    def garbage(conn: socket.socket, ctx: ssl.SSLContext) -> None:
        conn.sendall(b"220 hi\r\n")
        read_line(conn)
        conn.sendall(b"250-hi\r\n250 STARTTLS\r\n")
        read_line(conn)
        conn.sendall(b"220 go\r\n")
        conn.sendall(b"this is not TLS at all\r\n" * 20)

    obs = probe_smtp(serve(garbage), FAST)  # type: ignore[operator]
    assert obs.tls is None and obs.tls_error is not None
    assert obs.failure is not None and obs.failure.kind == "tls"


def test_connection_refused(serve: object) -> None:
    srv = socket.create_server((IP, 0))
    port = srv.getsockname()[1]
    srv.close()
    obs = probe_smtp(Endpoint(IP, port, "x.test"), FAST)
    assert obs.failure is not None and obs.failure.kind == "connect"
    assert "refused" in obs.failure.message.lower()


def test_transcript_keeps_markup_verbatim(serve: object, tmp_path: Path) -> None:
    def script(conn: socket.socket, ctx: ssl.SSLContext) -> None:
        conn.sendall(b"220 <script>alert(1)</script>\r\n")
        read_line(conn)
        conn.sendall(b"250 ok\r\n")
        read_line(conn)
        conn.sendall(b"221 bye\r\n")

    obs = probe_smtp(serve(script), FAST)  # type: ignore[operator]
    assert obs.banner is not None and "<script>" in obs.banner.lines[0]
    from mailtls.evidence import render_html

    html = render_html(obs)
    assert "<script>" not in html and "&lt;script&gt;" in html

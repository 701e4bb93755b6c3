"""One full TLS handshake on a connection opened for a hello probe, to tell "TLS is unusable"
from "our first offer was unlucky".

The SMTP session's handshake offers everything OpenSSL still can; when the server refuses it
(a TLS alert, or a close during the handshake), the hello scan makes one more full handshake with
TLS 1.2 at most (some servers break only in TLS 1.3). If that is refused as well, no sender can
complete a handshake with this address: every TLS question has its answer, and the scan stops
instead of spending the connection budget on hellos whose ServerHello proves nothing.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import Literal

from mailtls.probes.smtp import StartedTls, broad_client_context, tls_refusal

HandshakeOutcome = Literal["completed", "refused", "error"]


@dataclass(frozen=True)
class Handshake:
    outcome: HandshakeOutcome
    detail: str
    version: str | None = None
    cipher: str | None = None


def full_handshake(started: StartedTls, server_name: str | None, tls12_at_most: bool) -> Handshake:
    """Complete a handshake on ``started`` (the caller closes nothing: this closes the socket)."""
    if started.pending:
        started.sock.close()
        return Handshake("error", "the server sent data before our ClientHello")
    ctx = broad_client_context()
    if tls12_at_most:
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    sock = started.sock
    try:
        tls = ctx.wrap_socket(sock, server_hostname=server_name, do_handshake_on_connect=False)
        sock = tls
        tls.do_handshake()
        cipher = tls.cipher()
        return Handshake(
            "completed", "handshake completed", tls.version(), cipher[0] if cipher else None
        )
    except ssl.SSLError as exc:
        refused = tls_refusal(exc)
        what = "refused" if refused else "failed"
        return Handshake(
            "refused" if refused else "error", f"handshake {what}: {exc.reason or exc}"
        )
    except OSError as exc:
        return Handshake("error", f"connection error during the handshake: {exc.strerror or exc}")
    finally:
        sock.close()

"""The MTA-STS policy fetch (RFC 8461 §3.3) with urllib3.

``GET https://mta-sts.<domain>/.well-known/mta-sts.txt``, connected to the address our own
resolver gave (so that the evidence names it), with SNI and certificate name
``mta-sts.<domain>``, the run's CA bundle, no redirects followed, no retries, a timeout on
connect and on every read, and the body read in chunks up to a cap of 64 KiB (+1 byte, to tell
"exactly at the cap" from "more"). Everything sent and received is recorded, never judged here.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import os
import socket
import ssl
import threading
import time
from dataclasses import replace
from pathlib import Path

import urllib3
from urllib3.connection import HTTPSConnection
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)

from mailtls.observations import DnsAnswer, FetchPhase, FetchStop, PolicyFetch
from mailtls.probes.dns import DnsClient
from mailtls.tls.peer import served_chain

POLICY_PATH = "/.well-known/mta-sts.txt"
MAX_POLICY_BYTES = 64 * 1024
DEADLINE_FACTOR = 4  # the whole fetch ends at 4 x --timeout (README: "The MTA-STS policy fetch")
USER_AGENT = "mailtls (MTA-STS policy check)"


def _addresses(
    dns: DnsClient, host: str
) -> tuple[list[str], tuple[DnsAnswer, ...], str | None, bool]:
    """Addresses of the policy host, the answers, why there is none, and whether that is our
    resolver's failure (SERVFAIL, timeout) rather than the domain's (NXDOMAIN, no record)."""
    a = dns.query(host, "A")
    aaaa = dns.query(host, "AAAA")
    ips = [*(a.records if a.status == "ok" else ()), *(aaaa.records if aaaa.status == "ok" else ())]
    failed = [x for x in (a, aaaa) if x.status in ("servfail", "timeout", "error", "refused")]
    problem = None
    if not ips:
        problem = failed[0].describe() if failed else f"{host} has no A or AAAA record"
    return ips, (a, aaaa), problem, bool(failed) and not ips


def _chain(response: urllib3.BaseHTTPResponse) -> tuple[tuple[bytes, ...], str | None]:
    sock = getattr(getattr(response, "connection", None), "sock", None)
    if not isinstance(sock, ssl.SSLSocket):
        return (), None
    return served_chain(sock), sock.version()


class _Watchdog:
    """Ends the whole fetch at its total deadline: shutting the sockets down wakes any read
    (of the handshake, the status line, the headers or the body) at once, however slowly the
    server drips. Per-read timeouts alone cannot do this: each drip resets them."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.fired = False
        self._socks: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self.fire)
        self._timer.daemon = True
        self._timer.start()

    def attach(self, sock: socket.socket) -> None:
        """Watch ``sock``. A duplicate of its descriptor is kept: wrapping a socket in TLS
        detaches the original object, but shutting the duplicate down ends the same connection."""
        with self._lock:
            dup = socket.socket(fileno=os.dup(sock.fileno()))
            self._socks.append(dup)
            if self.fired:
                _shutdown(dup)

    def fire(self) -> None:
        with self._lock:
            self.fired = True
            for sock in self._socks:
                _shutdown(sock)

    def cancel(self) -> None:
        self._timer.cancel()
        with self._lock:
            for sock in self._socks:
                sock.close()
            self._socks.clear()


def _shutdown(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


def total_deadline(timeout: float) -> float:
    """The one deadline of a whole policy fetch (connect, TLS, status, headers, body)."""
    return DEADLINE_FACTOR * timeout


def fetch_policy(
    domain: str,
    dns: DnsClient | None,
    ca_bundle: Path,
    timeout: float,
    skipped: str | None = None,
    *,
    resolve: tuple[str, int] | None = None,
) -> PolicyFetch:
    """Fetch and record. ``resolve`` = (ip, port) connects there instead of resolving the
    policy host (like curl --resolve; the probe tests use it)."""
    host = f"mta-sts.{domain}"
    url = f"https://{host}{POLICY_PATH}"
    now = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")
    if skipped:
        return PolicyFetch(domain, host, url, now, skipped=skipped)
    started = time.monotonic()
    port = 443
    answers: tuple[DnsAnswer, ...] = ()
    problem: str | None = None
    resolver_failed = False
    if resolve is not None:
        ip, port = resolve
    else:
        assert dns is not None
        ips, answers, problem, resolver_failed = _addresses(dns, host)
        ip = ips[0] if ips else ""
    base = PolicyFetch(domain, host, url, now, dns=answers)

    def done(**kw: object) -> PolicyFetch:
        return replace(base, elapsed_ms=round((time.monotonic() - started) * 1000, 1), **kw)  # type: ignore[arg-type]

    if problem:
        return done(failure_kind="resolver" if resolver_failed else "dns", failure=problem)
    # Every header http.client would otherwise add is given here, so `request` is exactly what
    # goes over the wire (without Accept-Encoding, http.client adds "Accept-Encoding: identity").
    headers = {
        "Host": host,
        "User-Agent": USER_AGENT,
        "Accept": "text/plain",
        "Accept-Encoding": "identity",
    }
    request = (f"GET {POLICY_PATH} HTTP/1.1", *(f"{k}: {v}" for k, v in headers.items()))
    limit = total_deadline(timeout)
    dog = _Watchdog(limit)
    phase: list[FetchPhase] = ["connect"]
    verified: list[tuple[tuple[bytes, ...], str | None]] = []  # the chain, once it passed

    class Connection(HTTPSConnection):
        def _new_conn(self) -> socket.socket:
            sock = super()._new_conn()
            dog.attach(sock)
            phase[0] = "tls"
            return sock

        def connect(self) -> None:
            super().connect()  # TCP, TLS, and the chain and name verified against the bundle
            phase[0] = "headers"
            if isinstance(self.sock, ssl.SSLSocket):
                verified.append((served_chain(self.sock), self.sock.version()))

    pool = urllib3.HTTPSConnectionPool(
        ip,
        port,
        server_hostname=host,
        assert_hostname=host,
        cert_reqs="CERT_REQUIRED",
        ca_certs=str(ca_bundle),
        timeout=urllib3.Timeout(connect=min(timeout, limit), read=timeout),
        retries=False,
        maxsize=1,
    )
    pool.ConnectionCls = Connection
    common = {"address": ip, "request": request, "deadline_s": limit}
    try:
        response = pool.urlopen(
            "GET", POLICY_PATH, headers=headers, redirect=False, retries=False,
            preload_content=False, assert_same_host=False,
        )  # fmt: skip
        if dog.fired:  # http.client takes the cut-off header block for a complete one
            raise ReadTimeoutError(pool, POLICY_PATH, "the headers did not end in time")
        phase[0] = "body"
        chain, version = _chain(response)
        answer = {
            "status": response.status,
            "reason": response.reason or "",
            "headers": tuple((k, v) for k, v in response.headers.items()),
            "tls_version": version,
            "chain_der": chain,
        }
        body, stop, why = _read_body(response, dog)
        failure: dict[str, object] = {}
        if stop == "limit":
            failure = {"failure_kind": "too_large", "failure": why}
        elif stop in ("deadline", "idle"):
            failure = {"failure_kind": "timeout", "failure": why}
        elif stop in ("closed", "error"):
            failure = {"failure_kind": "incomplete", "failure": why}
        return done(
            **common, **answer, **failure, body=body, body_bytes=len(body),
            body_sha256=hashlib.sha256(body).hexdigest(), stop_kind=stop, phase="body",
        )  # fmt: skip
    except (SSLError, NewConnectionError, ProtocolError, ConnectTimeoutError, ReadTimeoutError,
            HTTPError) as exc:  # fmt: skip
        failed = _failure(exc, dog.fired, phase[0], limit, (ip, port, host), dog)
        if verified:
            failed.update(chain_der=verified[0][0], tls_version=verified[0][1])
        return done(**common, **failed)
    finally:
        dog.cancel()
        pool.close()


def _read_body(response: urllib3.BaseHTTPResponse, dog: _Watchdog) -> tuple[bytes, FetchStop, str]:
    """Read at most the cap + 1 byte; why reading stopped, and how that reads to a user."""
    body = b""
    try:
        while len(body) <= MAX_POLICY_BYTES:
            # read1: what one recv brings. read(8192) keeps reading until it has 8192 bytes.
            chunk = response.read1(min(8192, MAX_POLICY_BYTES + 1 - len(body)))
            if not chunk:
                break
            body += chunk
    except (ProtocolError, ReadTimeoutError, HTTPError, OSError) as exc:
        if dog.fired:
            return (
                body,
                "deadline",
                f"the total deadline passed while reading the body ({_reason(exc)})",
            )
        return body, "closed", f"the body was cut short after {len(body)} bytes: {_reason(exc)}"
    if dog.fired:
        return body, "deadline", f"the total deadline passed after {len(body)} body bytes"
    if len(body) > MAX_POLICY_BYTES:
        return body, "limit", f"the body is larger than {MAX_POLICY_BYTES} bytes; stopped reading"
    response.release_conn()
    return body, "end", "the message ended"


def _failure(
    exc: BaseException,
    fired: bool,
    phase: FetchPhase,
    limit: float,
    where: tuple[str, int, str],
    dog: _Watchdog,
) -> dict[str, object]:
    """The recorded fields of a fetch that got no HTTP answer."""
    out: dict[str, object] = {"phase": phase}
    if not fired and _timed_out(exc):
        out.update(failure_kind="timeout", stop_kind="idle")
        out["failure"] = f"timeout: no data for {limit / DEADLINE_FACTOR:g}s during {phase}"
    elif fired:
        out.update(failure_kind="timeout", stop_kind="deadline")
        out["failure"] = (
            f"timeout: the total deadline of {limit:g}s passed during {phase} ({_reason(exc)})"
        )
    elif isinstance(exc, SSLError):
        chain, version = _refused_chain(*where, dog)
        out.update(failure_kind="tls", failure=f"TLS: {_reason(exc)}", chain_der=chain)
        out["tls_version"] = version
    elif isinstance(exc, NewConnectionError | ProtocolError):
        # Before ConnectTimeoutError: urllib3's NewConnectionError (connection refused,
        # unreachable) is a subclass of it.
        out.update(failure_kind="connect", failure=_reason(exc))
    elif isinstance(exc, ConnectTimeoutError | ReadTimeoutError):
        out.update(failure_kind="timeout", failure=f"timeout: {_reason(exc)}")
    else:
        out.update(failure_kind="http", failure=_reason(exc))
    return out


def _refused_chain(
    ip: str, port: int, host: str, dog: _Watchdog
) -> tuple[tuple[bytes, ...], str | None]:
    """The chain a refused policy host serves, for the evidence and the expiry view: a second
    handshake without verification, closed at once (no HTTP request is sent on it)."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection((ip, port), timeout=dog.seconds) as raw:
            dog.attach(raw)  # the refused host's second handshake is under the same deadline
            with ctx.wrap_socket(raw, server_hostname=host) as tls:
                return served_chain(tls), tls.version()
    except (OSError, ValueError):
        return (), None


def _timed_out(exc: BaseException) -> bool:
    """A read or connect that timed out, however urllib3 or ssl wrapped it."""
    inner: BaseException | None = exc
    for _ in range(8):
        if inner is None or isinstance(inner, NewConnectionError):  # a ConnectTimeoutError too
            return False
        if isinstance(inner, TimeoutError | ConnectTimeoutError | ReadTimeoutError):
            return True
        inner = inner.__cause__ or inner.__context__
    return False


def _reason(exc: BaseException) -> str:
    """The innermost useful message (urllib3 wraps ssl and socket errors)."""
    inner: BaseException | None = exc
    while inner is not None and inner.__cause__ is not None:
        inner = inner.__cause__
    text = str(inner or exc)
    return text[:300]

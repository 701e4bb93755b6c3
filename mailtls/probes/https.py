"""The MTA-STS policy fetch (RFC 8461 §3.3) with urllib3.

``GET https://mta-sts.<domain>/.well-known/mta-sts.txt``, connected to the address our own
resolver gave (so that the evidence names it), with SNI and certificate name
``mta-sts.<domain>``, the run's CA bundle, no redirects followed, no retries, a timeout on
connect and on every read, and the body read in chunks up to a cap of 64 KiB (+1 byte, to tell
"exactly at the cap" from "more"). Everything sent and received is recorded, never judged here.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import socket
import ssl
import time
from dataclasses import replace
from pathlib import Path

import urllib3
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)

from mailtls.observations import DnsAnswer, PolicyFetch
from mailtls.probes.dns import DnsClient
from mailtls.tls.peer import served_chain

POLICY_PATH = "/.well-known/mta-sts.txt"
MAX_POLICY_BYTES = 64 * 1024
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
    pool = urllib3.HTTPSConnectionPool(
        ip,
        port,
        server_hostname=host,
        assert_hostname=host,
        cert_reqs="CERT_REQUIRED",
        ca_certs=str(ca_bundle),
        timeout=urllib3.Timeout(connect=timeout, read=timeout),
        retries=False,
        maxsize=1,
    )
    try:
        response = pool.urlopen(
            "GET", POLICY_PATH, headers=headers, redirect=False, retries=False,
            preload_content=False, assert_same_host=False,
        )  # fmt: skip
        chain, version = _chain(response)
        body = b""
        deadline = time.monotonic() + 4 * timeout
        while len(body) <= MAX_POLICY_BYTES:
            if time.monotonic() > deadline:
                raise ReadTimeoutError(pool, POLICY_PATH, "policy body took too long")
            # read1: what one recv brings. read(8192) keeps reading until it has 8192 bytes,
            # so a server dripping a byte per second would hold it far beyond the deadline.
            chunk = response.read1(8192)
            if not chunk:
                break
            body += chunk
        truncated = len(body) > MAX_POLICY_BYTES
        response.release_conn()
        return done(
            address=ip,
            request=request,
            status=response.status,
            reason=response.reason or "",
            headers=tuple((k, v) for k, v in response.headers.items()),
            body=body[:MAX_POLICY_BYTES].decode("utf-8", "replace"),
            body_bytes=len(body),
            body_sha256=hashlib.sha256(body[:MAX_POLICY_BYTES]).hexdigest(),
            truncated=truncated,
            tls_version=version,
            chain_der=chain,
        )
    except SSLError as exc:
        chain, version = _refused_chain(ip, port, host, timeout)
        return done(
            address=ip,
            request=request,
            failure_kind="tls",
            failure=f"TLS: {_reason(exc)}",
            chain_der=chain,
            tls_version=version,
        )
    except (NewConnectionError, ProtocolError) as exc:
        # Before ConnectTimeoutError: urllib3's NewConnectionError (connection refused,
        # unreachable) is a subclass of it.
        return done(address=ip, request=request, failure_kind="connect", failure=_reason(exc))
    except (ConnectTimeoutError, ReadTimeoutError) as exc:
        return done(
            address=ip, request=request, failure_kind="timeout", failure=f"timeout: {_reason(exc)}"
        )
    except HTTPError as exc:
        return done(address=ip, request=request, failure_kind="http", failure=_reason(exc))
    finally:
        pool.close()


def _refused_chain(
    ip: str, port: int, host: str, timeout: float
) -> tuple[tuple[bytes, ...], str | None]:
    """The chain a refused policy host serves, for the evidence and the expiry view: a second
    handshake without verification, closed at once (no HTTP request is sent on it)."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        with (
            socket.create_connection((ip, port), timeout=timeout) as raw,
            ctx.wrap_socket(raw, server_hostname=host) as tls,
        ):
            return served_chain(tls), tls.version()
    except (OSError, ValueError):
        return (), None


def _reason(exc: BaseException) -> str:
    """The innermost useful message (urllib3 wraps ssl and socket errors)."""
    inner: BaseException | None = exc
    while inner is not None and inner.__cause__ is not None:
        inner = inner.__cause__
    text = str(inner or exc)
    return text[:300]

#!/usr/bin/env python3
"""Hostile MTA-STS policy hosts: HTTPS servers that answer the policy GET badly, on purpose.

Each exists so that a test of mailtls can prove the policy fetch is bounded (size, one total
deadline) and that no MTA-STS row passes on a policy a sender could not use. Every listener
serves a real TLS certificate from the testbed CA (chosen by SNI among the ``--cert`` pairs)
and, unless its behaviour says otherwise, the valid policy ``version: STSv1 / mode: enforce /
mx: <--mx> / max_age: 1209600``:

  good      the policy, Content-Type text/plain, Content-Length: the control case.
  drip      the whole response (status line first) one byte per second: every read succeeds,
            only the client's total deadline can end it.
  endless   ``Transfer-Encoding: chunked``: the policy, then unknown-key lines that never end.
  huge      10 MB with an honest Content-Length (the policy, then unknown keys).
  cllie     ``Content-Length: 100000`` but only the policy is sent, then the connection closes.
  redirect  ``301`` to https://mta-sts.good.test/.well-known/mta-sts.txt (must not be followed).
  ctype     the policy as ``text/html``.
  midclose  chunked: announces a 400-byte chunk, sends 60 bytes of the policy and closes.

Safety: binds only the given addresses (within 127.0.10.0-127.0.19.255), never a wildcard; the
request is read with a size cap and a timeout; every connection has a hard deadline; the number
of simultaneous connections per listener is capped; the log file is rotated. Usage::

  python3 testbed/servers/hostile_web.py --listen 127.0.17.11:drip [--listen IP:BEHAVIOUR ...] \
      --cert CHAIN.pem:KEY.pem [--cert ...] --mx mx1.good.test [--logfile F] [--pidfile F]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import logging.handlers
import signal
import ssl
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from _common import (  # testbed/servers/_common.py (the servers run as scripts)
    check_address,
    run_asyncio_server,
)
from cryptography import x509

MAX_REQUEST = 8192
REQUEST_TIMEOUT = 10.0
CONNECTION_DEADLINE = 120.0
MAX_CONNECTIONS = 50
DRIP_INTERVAL = 1.0
ENDLESS_PAUSE = 0.01  # between 16 KiB chunks: at most ~1.6 MB/s per connection
HUGE_BYTES = 10 * 1024 * 1024

log = logging.getLogger("hostile_web")
Send = Callable[[asyncio.StreamWriter, bytes], Awaitable[None]]


def policy(mx: str) -> bytes:
    return f"version: STSv1\r\nmode: enforce\r\nmx: {mx}\r\nmax_age: 1209600\r\n".encode()


def head(status: str, ctype: str = "text/plain", **extra: str) -> bytes:
    lines = [f"HTTP/1.1 {status}", f"Content-Type: {ctype}", "Connection: close"]
    lines += [f"{k.replace('_', '-')}: {v}" for k, v in extra.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def send(w: asyncio.StreamWriter, data: bytes) -> None:
    w.write(data)
    await w.drain()


async def good(w: asyncio.StreamWriter, body: bytes) -> None:
    await send(w, head("200 OK", Content_Length=str(len(body))) + body)


async def drip(w: asyncio.StreamWriter, body: bytes) -> None:
    for byte in head("200 OK", Content_Length=str(len(body))) + body:
        await send(w, bytes([byte]))
        await asyncio.sleep(DRIP_INTERVAL)


async def endless(w: asyncio.StreamWriter, body: bytes) -> None:
    await send(w, head("200 OK", Transfer_Encoding="chunked"))
    await send(w, b"%x\r\n%s\r\n" % (len(body), body))
    chunk = b"x_never_ends: " + b"a" * 1000 + b"\r\n"
    chunk *= 16
    for _ in itertools.count():
        await send(w, b"%x\r\n%s\r\n" % (len(chunk), chunk))
        await asyncio.sleep(ENDLESS_PAUSE)


async def huge(w: asyncio.StreamWriter, body: bytes) -> None:
    await send(w, head("200 OK", Content_Length=str(HUGE_BYTES)) + body)
    sent = len(body)
    line = b"x_padding: " + b"a" * 1011 + b"\r\n"  # 1024 bytes
    while sent + len(line) * 64 <= HUGE_BYTES:
        await send(w, line * 64)
        sent += len(line) * 64
    await send(w, b"a" * (HUGE_BYTES - sent))


async def cllie(w: asyncio.StreamWriter, body: bytes) -> None:
    await send(w, head("200 OK", Content_Length="100000") + body)


async def redirect(w: asyncio.StreamWriter, body: bytes) -> None:
    where = "https://mta-sts.good.test/.well-known/mta-sts.txt"
    await send(w, head("301 Moved Permanently", Location=where, Content_Length="0"))


async def ctype(w: asyncio.StreamWriter, body: bytes) -> None:
    await send(w, head("200 OK", "text/html", Content_Length=str(len(body))) + body)


async def midclose(w: asyncio.StreamWriter, body: bytes) -> None:
    await send(w, head("200 OK", Transfer_Encoding="chunked") + b"190\r\n" + body[:60])


BEHAVIOURS: dict[str, Callable[[asyncio.StreamWriter, bytes], Awaitable[None]]] = {
    "good": good,
    "drip": drip,
    "endless": endless,
    "huge": huge,
    "cllie": cllie,
    "redirect": redirect,
    "ctype": ctype,
    "midclose": midclose,
}


class Listener:
    """One behaviour on one address; connections bounded in number, size and time."""

    _ids = itertools.count(1)

    def __init__(self, name: str, body: bytes) -> None:
        self.name, self.body, self.active = name, body, 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = next(self._ids)
        peer = writer.get_extra_info("peername") or ("?", 0)
        sni = getattr(writer.get_extra_info("ssl_object"), "server_hostname", None)
        started, outcome = time.monotonic(), "done"
        if self.active >= MAX_CONNECTIONS:
            writer.transport.abort()
            log.warning(
                "conn=%d peer=%s behaviour=%s refused: over capacity", conn, peer[0], self.name
            )
            return
        self.active += 1
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT):
                request = await reader.readuntil(b"\r\n\r\n")
            first_line = request.split(b"\r\n", 1)[0][:80]
            outcome = f"request {first_line!r}"
            async with asyncio.timeout(CONNECTION_DEADLINE):
                await BEHAVIOURS[self.name](writer, self.body)
        except TimeoutError:
            outcome += "; deadline reached"
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            outcome = "bad or no request"
        except (ConnectionError, OSError, ssl.SSLError) as exc:
            outcome += f"; client gone: {type(exc).__name__}"
        except Exception as exc:  # a bug here must not take the other listeners down
            outcome = f"internal error: {type(exc).__name__}: {exc}"
            log.exception("conn=%d behaviour=%s internal error", conn, self.name)
        finally:
            self.active -= 1
            writer.transport.abort()
            log.info(
                "conn=%d peer=%s sni=%s behaviour=%s closed after %.2fs: %s",
                conn, peer[0], sni, self.name, time.monotonic() - started, outcome,
            )  # fmt: skip


def tls_context(pairs: list[tuple[Path, Path]]) -> ssl.SSLContext:
    """One server context; SNI picks the certificate whose first SAN is the name asked for."""
    by_name: dict[str, ssl.SSLContext] = {}
    for chain, key in pairs:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(chain, key)
        cert = x509.load_pem_x509_certificate(chain.read_bytes())
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        for name in sans.get_values_for_type(x509.DNSName):
            by_name[name.lower()] = ctx
    default = next(iter(by_name.values()))

    def pick(sock: ssl.SSLObject, name: str | None, _ctx: ssl.SSLContext) -> None:
        sock.context = by_name.get((name or "").lower(), default)

    default.sni_callback = pick
    return default


def check_listen(item: str) -> tuple[str, str]:
    ip, _, behaviour = item.partition(":")
    check_address(ip)
    if behaviour not in BEHAVIOURS:
        raise argparse.ArgumentTypeError(
            f"unknown behaviour {behaviour!r}; known: {list(BEHAVIOURS)}"
        )
    return ip, behaviour


def check_cert(item: str) -> tuple[Path, Path]:
    chain, _, key = item.partition(":")
    return Path(chain), Path(key)


async def serve(args: argparse.Namespace) -> None:
    ctx = tls_context(args.cert)
    body = policy(args.mx)
    servers = [
        await asyncio.start_server(
            Listener(behaviour, body).handle,
            ip,
            args.port,
            ssl=ctx,
            limit=MAX_REQUEST,
            ssl_handshake_timeout=REQUEST_TIMEOUT,
        )
        for ip, behaviour in args.listen
    ]
    log.info("listening: %s", ", ".join(f"{ip}:{args.port} {b}" for ip, b in args.listen))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    for srv in servers:
        srv.close()
    log.info("stopped")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--listen", type=check_listen, action="append", required=True)
    p.add_argument("--cert", type=check_cert, action="append", required=True)
    p.add_argument("--mx", default="mx1.good.test")
    p.add_argument("--port", type=int, default=443)
    p.add_argument("--logfile", type=Path)
    p.add_argument("--pidfile", type=Path)
    args = p.parse_args(argv)
    return run_asyncio_server(log, args, serve)


if __name__ == "__main__":
    raise SystemExit(main())

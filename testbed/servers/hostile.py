#!/usr/bin/env python3
"""Misbehaving SMTP servers: injected faults that prove the compliance checks say `error`/`fail`.

Every behaviour below is a fault that a real, broken or hostile, mail server can show. Each one
exists so that a test of mailtls can prove the suite reports it as an `error` (we could not
observe) or a `fail` (we observed a violation) and never as a false `pass`, and that the probe
neither hangs nor floods its memory. Server N listens on ``<bind-base>.<N>:<port>``:

 1 silent        accepts and never says anything (held until the client leaves, at most 120 s):
                 the probe must time out on the banner -> error, not pass.
 2 garbage       sends ``HTTP/1.1 400 Bad Request`` and random bytes instead of a banner, closes:
                 a non-SMTP service on port 25 -> error (protocol), never a parsed reply.
 3 closed        accepts and closes at once: the banner read sees EOF -> error.
 4 endless       normal banner, then an EHLO reply of ``250-`` lines that never ends (paced, 100
                 lines per chunk): the probe's line/byte caps must stop it -> error, no OOM.
 5 script        banner and one EHLO line carry HTML/JavaScript; real STARTTLS + TLS afterwards:
                 proves server text is escaped in the HTML report while the checks still pass.
 6 busy          ``421 4.7.0 ... Too many connections`` then close: inconclusive -> error/retry.
 7 reset         advertises STARTTLS, answers ``220 2.0.0 Ready`` then resets the TCP connection
                 (SO_LINGER 0) once the ClientHello arrives -> error, not "TLS ok".
 8 tlsgarbage    ``220 Ready`` to STARTTLS, then plain text instead of a ServerHello -> TLS error.
 9 starttls454   STARTTLS -> ``454 4.7.0 TLS not available due to temporary reason``; QUIT works:
                 STARTTLS advertised but refused -> fail/error, never "encrypted".
10 ehlofail      real TLS, but EHLO/HELO inside TLS get ``502 5.5.2``: the post-TLS EHLO check
                 must not pass on an SMTP session that is unusable after the handshake.
11 stillstarttls real TLS, but the post-TLS EHLO still lists STARTTLS (RFC 3207 §4.2 says the
                 server MUST NOT) -> fail.
12 longline      banner ``220 `` + 100 000 ``A`` without a line end, connection held 30 s:
                 the probe's line cap -> error, no unbounded buffer.
13 drip          normal banner sent one byte per second (then a normal session with real TLS):
                 every single read succeeds, only the session deadline can end it -> error.
14 mid421        advertises STARTTLS, answers it with ``421 4.3.2 Service shutting down`` and
                 closes -> error.
15 ratelimit     a normal server with real TLS for its first 3 connections, then
                 ``421 4.7.0 Too many connections from your address`` to every later one (as a
                 rate-limiting MTA does to scanners): hello probes cut short -> error
                 ("inconclusive"), never pass. Counted per process: tests start their own.

Everything else is normal: EHLO -> ``250-mx.<name>.test``, PIPELINING, SIZE, STARTTLS (where the
behaviour offers it), ``250 8BITMIME``; QUIT -> 221; NOOP/RSET -> 250; MAIL/RCPT/DATA/BDAT ->
554 (these servers never accept mail); anything else -> 502.

Safety: only the specific addresses ``<bind-base>.N`` (bind-base within 127.0.10-127.0.19) are
bound, never a wildcard. Every read has a timeout and a size cap, every connection has a hard
deadline, the number of simultaneous connections per behaviour is capped, and the log file is
rotated, so the process can run for days. Usage::

  python3 testbed/servers/hostile.py --bind-base 127.0.12 --port 25 --cert C.pem --key K.pem \
      [--chain CHAIN.pem] [--only silent,reset] [--pidfile F] [--logfile F]
  python3 testbed/servers/hostile.py --listen 127.0.12.1:silent [--listen IP:BEHAVIOUR ...] \
      --cert C.pem --key K.pem            # explicit addresses, as testbed/testbed.py starts it
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import itertools
import logging
import os
import signal
import socket
import ssl
import struct
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from _common import (  # testbed/servers/_common.py (the servers run as scripts)
    RANGE,
    add_server_arguments,
    check_bind_base,
    in_testbed_range,
    note_event,
    remove_pidfile,
    setup_logging,
    write_pidfile,
)

MAX_LINE = 1000  # RFC 5321 §4.5.3.1.4 command line limit, incl. CRLF
MAX_COMMANDS = 50  # per connection
READ_TIMEOUT = 30.0  # idle time allowed between client commands
CONNECTION_DEADLINE = 180.0  # hard cap on any connection's life
TLS_HANDSHAKE_TIMEOUT = 30.0
MAX_CONNECTIONS = 200  # simultaneous connections per behaviour; more are closed at once
SILENT_HOLD = 120.0
LONGLINE_HOLD = 30.0
LONGLINE_LENGTH = 100_000
ENDLESS_CHUNK_LINES = 100
ENDLESS_PAUSE = 0.05  # seconds between chunks: ~2000 lines/s at most, negligible CPU
DRIP_INTERVAL = 1.0

log = logging.getLogger("hostile")


class ClientGone(Exception):
    """The client closed the connection, sent nonsense, or went idle: end the session."""


@dataclass
class Session:
    """One client connection to one behaviour."""

    conn_id: int
    scenario: str
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    tls_context: ssl.SSLContext
    tls_active: bool = False
    commands: int = 0
    events: list[str] = field(default_factory=list)

    @property
    def host(self) -> str:
        return f"mx.{self.scenario}.test"

    def note(self, event: str) -> None:
        note_event(self.events, event)

    async def send_raw(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def reply(self, *lines: str) -> None:
        """Send a well-formed (multi-line) reply: `250-a`, `250-b`, `250 c`."""
        code = lines[0][:3]
        out = [f"{code}-{line[4:]}" for line in lines[:-1]] + [lines[-1]]
        await self.send_raw("".join(f"{line}\r\n" for line in out).encode())
        self.note(f"S:{lines[-1][:40]}")

    async def read_command(self) -> str:
        """Read one CRLF line, bounded in size and time."""
        if self.commands >= MAX_COMMANDS:
            await self.reply("421 4.7.0 Too many commands, closing")
            raise ClientGone("too many commands")
        try:
            async with asyncio.timeout(READ_TIMEOUT):
                raw = await self.reader.readuntil(b"\n")
        except TimeoutError:
            await self.reply("421 4.4.2 Idle timeout, closing")
            raise ClientGone("idle") from None
        except asyncio.LimitOverrunError:
            await self.reply("500 5.5.2 Line too long")
            raise ClientGone("line too long") from None
        except asyncio.IncompleteReadError:
            raise ClientGone("client closed") from None
        self.commands += 1
        line = raw.decode("ascii", "replace").rstrip("\r\n")
        self.note(f"C:{line[:40]}")
        return line

    async def start_tls(self) -> None:
        """Upgrade to TLS with the server certificate (Python ssl / OpenSSL)."""
        try:
            await self.writer.start_tls(
                self.tls_context, ssl_handshake_timeout=TLS_HANDSHAKE_TIMEOUT
            )
        except (OSError, ssl.SSLError, TimeoutError, ConnectionError) as exc:
            raise ClientGone(f"TLS handshake failed: {type(exc).__name__}: {exc}") from None
        self.tls_active = True
        ssl_obj = self.writer.get_extra_info("ssl_object")
        if ssl_obj is not None:
            self.note(f"TLS {ssl_obj.version()} {ssl_obj.cipher()[0]}")

    async def hold_until_client_leaves(self, seconds: float) -> None:
        """Read and discard whatever the client sends until EOF or `seconds` elapse."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                while await self.reader.read(4096):
                    pass
                self.note("client closed")
                return
        self.note(f"held {seconds:.0f}s")

    async def wait_for_client_bytes(self, seconds: float) -> None:
        """Wait (bounded) for the client's first TLS bytes, e.g. its ClientHello."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                data = await self.reader.read(16384)
                self.note(f"got {len(data)} client bytes")

    def reset(self) -> None:
        """Abort with a TCP RST: SO_LINGER {on, 0} and close."""
        sock = self.writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.writer.transport.abort()
        self.note("RST")


# --- the SMTP dialogue shared by the behaviours -------------------------------------------

EhloHandler = Callable[[Session, str], Awaitable[None]]
StartTlsHandler = Callable[[Session], Awaitable[bool]]  # False: the session is over


def ehlo_lines(s: Session, *, starttls: bool, extra: tuple[str, ...] = ()) -> list[str]:
    lines = [f"250 {s.host}", *extra, "250 PIPELINING", "250 SIZE 10240000"]
    if starttls:
        lines.append("250 STARTTLS")
    return [*lines, "250 8BITMIME"]


async def normal_ehlo(s: Session, verb: str) -> None:
    """EHLO lists STARTTLS only before TLS; HELO gets a one-line greeting."""
    if verb == "HELO":
        await s.reply(f"250 {s.host}")
    else:
        await s.reply(*ehlo_lines(s, starttls=not s.tls_active))


async def real_starttls(s: Session) -> bool:
    await s.reply("220 2.0.0 Ready to start TLS")
    await s.start_tls()
    return True


async def dialogue(
    s: Session,
    *,
    ehlo: EhloHandler = normal_ehlo,
    starttls: StartTlsHandler | None = real_starttls,
) -> None:
    """Answer commands until QUIT; `starttls=None` means STARTTLS is not offered at all."""
    while True:
        line = await s.read_command()
        verb = line.split(" ", 1)[0].upper()
        if verb in ("EHLO", "HELO"):
            await ehlo(s, verb)
        elif verb == "STARTTLS":
            if starttls is None:
                await s.reply("502 5.5.1 STARTTLS not supported")
            elif s.tls_active:
                await s.reply("503 5.5.1 TLS already active")
            elif not await starttls(s):
                return
        elif verb == "QUIT":
            await s.reply("221 2.0.0 Bye")
            return
        elif verb in ("NOOP", "RSET"):
            await s.reply("250 2.0.0 OK")
        elif verb in ("MAIL", "RCPT", "DATA", "BDAT"):
            await s.reply(f"554 5.7.1 {s.host} is a test server and accepts no mail")
        else:
            await s.reply("502 5.5.2 Error: command not recognized")


async def normal_banner(s: Session) -> None:
    await s.reply(f"220 {s.host} ESMTP")


# --- the behaviours ------------------------------------------------------------------------


async def silent(s: Session) -> None:
    await s.hold_until_client_leaves(SILENT_HOLD)


async def garbage(s: Session) -> None:
    await s.send_raw(b"HTTP/1.1 400 Bad Request\r\n" + b"\x00\xff\x16\x03" + os.urandom(508))
    s.note("sent garbage")


async def closed(s: Session) -> None:
    s.note("closed at once")


async def endless_ehlo(s: Session, verb: str) -> None:
    await s.send_raw(f"250-{s.host}\r\n".encode())
    s.note("endless EHLO")
    for chunk in itertools.count():
        base = chunk * ENDLESS_CHUNK_LINES
        lines = (
            f"250-X-ENDLESS-{base + i:09d} this reply never ends\r\n"
            for i in range(ENDLESS_CHUNK_LINES)
        )
        await s.send_raw("".join(lines).encode())  # raises when the client has gone
        await asyncio.sleep(ENDLESS_PAUSE)


async def endless(s: Session) -> None:
    await normal_banner(s)
    await dialogue(s, ehlo=endless_ehlo, starttls=None)


async def script_ehlo(s: Session, verb: str) -> None:
    if verb == "EHLO" and not s.tls_active:
        await s.reply(*ehlo_lines(s, starttls=True, extra=("250 X-<img src=x onerror=alert(2)>",)))
    else:
        await normal_ehlo(s, verb)


async def script(s: Session) -> None:
    await s.reply(f"220 {s.host} <script>alert(1)</script> ESMTP")
    await dialogue(s, ehlo=script_ehlo)


async def busy(s: Session) -> None:
    await s.reply(f"421 4.7.0 {s.host} Too many connections, try later")


async def reset_on_starttls(s: Session) -> bool:
    await s.reply("220 2.0.0 Ready to start TLS")
    await s.wait_for_client_bytes(10.0)
    s.reset()
    return False


async def reset(s: Session) -> None:
    await normal_banner(s)
    await dialogue(s, starttls=reset_on_starttls)


async def garbage_on_starttls(s: Session) -> bool:
    await s.reply("220 2.0.0 Ready to start TLS")
    await s.wait_for_client_bytes(10.0)
    await s.send_raw(b"this is not TLS\r\n" * 10)
    s.note("sent non-TLS bytes")
    return False


async def tlsgarbage(s: Session) -> None:
    await normal_banner(s)
    await dialogue(s, starttls=garbage_on_starttls)


async def refuse_starttls(s: Session) -> bool:
    await s.reply("454 4.7.0 TLS not available due to temporary reason")
    return True


async def starttls454(s: Session) -> None:
    await normal_banner(s)
    await dialogue(s, starttls=refuse_starttls)


async def failing_ehlo_in_tls(s: Session, verb: str) -> None:
    if s.tls_active:
        await s.reply("502 5.5.2 Error: command not recognized")
    else:
        await normal_ehlo(s, verb)


async def ehlofail(s: Session) -> None:
    await normal_banner(s)
    await dialogue(s, ehlo=failing_ehlo_in_tls)


async def ehlo_always_starttls(s: Session, verb: str) -> None:
    if verb == "HELO":
        await s.reply(f"250 {s.host}")
    else:
        await s.reply(*ehlo_lines(s, starttls=True))


async def stillstarttls(s: Session) -> None:
    await normal_banner(s)
    await dialogue(s, ehlo=ehlo_always_starttls)


async def longline(s: Session) -> None:
    await s.send_raw(b"220 " + b"A" * LONGLINE_LENGTH)
    s.note(f"sent {LONGLINE_LENGTH + 4} bytes without CRLF")
    await s.hold_until_client_leaves(LONGLINE_HOLD)


async def drip(s: Session) -> None:
    banner = f"220 {s.host} ESMTP\r\n".encode()
    for i in range(len(banner)):
        await s.send_raw(banner[i : i + 1])
        await asyncio.sleep(DRIP_INTERVAL)
    s.note("banner dripped")
    await dialogue(s)


async def mid421_on_starttls(s: Session) -> bool:
    await s.reply("421 4.3.2 Service shutting down")
    return False


async def mid421(s: Session) -> None:
    await normal_banner(s)
    await dialogue(s, starttls=mid421_on_starttls)


RATELIMIT_ALLOWED = 3
_ratelimit_seen = itertools.count(1)


async def ratelimit(s: Session) -> None:
    if next(_ratelimit_seen) > RATELIMIT_ALLOWED:
        await s.reply("421 4.7.0 Too many connections from your address, try again later")
        return
    await normal_banner(s)
    await dialogue(s)


Behaviour = Callable[[Session], Awaitable[None]]

SCENARIOS: dict[int, tuple[str, Behaviour]] = {
    1: ("silent", silent),
    2: ("garbage", garbage),
    3: ("closed", closed),
    4: ("endless", endless),
    5: ("script", script),
    6: ("busy", busy),
    7: ("reset", reset),
    8: ("tlsgarbage", tlsgarbage),
    9: ("starttls454", starttls454),
    10: ("ehlofail", ehlofail),
    11: ("stillstarttls", stillstarttls),
    12: ("longline", longline),
    13: ("drip", drip),
    14: ("mid421", mid421),
    15: ("ratelimit", ratelimit),
}
BEHAVIOURS: dict[str, Behaviour] = dict(SCENARIOS.values())


# --- the server machinery ------------------------------------------------------------------


class Listener:
    """Accepts connections for one behaviour on one address and runs them, bounded."""

    _ids = itertools.count(1)

    def __init__(self, name: str, behaviour: Behaviour, tls_context: ssl.SSLContext) -> None:
        self.name = name
        self.behaviour = behaviour
        self.tls_context = tls_context
        self.active = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn_id = next(self._ids)
        peer = writer.get_extra_info("peername")
        peer_text = f"{peer[0]}:{peer[1]}" if peer else "?"
        if self.active >= MAX_CONNECTIONS:
            log.warning(
                "conn=%d peer=%s scenario=%s refused: over capacity", conn_id, peer_text, self.name
            )
            writer.transport.abort()
            return
        self.active += 1
        s = Session(conn_id, self.name, reader, writer, self.tls_context)
        started = time.monotonic()
        outcome = "done"
        log.info("conn=%d peer=%s scenario=%s accepted", conn_id, peer_text, self.name)
        try:
            async with asyncio.timeout(CONNECTION_DEADLINE):
                await self.behaviour(s)
        except ClientGone as exc:
            outcome = str(exc)
        except TimeoutError:
            outcome = "connection deadline reached"
        except (ConnectionError, OSError, ssl.SSLError) as exc:
            outcome = f"client gone: {type(exc).__name__}"
        except Exception as exc:  # a bug here must not take the other servers down
            outcome = f"internal error: {type(exc).__name__}: {exc}"
            log.exception("conn=%d scenario=%s internal error", conn_id, self.name)
        finally:
            self.active -= 1
            await close_writer(writer)
            log.info(
                "conn=%d peer=%s scenario=%s closed after %.2fs: %s; events: %s",
                conn_id,
                peer_text,
                self.name,
                time.monotonic() - started,
                outcome,
                " | ".join(s.events),
            )


async def close_writer(writer: asyncio.StreamWriter) -> None:
    if writer.transport.is_closing():
        return
    writer.close()
    with contextlib.suppress(Exception):
        async with asyncio.timeout(5):
            await writer.wait_closed()


def make_tls_context(cert: Path, key: Path, chain: Path | None) -> ssl.SSLContext:
    """A server context with the leaf (+ chain) certificate."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    if chain is None:
        ctx.load_cert_chain(cert, key)
        return ctx
    with tempfile.TemporaryDirectory() as tmp:
        full = Path(tmp) / "fullchain.pem"
        full.write_bytes(cert.read_bytes().rstrip(b"\n") + b"\n" + chain.read_bytes())
        ctx.load_cert_chain(full, key)
    return ctx


def check_listen(item: str) -> tuple[str, str]:
    """`IP:BEHAVIOUR`, IP within 127.0.10.0 - 127.0.19.255."""
    ip, _, name = item.rpartition(":")
    try:
        ipaddress.IPv4Address(ip)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected IP:BEHAVIOUR, got {item!r}") from None
    if not in_testbed_range(ip):
        raise argparse.ArgumentTypeError(f"{ip} is outside {RANGE}")
    if name not in BEHAVIOURS:
        raise argparse.ArgumentTypeError(f"unknown behaviour {name!r}")
    return ip, name


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument(
        "--bind-base",
        type=check_bind_base,
        help="first three octets; behaviour N binds <bind-base>.N",
    )
    where.add_argument(
        "--listen",
        type=check_listen,
        action="append",
        help="IP:BEHAVIOUR, repeatable (the form testbed/testbed.py uses)",
    )
    add_server_arguments(p)
    p.add_argument("--only", help=f"comma-separated subset of: {','.join(BEHAVIOURS)}")
    args = p.parse_args(argv)
    if args.only:
        unknown = set(args.only.split(",")) - set(BEHAVIOURS)
        if unknown:
            p.error(f"unknown behaviour(s): {', '.join(sorted(unknown))}")
    return args


def bindings(args: argparse.Namespace) -> list[tuple[str, str]]:
    """(address, behaviour) pairs to serve."""
    if args.listen:
        pairs: list[tuple[str, str]] = args.listen
    else:
        pairs = [(f"{args.bind_base}.{n}", name) for n, (name, _) in SCENARIOS.items()]
    if args.only:
        wanted = set(args.only.split(","))
        pairs = [(ip, name) for ip, name in pairs if name in wanted]
    return pairs


async def serve(args: argparse.Namespace) -> None:
    tls_context = make_tls_context(args.cert, args.key, args.chain)
    servers: list[asyncio.Server] = []
    for address, name in bindings(args):
        listener = Listener(name, BEHAVIOURS[name], tls_context)
        server = await asyncio.start_server(
            listener.handle,
            host=address,
            port=args.port,
            limit=MAX_LINE,
            reuse_address=True,
            backlog=128,
        )
        servers.append(server)
        log.info("listening scenario=%s on %s:%d", name, address, args.port)
    write_pidfile(args.pidfile)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("stopping")
    for server in servers:
        server.close()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(log, args.logfile)
    # asyncio reports every failed handshake of a misbehaving client; our own line suffices.
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)
    try:
        asyncio.run(serve(args))
    except OSError as exc:
        log.error("cannot start: %s", exc)
        print(f"hostile: cannot start: {exc}", file=sys.stderr)
        return 2
    finally:
        remove_pidfile(args.pidfile)
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Misbehaving SMTP servers: faults injected to prove a check gives `error` or `fail`, never a
false pass, and that no hostile server can hang or crash a mailtls run.

    faults.py --listen IP:BEHAVIOUR [--listen ...] --cert CHAIN.pem --key KEY.pem [--port 25]

Behaviours: silent (accept, say nothing), garbage (non-SMTP bytes), closed (close at once),
endless (an endless multi-line EHLO reply), script (HTML/script in the banner and EHLO, otherwise
correct with real TLS), busy (421 banner), reset (220 to STARTTLS, then a TCP reset), tlsgarbage
(220 to STARTTLS, then non-TLS bytes), starttls454 (454 to STARTTLS), ehlofail (real TLS, then
EHLO rejected), stillstarttls (real TLS, STARTTLS still offered), longline (a 100 kB banner line
without an end), drip (a banner one byte per second), mid421 (421 to STARTTLS).
Every behaviour binds one specific address; reads have timeouts; nothing accepts mail.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import ssl
import struct

READ_TIMEOUT = 30.0


async def _line(reader: asyncio.StreamReader) -> bytes:
    try:
        return (await asyncio.wait_for(reader.readline(), READ_TIMEOUT))[:1000].strip()
    except (TimeoutError, asyncio.LimitOverrunError, ValueError):
        return b""


def _ehlo(name: str, starttls: bool, extra: bytes = b"") -> bytes:
    offer = b"250-STARTTLS\r\n" if starttls else b""
    return f"250-{name}\r\n".encode() + extra + b"250-PIPELINING\r\n" + offer + b"250 8BITMIME\r\n"


async def dialogue(
    behaviour: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, ctx: ssl.SSLContext
) -> None:
    name = f"mx.{behaviour}.test"
    if behaviour == "silent":
        await asyncio.sleep(120)
        return
    if behaviour == "garbage":
        writer.write(b"HTTP/1.1 400 Bad Request\r\n" + os.urandom(512))
        return
    if behaviour == "closed":
        return
    if behaviour == "busy":
        writer.write(f"421 4.7.0 {name} Too many connections, try later\r\n".encode())
        return
    if behaviour == "longline":
        writer.write(b"220 " + b"A" * 100_000)
        await writer.drain()
        await asyncio.sleep(30)
        return
    if behaviour == "drip":
        for byte in f"220 {name} ESMTP slowly\r\n".encode():
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(1)
    elif behaviour == "script":
        writer.write(f"220 {name} <script>alert(1)</script> ESMTP\r\n".encode())
    else:
        writer.write(f"220 {name} ESMTP\r\n".encode())
    tls = False
    while True:
        await writer.drain()
        cmd = (await _line(reader)).upper()
        if not cmd:
            return
        if cmd.startswith(b"EHLO") or cmd.startswith(b"HELO"):
            if behaviour == "endless":
                while True:
                    writer.write(b"250-X-ENDLESS-REPLY-LINE-THAT-NEVER-STOPS\r\n" * 100)
                    await writer.drain()
                    await asyncio.sleep(0.01)
            if tls and behaviour == "ehlofail":
                writer.write(b"502 5.5.2 Error: command not recognized\r\n")
                continue
            extra = b"250-X-<img src=x onerror=alert(2)>\r\n" if behaviour == "script" else b""
            writer.write(_ehlo(name, not tls or behaviour == "stillstarttls", extra))
        elif cmd == b"STARTTLS" and not tls:
            if behaviour == "starttls454":
                writer.write(b"454 4.7.0 TLS not available due to temporary reason\r\n")
                continue
            if behaviour == "mid421":
                writer.write(b"421 4.3.2 Service shutting down\r\n")
                return
            writer.write(b"220 2.0.0 Ready to start TLS\r\n")
            await writer.drain()
            if behaviour == "reset":
                sock = writer.get_extra_info("socket")
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                writer.transport.abort()
                return
            if behaviour == "tlsgarbage":
                writer.write(b"this is not TLS\r\n" * 10)
                return
            await writer.start_tls(ctx)
            tls = True
        elif cmd == b"QUIT":
            writer.write(b"221 2.0.0 Bye\r\n")
            return
        else:
            writer.write(b"502 5.5.2 Not here: this server accepts no mail\r\n")


def serve_factory(behaviour: str, ctx: ssl.SSLContext):  # type: ignore[no-untyped-def]
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await dialogue(behaviour, reader, writer, ctx)
            await writer.drain()
        except (OSError, ssl.SSLError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    return handle


async def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--listen", action="append", required=True, metavar="IP:BEHAVIOUR")
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--port", type=int, default=25)
    args = ap.parse_args()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    servers = []
    for spec in args.listen:
        ip, behaviour = spec.split(":", 1)
        servers.append(
            await asyncio.start_server(serve_factory(behaviour, ctx), ip, args.port, limit=4096)
        )
    await asyncio.gather(*(s.serve_forever() for s in servers))


if __name__ == "__main__":
    asyncio.run(main())

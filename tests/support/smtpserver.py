"""A tiny scripted SMTP server for probe tests (real sockets, real TLS on 127.0.19.x)."""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Callable

Handler = Callable[[socket.socket, ssl.SSLContext], None]


class ScriptedServer:
    """Accepts connections on (ip, 0) and runs ``handler`` for each in a thread."""

    def __init__(self, ip: str, handler: Handler, ctx: ssl.SSLContext) -> None:
        self.sock = socket.create_server((ip, 0))
        self.address = self.sock.getsockname()
        self.handler = handler
        self.ctx = ctx
        self.connections = 0
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._run, args=(conn,), daemon=True).start()

    def _run(self, conn: socket.socket) -> None:
        conn.settimeout(10)
        try:
            self.handler(conn, self.ctx)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self.sock.close()


def read_line(conn: socket.socket | ssl.SSLSocket) -> bytes:
    data = b""
    while not data.endswith(b"\n"):
        chunk = conn.recv(1)
        if not chunk:
            break
        data += chunk
    return data.strip()


def good_smtp(conn: socket.socket, ctx: ssl.SSLContext, *, still_starttls: bool = False) -> None:
    """A well-behaved server: banner, EHLO with STARTTLS, TLS, EHLO, QUIT."""
    s: socket.socket | ssl.SSLSocket = conn
    try:
        _dialogue(s, ctx, still_starttls)
    finally:
        conn.close()


def _dialogue(s: socket.socket | ssl.SSLSocket, ctx: ssl.SSLContext, still_starttls: bool) -> None:
    s.sendall(b"220 mx.probe.test ESMTP\r\n")
    while True:
        line = read_line(s).upper()
        if line.startswith(b"EHLO"):
            tls = isinstance(s, ssl.SSLSocket)
            offer = b"250-STARTTLS\r\n" if (not tls or still_starttls) else b""
            s.sendall(b"250-mx.probe.test\r\n250-PIPELINING\r\n" + offer + b"250 8BITMIME\r\n")
        elif line == b"STARTTLS":
            s.sendall(b"220 2.0.0 Ready\r\n")
            s = ctx.wrap_socket(s, server_side=True)
        elif line == b"QUIT":
            s.sendall(b"221 2.0.0 Bye\r\n")
            s.close()
            return
        elif not line:
            s.close()
            return
        else:
            s.sendall(b"502 5.5.2 no\r\n")

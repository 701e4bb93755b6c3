#!/usr/bin/env python3
"""SMTP servers with legacy TLS (SSLv3, TLS 1.0/1.1, RC4, 3DES), served by tlslite-ng.

Debian's OpenSSL 3 cannot serve SSLv3 at all, nor RC4, and refuses TLS 1.0/1.1 and 3DES at its
default security level, so a Postfix in the testbed cannot show these faults. tlslite-ng (a pure
Python TLS implementation, LGPL-2.1, a test-only dependency) still can. Each server is an injected
fault that proves a protocol/cipher check reports `fail` instead of a false `pass`:

 1 legacy      (<bind-base>.1) SSLv3, TLS 1.0, 1.1 and 1.2; AES-GCM, AES-CBC, 3DES and RC4
               (SHA-1 and MD5 MACs); static RSA, DHE-RSA and ECDHE-RSA key exchange. No TLS 1.3.
               Every "deprecated protocol / weak cipher offered" check must fail here.
 2 sslv3tls12  (<bind-base>.2) SSLv3 and TLS 1.2 only: a TLS 1.0 or 1.1 ClientHello gets a
               protocol_version alert. Proves an SSLv3 detector works on its own (it cannot be
               fooled by a server that merely accepts TLS 1.0 with an SSLv3-era cipher) and
               that a TLS 1.0/1.1 check does not fail on a server that refuses both.

Both: banner ``220 mx.legacy.test ESMTP`` (resp. ``mx.sslv3only.test``), EHLO lists STARTTLS,
STARTTLS -> ``220 2.0.0 Ready to start TLS``, tlslite handshake, then EHLO (without STARTTLS),
NOOP/RSET -> 250, QUIT -> 221; MAIL/RCPT/DATA/BDAT -> 554, anything else -> 502. A failed
handshake is logged and that connection closed; the server keeps running.

Safety: binds only ``<bind-base>.1`` and ``.2`` (bind-base within 127.0.10-127.0.19); one thread
per connection, at most MAX_CONNECTIONS at once per server; 30 s socket timeouts; lines are
capped; the log is rotated. Usage::

  python3 testbed/servers/legacy_tls.py --bind-base 127.0.14 --port 25 --cert C.pem --key K.pem \
      [--chain CHAIN.pem] [--pidfile F] [--logfile F]          (the key must be RSA)
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import logging
import signal
import socket
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from _common import (  # testbed/servers/_common.py (the servers run as scripts)
    add_server_arguments,
    check_bind_base,
    note_event,
    remove_pidfile,
    setup_logging,
    write_pidfile,
)

with warnings.catch_warnings():
    # tlslite-ng 0.8 imports asyncore, deprecated in Python 3.11 (removed in 3.12).
    warnings.simplefilter("ignore", DeprecationWarning)
    from tlslite.api import HandshakeSettings, TLSConnection, X509CertChain, parsePEMKey
    from tlslite.constants import AlertDescription
    from tlslite.errors import TLSError

SOCKET_TIMEOUT = 30.0  # per recv/send
CONNECTION_DEADLINE = 180.0  # hard cap on a connection's life (a byte every 29 s won't do)
MAX_LINE = 1000
MAX_COMMANDS = 50
MAX_CONNECTIONS = 64  # per server; more are closed at once

SSL3, TLS10, TLS11, TLS12 = (3, 0), (3, 1), (3, 2), (3, 3)
VERSION_NAMES = {SSL3: "SSLv3", TLS10: "TLSv1.0", TLS11: "TLSv1.1", TLS12: "TLSv1.2"}

log = logging.getLogger("legacy_tls")


class ClientGone(Exception):
    """The client left, went idle or misbehaved: end the session."""


# --- tlslite ---------------------------------------------------------------------------------


class RefusingConnection(TLSConnection):  # type: ignore[misc]
    """A TLSConnection that refuses some protocol versions with a protocol_version alert.

    tlslite only has a *range* (minVersion..maxVersion) for clients that do not send the
    supported_versions extension (every TLS <= 1.2 client): a ClientHello of TLS 1.1 is answered
    with TLS 1.1 whenever minVersion <= 1.1. To punch a hole in the range we look at the version
    tlslite negotiated, right after it parsed the ClientHello and before the ServerHello is sent,
    and abort. This hooks tlslite's private `_serverGetClientHello` (checked against 0.8.2).
    """

    refused: frozenset[tuple[int, int]] = frozenset()

    def _serverGetClientHello(self, settings: Any, *args: Any) -> Iterator[Any]:
        for result in super()._serverGetClientHello(settings, *args):
            if isinstance(result, tuple) and result[1] in self.refused:
                message = f"{VERSION_NAMES.get(result[1], result[1])} is refused by this server"
                yield from self._sendError(AlertDescription.protocol_version, message)
            yield result


def legacy_settings() -> Any:
    settings = HandshakeSettings()
    settings.minVersion = SSL3
    settings.maxVersion = TLS12
    settings.versions = [TLS12, TLS11, TLS10, SSL3]
    settings.cipherNames = ["aes256gcm", "aes128gcm", "aes256", "aes128", "3des", "rc4"]
    settings.macNames = ["sha384", "sha256", "sha", "md5", "aead"]
    settings.keyExchangeNames = ["ecdhe_rsa", "dhe_rsa", "rsa"]
    return settings


def sslv3tls12_settings() -> Any:
    settings = legacy_settings()
    settings.versions = [TLS12, SSL3]  # used when the client sends supported_versions
    return settings


@dataclass(frozen=True)
class Credentials:
    chain: Any  # X509CertChain
    key: Any  # tlslite RSAKey

    @classmethod
    def load(cls, cert: Path, key: Path, chain: Path | None) -> Credentials:
        pem = cert.read_text() + ("\n" + chain.read_text() if chain else "")
        cert_chain = X509CertChain()
        cert_chain.parsePemList(pem)
        private_key = parsePEMKey(key.read_text(), private=True, implementations=["python"])
        if private_key.key_type != "rsa":
            raise ValueError(
                f"{key}: tlslite legacy ciphers need an RSA key, not {private_key.key_type}"
            )
        return cls(cert_chain, private_key)


@dataclass(frozen=True)
class Profile:
    name: str  # also the host label: mx.<name>.test
    settings_factory: Callable[[], Any]
    refused: frozenset[tuple[int, int]] = frozenset()

    def connection(self, sock: socket.socket) -> Any:
        conn = RefusingConnection(sock)
        conn.refused = self.refused
        return conn


PROFILES: dict[int, Profile] = {
    1: Profile("legacy", legacy_settings),
    2: Profile("sslv3only", sslv3tls12_settings, frozenset({TLS10, TLS11})),
}
SERVER_NAMES = {1: "legacy", 2: "sslv3tls12"}


# --- SMTP --------------------------------------------------------------------------------------


@dataclass
class Session:
    conn_id: int
    profile: Profile
    credentials: Credentials
    channel: Any  # socket.socket before STARTTLS, tlslite TLSConnection after
    tls: Any = None
    buffer: bytes = b""
    commands: int = 0
    events: list[str] = field(default_factory=list)

    @property
    def host(self) -> str:
        return f"mx.{self.profile.name}.test"

    def note(self, event: str) -> None:
        note_event(self.events, event)

    def reply(self, *lines: str) -> None:
        code = lines[0][:3]
        out = [f"{code}-{line[4:]}" for line in lines[:-1]] + [lines[-1]]
        self.channel.sendall("".join(f"{line}\r\n" for line in out).encode())
        self.note(f"S:{lines[-1][:40]}")

    def read_command(self) -> str:
        if self.commands >= MAX_COMMANDS:
            self.reply("421 4.7.0 Too many commands, closing")
            raise ClientGone("too many commands")
        while b"\n" not in self.buffer:
            if len(self.buffer) >= MAX_LINE:
                self.reply("500 5.5.2 Line too long")
                raise ClientGone("line too long")
            try:
                data = self.channel.recv(MAX_LINE)
            except TimeoutError:
                self.reply("421 4.4.2 Idle timeout, closing")
                raise ClientGone("idle") from None
            if not data:
                raise ClientGone("client closed")
            self.buffer += data
        raw, self.buffer = self.buffer.split(b"\n", 1)
        self.commands += 1
        line = raw.decode("ascii", "replace").rstrip("\r")
        self.note(f"C:{line[:40]}")
        return line

    def ehlo(self, verb: str) -> None:
        if verb == "HELO":
            self.reply(f"250 {self.host}")
            return
        lines = [f"250 {self.host}", "250 PIPELINING", "250 SIZE 10240000"]
        lines += [] if self.tls else ["250 STARTTLS"]
        self.reply(*lines, "250 8BITMIME")

    def starttls(self) -> None:
        self.reply("220 2.0.0 Ready to start TLS")
        if self.buffer:
            raise ClientGone("plaintext pipelined after STARTTLS")
        conn = self.profile.connection(self.channel)
        try:
            conn.handshakeServer(
                certChain=self.credentials.chain,
                privateKey=self.credentials.key,
                settings=self.profile.settings_factory(),
            )
        except (TLSError, OSError) as exc:
            raise ClientGone(f"TLS handshake failed: {type(exc).__name__}: {exc}") from None
        self.tls = conn
        self.channel = conn
        self.note(
            f"TLS {conn.getVersionName()} {conn.getCipherName()} suite={conn.session.cipherSuite:#06x}"
        )

    def run(self) -> None:
        self.reply(f"220 {self.host} ESMTP")
        while True:
            line = self.read_command()
            verb = line.split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                self.ehlo(verb)
            elif verb == "STARTTLS":
                if self.tls:
                    self.reply("503 5.5.1 TLS already active")
                else:
                    self.starttls()
            elif verb == "QUIT":
                self.reply("221 2.0.0 Bye")
                return
            elif verb in ("NOOP", "RSET"):
                self.reply("250 2.0.0 OK")
            elif verb in ("MAIL", "RCPT", "DATA", "BDAT"):
                self.reply(f"554 5.7.1 {self.host} is a test server and accepts no mail")
            else:
                self.reply("502 5.5.2 Error: command not recognized")


# --- server machinery --------------------------------------------------------------------------


class Server:
    """One listening address; one daemon thread per connection, bounded."""

    _ids = itertools.count(1)

    def __init__(
        self, label: str, address: str, port: int, profile: Profile, credentials: Credentials
    ) -> None:
        self.label = label
        self.profile = profile
        self.credentials = credentials
        self.slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        self.sock = socket.create_server((address, port), backlog=64)
        self.sock.settimeout(0.5)
        self.lock = threading.Lock()
        self.deadlines: dict[socket.socket, float] = {}

    def reap_overdue(self) -> None:
        """Shut down connections past CONNECTION_DEADLINE; their blocked recv then returns."""
        now = time.monotonic()
        with self.lock:
            overdue = [sock for sock, deadline in self.deadlines.items() if deadline < now]
            for sock in overdue:
                del self.deadlines[sock]
        for sock in overdue:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def serve_forever(self, stop: threading.Event) -> None:
        while not stop.is_set():
            self.reap_overdue()
            try:
                client, peer = self.sock.accept()
            except TimeoutError:
                continue
            except OSError as exc:
                log.warning("server=%s accept failed: %s", self.label, exc)
                time.sleep(0.1)
                continue
            conn_id = next(self._ids)
            if not self.slots.acquire(blocking=False):
                log.warning(
                    "conn=%d peer=%s:%d server=%s refused: over capacity",
                    conn_id,
                    *peer,
                    self.label,
                )
                client.close()
                continue
            threading.Thread(target=self.handle, args=(conn_id, client, peer), daemon=True).start()
        self.sock.close()

    def handle(self, conn_id: int, client: socket.socket, peer: tuple[str, int]) -> None:
        client.settimeout(SOCKET_TIMEOUT)
        with self.lock:
            self.deadlines[client] = time.monotonic() + CONNECTION_DEADLINE
        session = Session(conn_id, self.profile, self.credentials, client)
        started, outcome = time.monotonic(), "done"
        log.info("conn=%d peer=%s:%d server=%s accepted", conn_id, *peer, self.label)
        try:
            session.run()
        except ClientGone as exc:
            outcome = str(exc)
        except (OSError, TLSError) as exc:
            outcome = f"client gone: {type(exc).__name__}: {exc}"
        except Exception as exc:  # a bug must not kill the thread pool or the process
            outcome = f"internal error: {type(exc).__name__}: {exc}"
            log.exception("conn=%d server=%s internal error", conn_id, self.label)
        finally:
            with self.lock:
                reaped = self.deadlines.pop(client, None) is None
            if reaped:
                outcome = f"connection deadline reached ({outcome})"
            close_quietly(session, client)
            self.slots.release()
            log.info(
                "conn=%d peer=%s:%d server=%s closed after %.2fs: %s; events: %s",
                conn_id,
                *peer,
                self.label,
                time.monotonic() - started,
                outcome,
                " | ".join(session.events),
            )


def close_quietly(session: Session, client: socket.socket) -> None:
    if session.tls is not None:
        with contextlib.suppress(Exception):
            session.tls.close()  # close_notify, best effort
    with contextlib.suppress(OSError):
        client.close()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument(
        "--bind-base",
        required=True,
        type=check_bind_base,
        help="first three octets; server N binds <bind-base>.N",
    )
    add_server_arguments(p, key_help="RSA private key (PEM)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(log, args.logfile)
    try:
        credentials = Credentials.load(args.cert, args.key, args.chain)
        servers = [
            Server(SERVER_NAMES[n], f"{args.bind_base}.{n}", args.port, profile, credentials)
            for n, profile in PROFILES.items()
        ]
    except (OSError, ValueError, SyntaxError) as exc:
        log.error("cannot start: %s", exc)
        print(f"legacy_tls: cannot start: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    threads = [threading.Thread(target=s.serve_forever, args=(stop,), daemon=True) for s in servers]
    for server, thread in zip(servers, threads, strict=True):
        thread.start()
        log.info("listening server=%s on %s:%d", server.label, *server.sock.getsockname()[:2])
    write_pidfile(args.pidfile)
    try:
        while not stop.wait(1.0):
            pass
    finally:
        log.info("stopping")
        for thread in threads:
            thread.join(timeout=2)
        remove_pidfile(args.pidfile)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The testbed's hostile and legacy-TLS servers really misbehave the way they claim to.

Each server process is started here on its own port on 127.0.19.x (never the running testbed's
addresses) with a throwaway self-signed RSA certificate, and each behaviour is observed with a
raw socket client (Python ssl for modern TLS, a tlslite-ng client for SSLv3/RC4/3DES, which
Debian's OpenSSL 3 can no longer offer).
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # tlslite-ng 0.8 imports asyncore
    from tlslite.api import HandshakeSettings, TLSConnection
    from tlslite.constants import AlertDescription
    from tlslite.errors import TLSRemoteAlert

from tests.conftest import REPO
from tests.support.certs import make_cert, make_key

SERVERS = REPO / "testbed" / "servers"
BASE = "127.0.19"
HOSTILE = {
    "silent": 1,
    "garbage": 2,
    "closed": 3,
    "endless": 4,
    "script": 5,
    "busy": 6,
    "reset": 7,
    "tlsgarbage": 8,
    "starttls454": 9,
    "ehlofail": 10,
    "stillstarttls": 11,
    "longline": 12,
    "drip": 13,
    "mid421": 14,
}
LEGACY, SSLV3TLS12 = f"{BASE}.1", f"{BASE}.2"
LISTEN_IP = f"{BASE}.30"  # the --listen form
SSL3, TLS10, TLS11, TLS12 = (3, 0), (3, 1), (3, 2), (3, 3)


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A throwaway self-signed RSA certificate (tlslite's legacy suites need RSA)."""
    made = make_cert("mx.hostile.test", key=make_key("rsa"), days=7)
    return made.write(tmp_path_factory.mktemp("certs"))


def port_free(addresses: list[str], port: int) -> bool:
    try:
        with contextlib.ExitStack() as stack:
            for ip in addresses:
                stack.enter_context(socket.socket()).bind((ip, port))
    except OSError:
        return False
    return True


def free_port(addresses: list[str], exclude: set[int]) -> int:
    """A port that is free on every one of `addresses` (2525 first)."""
    candidates: list[int] = [2525, *range(25250, 25350)]
    for port in candidates:
        if port not in exclude and port_free(addresses, port):
            return port
    raise RuntimeError("no free port on 127.0.19.x")


@dataclass
class Running:
    port: int
    logfile: Path
    proc: subprocess.Popen[bytes]

    def log(self) -> str:
        return self.logfile.read_text() if self.logfile.exists() else ""


@contextlib.contextmanager
def server_process(script: str, args: list[str], tmp: Path, port: int) -> Iterator[Running]:
    pidfile, logfile, stderr = tmp / f"{script}.pid", tmp / f"{script}.log", tmp / "stderr"
    cmd = [
        sys.executable,
        str(SERVERS / script),
        "--port",
        str(port),
        *args,
        "--pidfile",
        str(pidfile),
        "--logfile",
        str(logfile),
    ]
    with stderr.open("wb") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
    try:
        deadline = time.monotonic() + 15
        while not pidfile.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"{script} did not start: {stderr.read_text()}")
            time.sleep(0.05)
        yield Running(port, logfile, proc)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, stderr.read_text()
    assert not pidfile.exists(), "pidfile left behind"


@pytest.fixture(scope="module")
def hostile(cert: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    tmp = tmp_path_factory.mktemp("hostile")
    port = free_port([f"{BASE}.{n}" for n in HOSTILE.values()], exclude=set())
    args = ["--bind-base", BASE, "--cert", str(cert[0]), "--key", str(cert[1])]
    with server_process("hostile.py", args, tmp, port) as running:
        yield running


@pytest.fixture(scope="module")
def legacy(
    cert: tuple[Path, Path], hostile: Running, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Running]:
    tmp = tmp_path_factory.mktemp("legacy")
    port = free_port([LEGACY, SSLV3TLS12], exclude={hostile.port})
    args = ["--bind-base", BASE, "--cert", str(cert[0]), "--key", str(cert[1])]
    with server_process("legacy_tls.py", args, tmp, port) as running:
        yield running


# --- a small raw SMTP client ----------------------------------------------------------------


class Client:
    """Line-oriented SMTP client over a plain or TLS socket, every read bounded."""

    def __init__(self, ip: str, port: int, timeout: float = 5.0) -> None:
        self.sock: Any = socket.create_connection((ip, port), timeout=timeout)
        self.raw = self.sock
        self.buffer = b""

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()
        self.raw.close()

    def recv(self, size: int = 65536) -> bytes:
        return self.sock.recv(size)  # type: ignore[no-any-return]

    def line(self) -> bytes:
        while b"\n" not in self.buffer:
            data = self.recv()
            if not data:
                raise EOFError(self.buffer)
            self.buffer += data
            assert len(self.buffer) < 200_000
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line + b"\n"

    def reply(self) -> list[str]:
        lines = []
        while True:
            line = self.line().decode()
            assert line.endswith("\r\n") and line[:3].isdigit() and line[3] in "- ", line
            lines.append(line[:-2])
            if line[3] == " ":
                return lines

    def cmd(self, text: str) -> list[str]:
        self.sock.sendall(f"{text}\r\n".encode())
        return self.reply()

    def to_starttls(self) -> list[str]:
        """Banner, EHLO (STARTTLS offered), STARTTLS; return the STARTTLS reply."""
        assert self.reply()[0].startswith("220 ")
        assert "250-STARTTLS" in self.cmd("EHLO client.test")
        return self.cmd("STARTTLS")

    def start_tls(self) -> None:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        self.sock = ctx.wrap_socket(self.raw)

    def eof(self, timeout: float = 3.0) -> bool:
        self.sock.settimeout(timeout)
        try:
            return self.recv() == b""
        except ConnectionResetError:
            return True


@contextlib.contextmanager
def client(ip: str, port: int, timeout: float = 5.0) -> Iterator[Client]:
    c = Client(ip, port, timeout)
    try:
        yield c
    finally:
        c.close()


def hostile_ip(name: str) -> str:
    return f"{BASE}.{HOSTILE[name]}"


# --- hostile.py ------------------------------------------------------------------------------


def test_silent_says_nothing(hostile: Running) -> None:
    with client(hostile_ip("silent"), hostile.port, timeout=1.0) as c, pytest.raises(TimeoutError):
        c.recv()


def test_garbage_is_not_smtp(hostile: Running) -> None:
    with client(hostile_ip("garbage"), hostile.port) as c:
        data = b""
        while chunk := c.recv():
            data += chunk
    assert data.startswith(b"HTTP/1.1 400 Bad Request\r\n") and len(data) > 500


def test_closed_closes_at_once(hostile: Running) -> None:
    with client(hostile_ip("closed"), hostile.port) as c:
        assert c.recv() == b""


def test_endless_ehlo_never_ends(hostile: Running) -> None:
    with client(hostile_ip("endless"), hostile.port) as c:
        assert c.reply() == ["220 mx.endless.test ESMTP"]
        c.sock.sendall(b"EHLO client.test\r\n")
        lines = [c.line() for _ in range(1000)]
    assert all(line.startswith(b"250-") for line in lines)


def test_script_markup_then_real_tls(hostile: Running) -> None:
    with client(hostile_ip("script"), hostile.port) as c:
        assert c.reply() == ["220 mx.script.test <script>alert(1)</script> ESMTP"]
        ehlo = c.cmd("EHLO client.test")
        assert "250-X-<img src=x onerror=alert(2)>" in ehlo and "250-STARTTLS" in ehlo
        assert ehlo[-1] == "250 8BITMIME"
        assert c.cmd("STARTTLS") == ["220 2.0.0 Ready to start TLS"]
        c.start_tls()
        after = c.cmd("EHLO client.test")
        assert after[0] == "250-mx.script.test" and not any("STARTTLS" in x for x in after)
        assert c.cmd("MAIL FROM:<a@client.test>")[0].startswith("554 ")
        assert c.cmd("DATA")[0].startswith("554 ")
        assert c.cmd("VRFY x")[0].startswith("502 ")
        assert c.cmd("QUIT") == ["221 2.0.0 Bye"]


def test_busy_421(hostile: Running) -> None:
    with client(hostile_ip("busy"), hostile.port) as c:
        assert c.reply() == ["421 4.7.0 mx.busy.test Too many connections, try later"]
        assert c.eof()


def test_reset_after_starttls(hostile: Running) -> None:
    with client(hostile_ip("reset"), hostile.port) as c:
        assert c.to_starttls() == ["220 2.0.0 Ready to start TLS"]
        with pytest.raises(ConnectionResetError):
            c.start_tls()


def test_tlsgarbage_is_not_tls(hostile: Running) -> None:
    with client(hostile_ip("tlsgarbage"), hostile.port) as c:
        assert c.to_starttls() == ["220 2.0.0 Ready to start TLS"]
        with pytest.raises(ssl.SSLError, match=r"WRONG_VERSION_NUMBER|wrong version number"):
            c.start_tls()


def test_starttls454_refuses_then_quits(hostile: Running) -> None:
    with client(hostile_ip("starttls454"), hostile.port) as c:
        expected = ["454 4.7.0 TLS not available due to temporary reason"]
        assert c.to_starttls() == expected
        assert c.cmd("QUIT") == ["221 2.0.0 Bye"]


def test_ehlofail_after_tls(hostile: Running) -> None:
    with client(hostile_ip("ehlofail"), hostile.port) as c:
        assert c.to_starttls() == ["220 2.0.0 Ready to start TLS"]
        c.start_tls()
        assert c.cmd("EHLO client.test") == ["502 5.5.2 Error: command not recognized"]
        assert c.cmd("HELO client.test") == ["502 5.5.2 Error: command not recognized"]
        assert c.cmd("QUIT") == ["221 2.0.0 Bye"]


def test_stillstarttls_after_tls(hostile: Running) -> None:
    with client(hostile_ip("stillstarttls"), hostile.port) as c:
        assert c.to_starttls() == ["220 2.0.0 Ready to start TLS"]
        c.start_tls()
        assert "250-STARTTLS" in c.cmd("EHLO client.test")
        assert c.cmd("QUIT") == ["221 2.0.0 Bye"]


def test_longline_banner_has_no_end(hostile: Running) -> None:
    with client(hostile_ip("longline"), hostile.port) as c:
        data = b""
        while len(data) < 100_004:
            chunk = c.recv()
            assert chunk
            data += chunk
        assert data == b"220 " + b"A" * 100_000
        c.sock.settimeout(0.5)
        with pytest.raises(TimeoutError):  # held open, nothing more
            c.recv()


def test_drip_one_byte_per_second(hostile: Running) -> None:
    with client(hostile_ip("drip"), hostile.port) as c:
        data, end = b"", time.monotonic() + 2.5
        while time.monotonic() < end:
            c.sock.settimeout(max(0.01, end - time.monotonic()))
            with contextlib.suppress(TimeoutError):
                data += c.recv()
    assert 2 <= len(data) <= 4
    assert b"220 mx.drip.test ESMTP\r\n".startswith(data)


def test_mid421_on_starttls(hostile: Running) -> None:
    with client(hostile_ip("mid421"), hostile.port) as c:
        assert c.to_starttls() == ["421 4.3.2 Service shutting down"]
        assert c.eof()


def test_overlong_command_is_refused_and_server_survives(hostile: Running) -> None:
    with client(hostile_ip("starttls454"), hostile.port) as c:
        c.reply()
        c.sock.sendall(b"EHLO " + b"x" * 5000 + b"\r\n")
        assert c.reply()[0].startswith("500 ")
        assert c.eof()
    with client(hostile_ip("starttls454"), hostile.port) as c:
        assert c.reply() == ["220 mx.starttls454.test ESMTP"]


def test_many_concurrent_connections(hostile: Running) -> None:
    with contextlib.ExitStack() as stack:
        silent = [
            stack.enter_context(client(hostile_ip("silent"), hostile.port)) for _ in range(60)
        ]
        busy = [stack.enter_context(client(hostile_ip("busy"), hostile.port)) for _ in range(60)]
        assert all(c.reply()[0].startswith("421 ") for c in busy)
        with client(hostile_ip("script"), hostile.port) as c:
            assert c.reply()[0].startswith("220 ")
        assert len(silent) == 60


def test_connections_are_logged(hostile: Running) -> None:
    with client(hostile_ip("reset"), hostile.port) as c:
        c.to_starttls()
        with contextlib.suppress(OSError):
            c.start_tls()
    deadline = time.monotonic() + 3
    while "RST" not in hostile.log() and time.monotonic() < deadline:
        time.sleep(0.05)
    line = next(x for x in hostile.log().splitlines() if "scenario=reset closed" in x)
    assert "peer=127." in line and "C:STARTTLS" in line and "RST" in line


def test_listen_form_and_address_guard(
    cert: tuple[Path, Path], hostile: Running, tmp_path: Path
) -> None:
    """testbed/testbed.py starts hostile.py with --listen IP:BEHAVIOUR; wildcards are refused."""
    port = free_port([LISTEN_IP], exclude={hostile.port})
    args = ["--listen", f"{LISTEN_IP}:busy", "--cert", str(cert[0]), "--key", str(cert[1])]
    with server_process("hostile.py", args, tmp_path, port), client(LISTEN_IP, port) as c:
        assert c.reply()[0].startswith("421 4.7.0 mx.busy.test")
    for bad in (["--bind-base", "0.0.0"], ["--bind-base", "127.0.1"], ["--listen", "0.0.0.0:busy"]):
        proc = subprocess.run(
            [
                sys.executable,
                str(SERVERS / "hostile.py"),
                *bad,
                "--cert",
                str(cert[0]),
                "--key",
                str(cert[1]),
            ],
            capture_output=True,
            timeout=10,
        )
        assert proc.returncode == 2, bad


# --- legacy_tls.py ---------------------------------------------------------------------------


def tlslite_settings(
    version: tuple[int, int], ciphers: list[str], kex: list[str] | None = None
) -> Any:
    settings = HandshakeSettings()
    settings.minVersion = settings.maxVersion = version
    settings.versions = [version]
    settings.cipherNames = ciphers
    settings.macNames = ["sha", "md5", "sha256", "sha384", "aead"]
    settings.keyExchangeNames = kex or ["rsa", "dhe_rsa", "ecdhe_rsa"]
    return settings


class Negotiated(NamedTuple):
    name: str  # tlslite's "version cipher", e.g. "SSL 3.0 rc4"
    suite: int  # the IANA cipher suite number


def legacy_handshake(
    ip: str, port: int, version: tuple[int, int], ciphers: list[str], kex: list[str] | None = None
) -> Negotiated:
    """STARTTLS + a tlslite client handshake, then EHLO and QUIT over TLS."""
    with client(ip, port) as c:
        assert c.to_starttls() == ["220 2.0.0 Ready to start TLS"]
        tls = TLSConnection(c.raw)
        tls.handshakeClientCert(settings=tlslite_settings(version, ciphers, kex))
        c.sock = tls
        after = c.cmd("EHLO client.test")
        assert after[-1] == "250 8BITMIME" and "250-STARTTLS" not in after
        assert c.cmd("QUIT") == ["221 2.0.0 Bye"]
        return Negotiated(f"{tls.getVersionName()} {tls.getCipherName()}", tls.session.cipherSuite)


@pytest.mark.parametrize(
    ("version", "cipher", "expected"),
    [
        (SSL3, "rc4", "SSL 3.0 rc4"),
        (SSL3, "3des", "SSL 3.0 3des"),
        (TLS10, "3des", "TLS 1.0 3des"),
        (TLS11, "aes128", "TLS 1.1 aes128"),
        (TLS12, "rc4", "TLS 1.2 rc4"),
        (TLS12, "aes256gcm", "TLS 1.2 aes256gcm"),
    ],
)
def test_legacy_accepts_old_protocols_and_ciphers(
    legacy: Running, version: tuple[int, int], cipher: str, expected: str
) -> None:
    assert legacy_handshake(LEGACY, legacy.port, version, [cipher]).name == expected


@pytest.mark.parametrize(
    ("version", "cipher", "suite"),
    [(SSL3, "rc4", 0x0005), (TLS10, "3des", 0x000A), (TLS12, "aes128", 0x003C)],
)
def test_legacy_allows_static_rsa_key_exchange(
    legacy: Running, version: tuple[int, int], cipher: str, suite: int
) -> None:
    """TLS_RSA_WITH_RC4_128_SHA, TLS_RSA_WITH_3DES_EDE_CBC_SHA, TLS_RSA_WITH_AES_128_CBC_SHA256."""
    assert legacy_handshake(LEGACY, legacy.port, version, [cipher], kex=["rsa"]).suite == suite


def test_legacy_talks_to_openssl(legacy: Running) -> None:
    with client(LEGACY, legacy.port) as c:
        assert c.reply() == ["220 mx.legacy.test ESMTP"]
        assert "250-STARTTLS" in c.cmd("EHLO client.test")
        assert c.cmd("STARTTLS")[0].startswith("220 ")
        c.start_tls()
        assert c.sock.version() == "TLSv1.2"
        assert c.cmd("QUIT") == ["221 2.0.0 Bye"]


@pytest.mark.parametrize(
    ("version", "cipher"), [(SSL3, "rc4"), (SSL3, "aes128"), (TLS12, "aes128gcm")]
)
def test_sslv3tls12_accepts_sslv3_and_tls12(
    legacy: Running, version: tuple[int, int], cipher: str
) -> None:
    assert legacy_handshake(SSLV3TLS12, legacy.port, version, [cipher]).name.endswith(cipher)


@pytest.mark.parametrize("version", [TLS10, TLS11])
def test_sslv3tls12_refuses_tls10_and_tls11(legacy: Running, version: tuple[int, int]) -> None:
    with pytest.raises(TLSRemoteAlert) as alert:
        legacy_handshake(SSLV3TLS12, legacy.port, version, ["aes128", "3des", "rc4"])
    assert alert.value.description == AlertDescription.protocol_version
    # the refusal is logged and the server keeps serving
    assert legacy_handshake(SSLV3TLS12, legacy.port, TLS12, ["aes128"]).name == "TLS 1.2 aes128"
    assert "is refused by this server" in legacy.log()


def test_legacy_survives_non_tls_client(legacy: Running) -> None:
    with client(LEGACY, legacy.port) as c:
        c.to_starttls()
        c.sock.sendall(b"this is not a ClientHello\r\n" * 20)
        c.sock.shutdown(socket.SHUT_WR)  # and leave mid-handshake
        assert c.eof()
    assert legacy_handshake(LEGACY, legacy.port, TLS12, ["aes128"]).name == "TLS 1.2 aes128"
    assert "TLS handshake failed" in legacy.log()


@pytest.mark.parametrize("script", ["hostile.py", "legacy_tls.py"])
def test_both_servers_refuse_addresses_outside_the_testbed_range(
    script: str, cert: tuple[Path, Path]
) -> None:
    """The address rule both servers take from testbed/servers/_common.py."""
    for base in ("127.0.9", "127.0.20", "10.0.0"):
        proc = subprocess.run(
            [
                sys.executable,
                str(SERVERS / script),
                "--bind-base",
                base,
                "--cert",
                str(cert[0]),
                "--key",
                str(cert[1]),
            ],
            capture_output=True,
            text=True,
            timeout=10,
        )
        assert proc.returncode == 2 and "bind-base must be within 127.0.10 - 127.0.19" in (
            proc.stderr
        ), (base, proc.stderr)

"""The hello-probe codec against a real OpenSSL server (`openssl s_server` on 127.0.19.250).

No SMTP here: connect, send our ClientHello, read the first flight. This proves the codec tells
accepted from refused on a real TLS stack, including offers Python's `ssl` cannot make.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from mailtls.tls import suites as S
from mailtls.tls.hello import (
    SSL3,
    TLS12,
    TLS13,
    ServerFlight,
    build_client_hello,
    build_sslv2_client_hello,
    read_server_flight,
)
from tests.support.certs import make_cert, make_key

HOST = "127.0.19.250"  # only 127.0.19.0/24 is ours in the test network plan
CN = "mx.hello-probe.test"


def _need_openssl() -> str:
    path = shutil.which("openssl")
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail("openssl binary missing (CI=true: missing server binaries are failures)")
        pytest.skip("openssl binary not installed")
    return path


def _ffdhe3072(openssl: str, directory: Path) -> Path:
    path = directory / "ffdhe3072.pem"
    pem = subprocess.run(
        [openssl, "genpkey", "-genparam", "-algorithm", "DH", "-pkeyopt", "group:ffdhe3072"],
        capture_output=True,
        check=True,
        timeout=30,
    ).stdout
    path.write_bytes(pem)
    return path


def _wait_for_port(proc: subprocess.Popen[bytes], log: Path, deadline: float) -> int:
    """Parse `ACCEPT 127.0.19.250:PORT` from s_server's output (a file: no pipe to fill up)."""
    while time.monotonic() < deadline and proc.poll() is None:
        for line in log.read_bytes().splitlines():
            if line.startswith(b"ACCEPT") and b":" in line:
                return int(line.rsplit(b":", 1)[1])
        time.sleep(0.05)
    raise RuntimeError(f"openssl s_server did not start: {log.read_bytes()!r}")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """openssl s_server with an RSA certificate and ffdhe3072 DHE parameters; yields the port."""
    openssl = _need_openssl()
    directory = tmp_path_factory.mktemp("s_server")
    cert, key = make_cert(CN, key=make_key("rsa"), days=1).write(directory)
    dhparam = _ffdhe3072(openssl, directory)
    cmd = [openssl, "s_server", "-accept", f"{HOST}:0", "-cert", str(cert), "-key", str(key)]
    cmd += ["-dhparam", str(dhparam), "-www"]
    log = directory / "s_server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield _wait_for_port(proc, log, time.monotonic() + 15)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def probe(port: int, hello: bytes) -> ServerFlight:
    with socket.create_connection((HOST, port), timeout=10) as sock:
        sock.sendall(hello)
        return read_server_flight(sock.recv)


def test_tls12_ecdhe_rsa_aes128_gcm_accepted(server: int) -> None:
    f = probe(server, build_client_hello(TLS12, [0xC02F], server_name=CN))
    assert f.outcome == "accepted" and f.complete, f.detail
    assert (f.version, f.cipher_suite, f.compression) == (0x0303, 0xC02F, 0)
    assert f.kex_group == S.DEFAULT_GROUPS[0] == 29  # x25519, our first preference
    assert f.signature_scheme in S.SIGNATURE_SCHEMES
    assert 0xFF01 in f.extensions  # secure renegotiation echoed
    cert = x509.load_der_x509_certificate(f.certificates[0])
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == CN


def test_tls12_chosen_group_recorded(server: int) -> None:
    f = probe(server, build_client_hello(TLS12, [0xC030], server_name=CN, groups=[24]))
    assert f.accepted and f.kex_group == 24 and f.cipher_suite == 0xC030


def test_tls12_dhe_group_identified(server: int) -> None:
    f = probe(server, build_client_hello(TLS12, [0x009E], server_name=CN, groups=[]))
    assert f.accepted and f.complete, f.detail
    assert (f.dh_bits, f.dh_generator, f.kex_group) == (3072, 2, 257)  # ffdhe3072


def test_tls13_accepted(server: int) -> None:
    f = probe(server, build_client_hello(TLS13, [0x1301, 0x1302], server_name=CN))
    assert f.outcome == "accepted" and f.complete and not f.hello_retry, f.detail
    assert f.version == 0x0304 and f.cipher_suite in (0x1301, 0x1302)
    assert f.kex_group == 29 and 43 in f.extensions and f.certificates == ()


def test_tls13_secp256r1_share(server: int) -> None:
    f = probe(
        server, build_client_hello(TLS13, [0x1301], server_name=CN, groups=[23], key_shares=[23])
    )
    assert f.accepted and f.version == 0x0304 and f.kex_group == 23


def test_weak_only_offer_refused_with_handshake_failure(server: int) -> None:
    weak = [c for c in S.WEAK_SUITES if S.SUITES[c].cipher.startswith(("RC4", "3DES", "NULL"))]
    assert len(weak) > 30
    f = probe(server, build_client_hello(TLS12, weak, server_name=CN))
    assert f.outcome == "refused", f.detail
    assert f.alert == (2, 40) and f.cipher_suite is None
    everything_weak = probe(server, build_client_hello(TLS12, S.WEAK_SUITES, server_name=CN))
    assert everything_weak.refused and everything_weak.alert == (2, 40)


def test_sslv3_refused(server: int) -> None:
    hello = build_client_hello(SSL3, S.suites_for_version(S.SUITES, SSL3), server_name=None)
    f = probe(server, hello)
    assert f.outcome == "refused", f.detail
    assert f.alert is not None and f.alert[0] == 2


def test_sslv2_refused(server: int) -> None:
    f = probe(server, build_sslv2_client_hello())
    assert f.outcome == "refused", f.detail


def test_same_server_accepts_then_refuses(server: int) -> None:
    """Distinguishing power: one connection each, same server, opposite answers."""
    good = probe(server, build_client_hello(TLS12, list(S.MODERN_SUITES), server_name=CN))
    bad = probe(server, build_client_hello(TLS12, [0x0004, 0x0005], server_name=CN))
    assert good.accepted and bad.refused

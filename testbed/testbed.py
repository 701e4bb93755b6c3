#!/usr/bin/env python3
"""The mailtls testbed: real servers on specific loopback addresses (127.0.10.0-127.0.19.255).

    python3 testbed/testbed.py up | down | status | selfcheck

up:        generate the CA, zones, configs (from testbed/scenarios.yaml) and start NSD
           (127.0.10.1), Unbound (127.0.10.2, validating), Postfix (127.0.11.x:25) and the hostile
           servers (127.0.12.x:25); write <run>/env.json
selfcheck: confirm each scenario's property with independent tools (dig, openssl s_client)
The runtime folder is $MAILTLS_TESTBED_DIR, default testbed/run/.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from tb import ca, dns, postfix  # noqa: E402

RUN = Path(os.environ.get("MAILTLS_TESTBED_DIR", HERE / "run")).resolve()
BINARIES = ("nsd", "unbound", "postfix", "ldns-keygen", "ldns-signzone", "dig", "openssl")


def scenarios() -> dict[str, Any]:
    return yaml.safe_load((HERE / "scenarios.yaml").read_text())  # type: ignore[no-any-return]


def _pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def down() -> None:
    if (RUN / "postfix" / "main.cf").exists():
        subprocess.run(["postfix", "-c", str(RUN / "postfix"), "stop"], capture_output=True)
    for pidfile in (RUN / "dns" / "nsd.pid", RUN / "dns" / "unbound.pid", RUN / "hostile.pid"):
        pid = _pid(pidfile)
        if _alive(pid):
            assert pid is not None
            os.kill(pid, signal.SIGTERM)
            for _ in range(50):
                if not _alive(pid):
                    break
                time.sleep(0.1)
        pidfile.unlink(missing_ok=True)
    print("testbed: down")


def _wait_port(ip: str, port: int, proto: str = "tcp", seconds: float = 15) -> bool:
    import socket

    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            with socket.create_connection((ip, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.2)
    return False


def up() -> None:
    missing = [
        b for b in BINARIES if shutil.which(b) is None and not Path(f"/usr/sbin/{b}").exists()
    ]
    if missing:
        sys.exit(f"testbed: missing programs: {', '.join(missing)} (run: bash testbed/setup.sh)")
    down()
    data = scenarios()
    RUN.mkdir(parents=True, exist_ok=True)
    authority = ca.TestCA(RUN / "certs")
    kinds = {item["cert"]: item.get("kind", "good") for item in data["listeners"]}
    kinds["mx.script.test"] = "good"
    certs = {name: authority.leaf(name, kind) for name, kind in sorted(kinds.items())}
    dns_files = dns.build(RUN, data["domains"])
    subprocess.run(["nsd", "-c", dns_files["nsd_conf"]], check=True)
    subprocess.run(["unbound", "-c", dns_files["unbound_conf"]], check=True)
    conf = postfix.build(RUN, data["listeners"], certs)
    subprocess.run(["postfix", "-c", str(conf), "check"], check=True)
    subprocess.run(["postfix", "-c", str(conf), "start"], check=True, capture_output=True)
    hostile = certs["mx.script.test"]
    args = [
        sys.executable,
        str(HERE / "servers" / "hostile.py"),
        "--cert",
        hostile["chain"],
        "--key",
        hostile["key"],
    ]
    for item in data["hostile"]:
        args += ["--listen", f"{item['ip']}:{item['behaviour']}"]
    log = open(RUN / "hostile.log", "ab")  # noqa: SIM115 - handed to the child process
    proc = subprocess.Popen(args, stdout=log, stderr=log, start_new_session=True)
    (RUN / "hostile.pid").write_text(str(proc.pid))
    waits = [(dns.NSD_IP, 53), (dns.UNBOUND_IP, 53)] + [(i["ip"], 25) for i in data["listeners"]]
    waits += [(i["ip"], 25) for i in data["hostile"]]
    slow = [f"{ip}:{port}" for ip, port in waits if not _wait_port(ip, port)]
    if slow:
        sys.exit(f"testbed: not answering: {', '.join(slow)} (logs in {RUN})")
    env = {
        "resolver": dns.UNBOUND_IP,
        "ca_bundle": str(RUN / "certs" / "ca.pem"),
        "run": str(RUN),
        "postfix_log": str(postfix.LOG),
        "certs": certs,
    }
    (RUN / "env.json").write_text(json.dumps(env, indent=1))
    print(f"testbed: up (resolver {dns.UNBOUND_IP}, CA bundle {env['ca_bundle']})")


def _dig(name: str, rtype: str) -> tuple[str, bool]:
    out = subprocess.run(
        ["dig", f"@{dns.UNBOUND_IP}", "+dnssec", "+time=3", "+tries=1", name, rtype],
        capture_output=True,
        text=True,
    ).stdout
    status = out.split("status: ", 1)[1].split(",", 1)[0] if "status: " in out else "NOANSWER"
    flags = out.split("flags:", 1)[1].split(";", 1)[0] if "flags:" in out else ""
    return status, " ad" in flags


def _starttls(ip: str) -> str:
    proc = subprocess.run(
        ["openssl", "s_client", "-starttls", "smtp", "-connect", f"{ip}:25", "-brief"],
        input="",
        capture_output=True,
        text=True,
        timeout=15,
    )
    return proc.stdout + proc.stderr


def selfcheck() -> int:
    data = scenarios()
    problems = []
    checks = [
        ("good.test", "MX", "NOERROR", True),
        ("bogus.test", "MX", "SERVFAIL", False),
        ("missing.test", "MX", "NXDOMAIN", True),
        ("insecure.test", "MX", "NOERROR", False),
    ]
    for name, rtype, status, ad in checks:
        got, got_ad = _dig(name, rtype)
        ok = got == status and got_ad == ad
        print(
            f"{'PASS' if ok else 'FAIL'} dig {name} {rtype}: {got} ad={got_ad} (expected {status} ad={ad})"
        )
        problems += [] if ok else [name]
    for item in data["listeners"]:
        out = _starttls(item["ip"])
        wants_tls = item.get("options", {}).get("smtpd_tls_security_level") != "none"
        has_tls = "Protocol version" in out or "CONNECTION ESTABLISHED" in out
        ok = has_tls == wants_tls
        print(
            f"{'PASS' if ok else 'FAIL'} openssl s_client -starttls smtp {item['ip']} ({item['name']}): "
            f"TLS {'yes' if has_tls else 'no'}"
        )
        problems += [] if ok else [item["name"]]
    return 1 if problems else 0


def main() -> int:
    cmd = sys.argv[1] if len(sys.argv) > 1 else "status"
    if cmd == "up":
        up()
    elif cmd == "down":
        down()
    elif cmd == "selfcheck":
        return selfcheck()
    elif cmd == "status":
        print((RUN / "env.json").read_text() if (RUN / "env.json").exists() else "testbed: down")
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

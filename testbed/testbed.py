#!/usr/bin/env python3
"""The mailtls testbed: real servers on specific loopback addresses (127.0.10.0-127.0.19.255).

    .venv/bin/python testbed/testbed.py up | down | status | selfcheck | path [run|ca|env]

up:        (re)generate the CA and certificates, zones, configs (all from testbed/scenarios.yaml)
           into the runtime folder and start NSD (127.0.10.1:53), Unbound (127.0.10.2:53,
           validating), Postfix (127.0.11.x:25), the fault servers (127.0.12.x:25), if its
           script exists, the legacy TLS servers (127.0.14.x:25), and the stock Exim and
           OpenSMTPD from their Debian packages (127.0.15.x:25, tb/stock.py); write env.json.
           Running it again stops what this runtime folder started and starts afresh.
down:      stop everything this runtime folder started (pid files), nothing else.
status:    what runs (by pid file) and <run>/env.json.
selfcheck: confirm each scenario's property with independent tools (dig, openssl s_client,
           posttls-finger); PASS/FAIL per scenario; exit status 1 on any FAIL.
path:      print the runtime folder, the CA bundle (<run>/ca.pem) or <run>/env.json; works
           whether the testbed is up or not (scripts use it instead of guessing).
The runtime folder is $MAILTLS_TESTBED_DIR, default /var/tmp/mailtls-testbed/<12 hex digits of
SHA-256 of the checkout's path>/: outside the checkout, so that the daemons' own users reach it
from a clone in any directory, and one per checkout.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tb import ca, common, dns, nginx, postfix, selfcheck, stock
from tb.common import HERE, RUN

BINARIES = (
    "nsd",
    "unbound",
    "postfix",
    "nginx",
    "ldns-keygen",
    "ldns-signzone",
    "dig",
    "openssl",
    "ss",
)
# selfcheck also uses posttls-finger (package postfix)
CERTS = RUN / "certs"


FAULTS = HERE / "servers" / "hostile.py"
HOSTILE_WEB = HERE / "servers" / "hostile_web.py"
HOSTILE_DNS = HERE / "servers" / "hostile_dns.py"


def _pidfiles() -> list[tuple[str, Path, str]]:
    """(what, pid file, text its command line must contain)."""
    return [
        ("nsd", RUN / "dns" / "nsd.pid", str(RUN)),
        ("unbound", RUN / "dns" / "unbound.pid", str(RUN)),
        ("faults", RUN / "faults.pid", str(RUN)),
        ("legacy", RUN / "legacy.pid", str(RUN)),
        ("hostile_web", RUN / "hostile_web.pid", str(RUN)),
        ("hostile_dns", RUN / "hostile_dns.pid", str(RUN)),
        ("nginx", nginx.pidfile(RUN), str(RUN)),
    ]


def down(quiet: bool = False) -> None:
    conf = postfix.conf_dir(RUN)
    if (conf / "main.cf").exists() and common.alive(common.read_pid(postfix.master_pid(conf))):
        subprocess.run(
            ["postfix", "-c", str(conf), "stop"], capture_output=True, env=postfix.tool_env(conf)
        )
        for _ in range(50):
            if not common.alive(common.read_pid(postfix.master_pid(conf))):
                break
            time.sleep(0.1)
        if not quiet:
            print("testbed: postfix stopped")
    for what, pidfile, marker in _pidfiles():
        done = common.stop_pid(pidfile, marker)
        if done and not quiet:
            print(f"testbed: {what} {done}")
    for done in stock.stop():
        if not quiet:
            print(f"testbed: {done}")
    (RUN / "env.json").unlink(missing_ok=True)
    if not quiet:
        print(f"testbed: down ({RUN})")


def _certificates(data: dict[str, Any]) -> tuple[ca.TestCA, dict[str, dict[str, str]]]:
    authority = ca.TestCA(CERTS)
    wanted: dict[str, tuple[str, list[str]]] = {}
    for item in data["listeners"] + data.get("submission", []) + data.get("stock", []):
        wanted[item["cert"]] = (item.get("kind", "good"), [])
    for item in data.get("hostile", []):
        wanted[f"mx.{item['behaviour']}.test"] = ("good", [])
    for item in data.get("certs", []):
        wanted[item["name"]] = (item.get("kind", "good"), item.get("sans", []))
    for domain, sts in nginx.policy_domains(data["domains"]).items():
        wanted[f"mta-sts.{domain}"] = (sts.get("cert", "good"), [])
    for host in policy_hosts17(data):
        wanted[host] = ("good", [])
    certs = {
        name: authority.leaf(name, kind, sans) for name, (kind, sans) in sorted(wanted.items())
    }
    shutil.copyfile(authority.ca_pem, RUN / "ca.pem")
    return authority, certs


def _start_faults(data: dict[str, Any], certs: dict[str, dict[str, str]]) -> str:
    if not data.get("hostile"):
        return "not started (no hostile servers in the scenarios)"
    c = certs[data.get("hostile_cert", "mx.script.test")]
    args = [sys.executable, str(FAULTS), "--cert", c["chain"], "--key", c["key"]]
    for item in data["hostile"]:
        if item.get("start", True):  # `start: false`: a test starts its own instance
            args += ["--listen", f"{item['ip']}:{item['behaviour']}"]
    args += ["--logfile", str(RUN / "hostile.log")]  # its own rotated log
    with open(RUN / "faults.log", "ab") as log:
        proc = subprocess.Popen(args, stdout=log, stderr=log, start_new_session=True, cwd=RUN)
    (RUN / "faults.pid").write_text(f"{proc.pid}\n")
    return f"{FAULTS.name} pid {proc.pid}"


def policy_hosts17(data: dict[str, Any]) -> list[str]:
    """The policy host names the hostile HTTPS servers present certificates for (issue 17)."""
    names = [f"mta-sts.{item['domain']}" for item in data.get("hostile_web", [])]
    spec = data.get("hostile_dns")
    if spec:
        names += [f"mta-sts.{case}.{spec['zone']}" for case in spec["policy_cases"]]
    return names


def _start17(data: dict[str, Any], certs: dict[str, dict[str, str]]) -> str:
    """The hostile HTTPS policy hosts and the hostile DNS server (issue 17), by PID file."""
    started = []
    if data.get("hostile_web"):
        args = [sys.executable, str(HOSTILE_WEB), "--mx", data["hostile_dns"]["mx"]]
        for item in data["hostile_web"]:
            args += ["--listen", f"{item['ip']}:{item['behaviour']}"]
        for host in policy_hosts17(data):
            args += ["--cert", f"{certs[host]['chain']}:{certs[host]['key']}"]
        args += ["--logfile", str(RUN / "hostile_web.log")]
        started.append(_spawn(args, "hostile_web"))
    spec = data.get("hostile_dns")
    if spec:
        args = [sys.executable, str(HOSTILE_DNS), "--listen", spec["ip"], "--zone", spec["zone"]]
        args += ["--mx", spec["mx"], "--policy-ip", spec["policy_ip"]]
        args += ["--logfile", str(RUN / "hostile_dns.log")]
        started.append(_spawn(args, "hostile_dns"))
    return ", ".join(started) or "not started (no hostile_web / hostile_dns in the scenarios)"


def _spawn(args: list[str], name: str) -> str:
    with open(RUN / f"{name}.out", "ab") as log:
        proc = subprocess.Popen(args, stdout=log, stderr=log, start_new_session=True, cwd=RUN)
    (RUN / f"{name}.pid").write_text(f"{proc.pid}\n")
    return f"{name} pid {proc.pid}"


def _start_legacy(data: dict[str, Any], certs: dict[str, dict[str, str]]) -> str:
    spec = data.get("legacy")
    script = HERE / "servers" / "legacy_tls.py"
    if not spec or not script.exists():
        return "not started (no testbed/servers/legacy_tls.py)"
    c = certs[spec["cert"]]
    bases = {ip.rsplit(".", 1)[0] for ip in spec["hosts"].values()}  # it binds <base>.1 and .2
    args = [sys.executable, str(script), "--bind-base", bases.pop(), "--port", "25"]
    args += ["--cert", c["cert"], "--key", c["key"]]
    args += ["--chain", c["inter"]] if c["inter"] else []
    args += ["--logfile", str(RUN / "legacy.log")]
    with open(RUN / "legacy.out", "ab") as log:
        proc = subprocess.Popen(args, stdout=log, stderr=log, start_new_session=True, cwd=RUN)
    (RUN / "legacy.pid").write_text(f"{proc.pid}\n")
    return f"legacy_tls.py pid {proc.pid}"


def _endpoints(
    data: dict[str, Any], legacy_running: bool, stock_started: dict[str, str] | None = None
) -> list[str]:
    wanted = [f"{p} {ip}:53" for ip in (dns.NSD_IP, dns.UNBOUND_IP) for p in ("udp", "tcp")]
    wanted += [
        f"tcp {item['ip']}:25"
        for item in data["listeners"] + data.get("hostile", [])
        if item.get("start", True)
    ]
    wanted += [f"tcp {item['ip']}:{item['port']}" for item in data.get("submission", [])]
    if legacy_running:
        wanted += [f"tcp {ip}:25" for ip in data["legacy"]["hosts"].values()]
    if nginx.policy_domains(data["domains"]):
        wanted.append(f"tcp {nginx.ip()}:443")
    wanted += [f"tcp {item['ip']}:443" for item in data.get("hostile_web", [])]
    if data.get("hostile_dns"):
        wanted += [f"{p} {data['hostile_dns']['ip']}:53" for p in ("udp", "tcp")]
    wanted += [
        f"tcp {item['ip']}:25"
        for item in data.get("stock", [])
        if stock_started is None or not stock_started.get(item["name"], "").startswith("not")
    ]
    return wanted


def up() -> int:
    try:
        code = _up()
    except (subprocess.CalledProcessError, RuntimeError, ValueError, OSError) as exc:
        detail = getattr(exc, "stderr", None) or ""
        print(
            f"testbed: up failed: {exc} {detail.decode() if isinstance(detail, bytes) else detail}"
        )
        code = 1
    if code:
        down(quiet=True)  # never leave a half-started testbed behind
    return code


def _up() -> int:
    missing = [b for b in BINARIES if shutil.which(b) is None]
    if missing:
        print(f"testbed: missing programs: {', '.join(missing)} (run: bash testbed/setup.sh)")
        return 1
    dns.NSD_IP, dns.UNBOUND_IP = common.addr("127.0.10.1"), common.addr("127.0.10.2")
    down(quiet=True)
    data = common.scenarios()
    legacy_possible = bool(data.get("legacy")) and (HERE / "servers" / "legacy_tls.py").exists()
    busy = common.listening()
    taken = [busy[w] for w in _endpoints(data, legacy_possible) if w in busy]
    if taken:
        print("testbed: addresses already in use by another process (another testbed?):")
        print("\n".join("  " + line for line in taken))
        return 1
    unreachable = common.prepare_run(RUN)
    if unreachable:
        print("testbed: runtime folder not reachable:\n  " + "\n  ".join(unreachable))
        return 1
    _, certs = _certificates(data)
    files = dns.build(RUN, data["domains"], certs, data.get("hostile_dns"))
    subprocess.run(["nsd-checkconf", files["nsd_conf"]], check=True)
    subprocess.run(["unbound-checkconf", files["unbound_conf"]], check=True, capture_output=True)
    subprocess.run(["nsd", "-c", files["nsd_conf"]], check=True)
    subprocess.run(["unbound", "-c", files["unbound_conf"]], check=True)
    conf = postfix.build(RUN, data["listeners"], certs, data.get("submission", []))
    complaints = postfix.check(conf)
    if complaints:
        print(f"testbed: postfix check: {complaints}")
    postfix.start(conf)
    web_conf = nginx.build(RUN, data["domains"], certs)
    web = nginx.start(web_conf) if web_conf else "not started (no MTA-STS policy hosts)"
    faults = _start_faults(data, certs)
    legacy = _start_legacy(data, certs)
    hostile17 = _start17(data, certs)
    stocks = stock.start(data.get("stock", []), certs)
    slow = common.wait_listening(_endpoints(data, legacy.startswith("legacy_tls.py"), stocks))
    if slow:
        print(f"testbed: not listening after 20 s: {', '.join(slow)} (logs in {RUN})")
        return 1
    env = {
        "resolver": dns.UNBOUND_IP,
        "authoritative": dns.NSD_IP,
        "ca_bundle": str(RUN / "ca.pem"),
        "run": str(RUN),
        "postfix_conf": str(conf),
        "postfix_log": str(postfix.log_file(RUN)),
        "listeners": {item["name"]: item["ip"] for item in data["listeners"]},
        "submission": {
            item["name"]: f"{item['ip']}:{item['port']}" for item in data.get("submission", [])
        },
        "hostile": {item["behaviour"]: item["ip"] for item in data.get("hostile", [])},
        "servers": {
            "faults": faults,
            "legacy": legacy,
            "nginx": web,
            "hostile17": hostile17,
            **stocks,
        },
        "stock": {item["name"]: item["ip"] for item in data.get("stock", [])},
        "stock_logs": {item["name"]: str(stock.log_file(item)) for item in data.get("stock", [])},
        "nginx": nginx.ip(),
        "certs": certs,
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    (RUN / "env.json").write_text(json.dumps(env, indent=1) + "\n")
    print(f"testbed: up in {RUN}")
    print(f"  NSD {dns.NSD_IP}:53, Unbound {dns.UNBOUND_IP}:53 (trust anchor {RUN}/dns/test.ds)")
    print(
        f"  Postfix: {len(data['listeners'])} MX listeners, "
        f"{len(data.get('submission', []))} submission listeners, log {postfix.log_file(RUN)}"
    )
    print(f"  fault servers: {faults}; legacy TLS servers: {legacy}; MTA-STS: {web}")
    print(f"  hostile DNS/HTTPS (issue 17): {hostile17}")
    if stocks:
        print("  stock servers: " + "; ".join(f"{k}: {v}" for k, v in stocks.items()))
    print(f"  CA bundle: {RUN / 'ca.pem'}; env: {RUN / 'env.json'}")
    return 0


def status() -> int:
    running = 0
    conf = postfix.conf_dir(RUN)
    for what, pidfile in [("postfix", postfix.master_pid(conf))] + [
        (w, p) for w, p, _ in _pidfiles() + stock.pidfiles()
    ]:
        pid = common.read_pid(pidfile)
        up_ = common.alive(pid)
        running += up_
        print(f"{what:8} {'running, pid ' + str(pid) if up_ else 'not running'}")
    env = RUN / "env.json"
    print(f"env: {env if env.exists() else 'none (testbed down)'}")
    return 0 if running else 3


def main() -> int:
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "up":
        return up()
    if cmd == "down":
        down()
        return 0
    if cmd == "status":
        return status()
    if cmd == "selfcheck":
        return selfcheck.run(RUN)
    if cmd == "path":
        what = sys.argv[2] if len(sys.argv) > 2 else "run"
        paths = {"run": RUN, "ca": RUN / "ca.pem", "env": RUN / "env.json"}
        if what not in paths:
            print(f"testbed: path {what!r}: expected one of {', '.join(paths)}", file=sys.stderr)
            return 2
        print(paths[what])
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())

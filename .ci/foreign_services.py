#!/usr/bin/python3
"""Stand-ins for the services an operator already runs on the machine: NSD, Unbound, nginx and
Postfix instances that the project did NOT start, each with its own configuration in DIR, on
127.0.16.x (outside every address the testbed uses). CI and the tests start them before running
the README's commands and check afterwards that each still answers, with the same process.

    /usr/bin/python3 .ci/foreign_services.py start DIR [FIRST]  # start what is installed
    /usr/bin/python3 .ci/foreign_services.py check DIR   # each answers, same pid; exit 1 if not
                                          (check-quiet: print only what was disturbed)
    /usr/bin/python3 .ci/foreign_services.py stop DIR    # stop them by the pid files in DIR

Standard library only: it runs before the README's commands have made the virtual environment.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

# FIRST (the optional third argument of `start`, default 1): the services take 127.0.16.FIRST to
# 127.0.16.FIRST+3, so CI's own instances and those of the tests can run side by side.
FIRST = int(sys.argv[3]) if len(sys.argv) > 3 and sys.argv[1] == "start" else 1
NSD_IP, UNBOUND_IP, NGINX_IP, POSTFIX_IP = (f"127.0.16.{FIRST + i}" for i in range(4))
ZONE, ANSWER = "operator.example", "192.0.2.53"
BANNER = "operator.example ESMTP the operator's own Postfix"
POSTFIX_SERVICES = """\
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
proxymap  unix  -       -       n       -       -       proxymap
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
anvil     unix  -       -       n       -       1       anvil
postlog   unix-dgram n  -       n       -       1       postlogd
"""


def dns_answers(ip: str, name: str = ZONE) -> bool:
    """A DNS query (A record of ``name``) over UDP; True when ``ANSWER`` comes back."""
    qname = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    query = struct.pack(">HHHHHH", 0x4D54, 0x0100, 1, 0, 0, 0) + qname + struct.pack(">HH", 1, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(3)
        try:
            sock.sendto(query, (ip, 53))
            reply = sock.recv(4096)
        except OSError:
            return False
    rcode, ancount = reply[3] & 0x0F, struct.unpack(">H", reply[6:8])[0]
    return rcode == 0 and ancount >= 1 and socket.inet_aton(ANSWER) in reply[len(query) :]


def _talk(ip: str, port: int, send: bytes) -> bytes:
    try:
        with socket.create_connection((ip, port), timeout=5) as sock:
            first = sock.recv(4096)
            sock.sendall(send)
            return first + sock.recv(4096)
    except OSError:
        return b""


def http_answers(ip: str) -> bool:
    reply = _talk_http(ip)
    return reply.startswith(b"HTTP/1.1 200") and b"operator nginx" in reply


def _talk_http(ip: str) -> bytes:
    try:
        with socket.create_connection((ip, 80), timeout=5) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: operator.example\r\nConnection: close\r\n\r\n")
            data = b""
            while len(data) < 8192:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                data += chunk
            return data
    except OSError:
        return b""


def smtp_answers(ip: str) -> bool:
    return BANNER.encode() in _talk(ip, 25, b"QUIT\r\n")


def _write_nsd(d: Path) -> list[str]:
    (d / f"{ZONE}.zone").write_text(
        f"$TTL 300\n{ZONE}. IN SOA ns.{ZONE}. hostmaster.{ZONE}. 1 3600 600 86400 300\n"
        f"{ZONE}. IN NS ns.{ZONE}.\n{ZONE}. IN A {ANSWER}\nns.{ZONE}. IN A {NSD_IP}\n"
    )
    (d / "nsd.conf").write_text(
        f'server:\n  ip-address: {NSD_IP}\n  port: 53\n  do-ip6: no\n  username: ""\n'
        f'  chroot: ""\n  zonesdir: "{d}"\n  pidfile: "{d}/nsd.pid"\n  database: ""\n'
        f'  zonelistfile: "{d}/zone.list"\n  xfrdfile: "{d}/xfrd.state"\n'
        f'  logfile: "{d}/nsd.log"\nremote-control:\n  control-enable: no\n'
        f"zone:\n  name: {ZONE}.\n  zonefile: {ZONE}.zone\n"
    )
    return ["nsd", "-c", str(d / "nsd.conf")]


def _write_unbound(d: Path) -> list[str]:
    (d / "unbound.conf").write_text(
        f"server:\n  interface: {UNBOUND_IP}\n  port: 53\n  interface-automatic: no\n"
        f'  do-ip6: no\n  username: ""\n  chroot: ""\n  directory: "{d}"\n'
        f'  pidfile: "{d}/unbound.pid"\n  logfile: "{d}/unbound.log"\n  use-syslog: no\n'
        '  access-control: 127.0.0.0/8 allow\n  module-config: "iterator"\n'
        f'  local-zone: "{ZONE}." static\n  local-data: "{ZONE}. A {ANSWER}"\n'
        "remote-control:\n  control-enable: no\n"
    )
    return ["unbound", "-c", str(d / "unbound.conf")]


def _write_nginx(d: Path) -> list[str]:
    (d / "tmp").mkdir(exist_ok=True)
    (d / "nginx.conf").write_text(
        f"daemon on;\nuser root;\nworker_processes 1;\npid {d}/nginx.pid;\n"
        f"error_log {d}/error.log;\nevents {{ worker_connections 16; }}\nhttp {{\n"
        f"  access_log {d}/access.log;\n  client_body_temp_path {d}/tmp/body;\n"
        f"  proxy_temp_path {d}/tmp/proxy;\n  fastcgi_temp_path {d}/tmp/fastcgi;\n"
        f"  uwsgi_temp_path {d}/tmp/uwsgi;\n  scgi_temp_path {d}/tmp/scgi;\n"
        f'  server {{ listen {NGINX_IP}:80; location / {{ return 200 "operator nginx\\n"; }} }}\n}}\n'
    )
    return ["nginx", "-p", str(d), "-e", str(d / "error.log"), "-c", str(d / "nginx.conf")]


def _write_postfix(d: Path) -> list[str]:
    conf, queue, data = d / "etc", d / "queue", d / "data"
    for sub in (conf, queue, data):
        sub.mkdir(exist_ok=True)
    shutil.chown(data, user="postfix")
    data.chmod(0o700)
    (d / "maillog").touch()
    main = {
        "compatibility_level": "3.6",
        "queue_directory": queue,
        "data_directory": data,
        "maillog_file_prefixes": d,
        "maillog_file": d / "maillog",
        "inet_interfaces": "loopback-only",
        "inet_protocols": "ipv4",
        "myhostname": ZONE,
        "mydestination": "",
        "mynetworks": "127.0.0.255/32",
        "smtpd_relay_restrictions": "reject",
        "smtpd_recipient_restrictions": "reject",
        "default_transport": "error:none",
        "local_transport": "error:none",
        "alias_maps": "",
        "alias_database": "",
        "smtpd_banner": BANNER,
    }
    (conf / "main.cf").write_text("".join(f"{k} = {v}\n" for k, v in main.items()))
    (conf / "master.cf").write_text(f"{POSTFIX_IP}:25 inet n - n - - smtpd\n{POSTFIX_SERVICES}")
    return ["postfix", "-c", str(conf), "start"]


SERVICES = {  # name: (writer, pid file below DIR/<name>, probe of an address)
    "nsd": (_write_nsd, "nsd.pid", dns_answers),
    "unbound": (_write_unbound, "unbound.pid", dns_answers),
    "nginx": (_write_nginx, "nginx.pid", http_answers),
    "postfix": (_write_postfix, "queue/pid/master.pid", smtp_answers),
}
ADDRESS = {"nsd": NSD_IP, "unbound": UNBOUND_IP, "nginx": NGINX_IP, "postfix": POSTFIX_IP}


def _pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _alive(pid: int | None) -> bool:
    if pid is None or pid <= 1:
        return False
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def _answers_soon(probe: Callable[[str], bool], ip: str, seconds: float = 15) -> bool:
    end = time.monotonic() + seconds
    while True:
        if probe(ip):
            return True
        if time.monotonic() > end:
            return False
        time.sleep(0.3)


def start(base: Path) -> int:
    base.mkdir(mode=0o755, parents=True, exist_ok=True)
    base.chmod(0o755)
    state = {}
    for name, (writer, pidfile, probe) in SERVICES.items():
        if shutil.which(name) is None:
            print(f"foreign: {name} is not installed; not started")
            continue
        d = base / name
        d.mkdir(mode=0o755, exist_ok=True)
        env = {**os.environ, "MAIL_CONFIG": str(d / "etc")}
        proc = subprocess.run(writer(d), capture_output=True, text=True, env=env)
        if (
            proc.returncode
            or not _answers_soon(probe, ADDRESS[name])
            or not _alive(_pid(d / pidfile))
        ):
            print(f"foreign: {name} did not start: {(proc.stdout + proc.stderr).strip()}")
            return 1
        pid = _pid(d / pidfile)
        state[name] = [pid, ADDRESS[name]]
        print(f"foreign: {name} on {ADDRESS[name]}, pid {pid}, answers")
    (base / "state.json").write_text(json.dumps(state))
    return 0


def check(base: Path, quiet: bool = False) -> int:
    state = json.loads((base / "state.json").read_text())
    bad = 0
    for name, (pid, ip) in state.items():
        _, pidfile, probe = SERVICES[name]
        now = _pid(base / name / pidfile)
        ok = probe(ip) and now == pid and _alive(pid)
        bad += not ok
        verdict = "still answers" if ok else f"DISTURBED (pid now {now})"
        if not ok or not quiet:
            print(f"foreign: {name} on {ip} (pid {pid}) {verdict}")
    return 1 if bad else 0


def stop(base: Path) -> int:
    state = json.loads((base / "state.json").read_text()) if (base / "state.json").exists() else {}
    for name in state:
        pidfile = base / name / SERVICES[name][1]
        pid = _pid(pidfile)
        if pid is None or not _alive(pid):
            continue
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
        if str(base).encode() in cmd or (name == "postfix" and b"master" in cmd):
            os.kill(pid, signal.SIGTERM)
            for _ in range(50):
                if not _alive(pid):
                    break
                time.sleep(0.1)
    return 0


if __name__ == "__main__":
    if len(sys.argv) not in (3, 4) or sys.argv[1] not in ("start", "check", "check-quiet", "stop"):
        print(__doc__)
        raise SystemExit(2)
    folder = Path(sys.argv[2])
    if sys.argv[1] == "check-quiet":  # prints only what was disturbed
        raise SystemExit(check(folder, quiet=True))
    raise SystemExit({"start": start, "check": check, "stop": stop}[sys.argv[1]](folder))

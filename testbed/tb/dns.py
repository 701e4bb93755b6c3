"""DNS for the testbed: NSD serves DNSSEC-signed zones under `test.`, Unbound validates them.

Zone `test.` is signed (ldns) and is Unbound's trust anchor. `bogus.test` is delegated with a DS
that matches none of its keys (validation fails: SERVFAIL); `insecure.test` is delegated without
a DS (provably insecure).
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

NSD_IP, UNBOUND_IP = "127.0.10.1", "127.0.10.2"


def _keygen(folder: Path, zone: str) -> str:
    out = subprocess.run(
        ["ldns-keygen", "-a", "ECDSAP256SHA256", "-k", zone],
        cwd=folder,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return out  # basename K<zone>.+013+<tag>


def _sign(folder: Path, zonefile: str, key: str) -> None:
    subprocess.run(
        ["ldns-signzone", "-n", zonefile, key], cwd=folder, check=True, capture_output=True
    )


def _soa(zone: str) -> str:
    return (
        f"$TTL 300\n{zone}. IN SOA ns.test. hostmaster.test. 1 3600 600 86400 300\n"
        f"{zone}. IN NS ns.test.\n"
    )


def build(run: Path, domains: dict[str, Any]) -> dict[str, Any]:
    folder = run / "dns"
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("K*"):
        old.unlink()
    parent = [_soa("test"), f"ns.test. IN A {NSD_IP}\n"]
    children: dict[str, list[str]] = {}
    for name, spec in domains.items():
        if spec.get("absent"):
            continue
        zone = spec.get("zone")
        lines = children.setdefault(name, [_soa(name)]) if zone else parent
        if zone:
            parent.append(f"{name}. IN NS ns.test.\n")
        if spec.get("null_mx"):
            lines.append(f"{name}. IN MX 0 .\n")
        for pref, host in spec.get("mx", []):
            lines.append(f"{name}. IN MX {pref} {host}.\n")
        for host, ip in spec.get("hosts", {}).items():
            inside = bool(zone) and host.endswith("." + name)
            (lines if inside else parent).append(f"{host}. IN A {ip}\n")
        if "a" in spec:
            lines.append(f"{name}. IN A {spec['a']}\n")
        for key in ("txt", "txt2"):  # txt2: a second record at the same owner
            for owner, text in spec.get(key, {}).items():
                lines.append(f'{owner}. IN TXT "{text}"\n')
        if "hostile" in spec:
            lines.append(f"{name}. IN MX 10 mx.{name}.\nmx.{name}. IN A {spec['hostile']}\n")
    zones = ["test"]
    for child, lines in children.items():
        (folder / f"{child}.zone").write_text("".join(lines))
        zones.append(child)
        if domains[child]["zone"] == "bogus":
            signing = _keygen(folder, child)
            unrelated = _keygen(folder, child)  # its DS goes to the parent: it signs nothing
            _sign(folder, f"{child}.zone", signing)
            parent.append((folder / f"{unrelated}.ds").read_text())
    (folder / "test.zone").write_text("".join(parent))
    test_key = _keygen(folder, "test")
    _sign(folder, "test.zone", test_key)
    anchor = folder / "test.ds"
    anchor.write_text((folder / f"{test_key}.ds").read_text())
    files = {
        z: (f"{z}.zone.signed" if (folder / f"{z}.zone.signed").exists() else f"{z}.zone")
        for z in zones
    }
    nsd_zones = "".join(f"zone:\n  name: {z}\n  zonefile: {f}\n" for z, f in files.items())
    (folder / "nsd.conf").write_text(
        f'server:\n  ip-address: {NSD_IP}\n  port: 53\n  username: ""\n  zonesdir: {folder}\n'
        f'  pidfile: {folder}/nsd.pid\n  database: ""\n  zonelistfile: {folder}/zone.list\n'
        f'  xfrdfile: {folder}/xfrd.state\n  logfile: {folder}/nsd.log\n  chroot: ""\n'
        f"  do-ip6: no\nremote-control:\n  control-enable: no\n{nsd_zones}"
    )
    (folder / "unbound.conf").write_text(
        f'server:\n  interface: {UNBOUND_IP}\n  port: 53\n  username: ""\n  chroot: ""\n'
        f'  directory: "{folder}"\n  pidfile: "{folder}/unbound.pid"\n  logfile: "{folder}/unbound.log"\n'
        f"  use-syslog: no\n  do-ip6: no\n  do-not-query-localhost: no\n  access-control: 127.0.0.0/8 allow\n"
        f'  trust-anchor-file: "{anchor}"\n  module-config: "validator iterator"\n'
        f"  qname-minimisation: no\n  val-log-level: 2\n  harden-dnssec-stripped: yes\n"
        f'  local-zone: "test." nodefault\n  domain-insecure: "invalid."\n'
        f"remote-control:\n  control-enable: no\n"
        f'stub-zone:\n  name: "test."\n  stub-addr: {NSD_IP}\n'
    )
    return {"nsd_conf": str(folder / "nsd.conf"), "unbound_conf": str(folder / "unbound.conf")}

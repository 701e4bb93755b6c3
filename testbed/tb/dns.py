"""DNS for the testbed: NSD (127.0.10.1) serves zones under `test.`, Unbound (127.0.10.2) validates.

Zone `test.` is signed with ldns (NSEC3, 0 iterations) and its DS is Unbound's trust anchor.
A domain with `zone:` in scenarios.yaml is a delegated child zone of its own:
  signed    signed with its own key, DS in `test.`          -> secure (AD bit)
  insecure  unsigned, delegated without DS                  -> provably insecure (no AD)
  bogus     signed with one key, DS of another key in test. -> validation fails (SERVFAIL)
Every other domain's names live in `test.` itself. Each record goes to the deepest zone that
contains its owner name, so a host may live in another domain's zone.
"""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from tb import common, dkim

NSD_IP, UNBOUND_IP = "127.0.10.1", "127.0.10.2"  # testbed.py applies the address shift
TTL = 300


def _keygen(folder: Path, zone: str) -> str:
    out = subprocess.run(
        ["ldns-keygen", "-a", "ECDSAP256SHA256", "-k", zone],
        cwd=folder,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return out  # basename K<zone>.+013+<tag>


def _sign(folder: Path, zone: str, key: str) -> str:
    now = dt.datetime.now(dt.UTC)
    inception = (now - dt.timedelta(days=1)).strftime("%Y%m%d%H%M%S")
    expiration = (now + dt.timedelta(days=30)).strftime("%Y%m%d%H%M%S")
    subprocess.run(
        ["ldns-signzone", "-n", "-t", "0", "-i", inception, "-e", expiration, f"{zone}.zone", key],
        cwd=folder,
        check=True,
        capture_output=True,
    )
    return f"{zone}.zone.signed"


def _soa(zone: str) -> list[str]:
    return [
        f"$TTL {TTL}",
        f"{zone}. IN SOA ns.test. hostmaster.test. 1 3600 600 86400 {TTL}",
        f"{zone}. IN NS ns.test.",
    ]


def txt_rdata(value: str | list[str]) -> str:
    """A TXT rdata in presentation form: a list gives one string each; a longer text is split
    into strings of at most 255 bytes (RFC 7208 §3.3: receivers join them without separators)."""
    if isinstance(value, list):
        strings = value
    else:
        strings = [value[i : i + 255] for i in range(0, len(value), 255)] or [""]
    return " ".join('"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"' for s in strings)


def dkim_dir() -> Path:
    return common.RUN / "dns" / "dkim"


def records(
    domains: dict[str, Any], certs: dict[str, dict[str, str]]
) -> list[tuple[str, str, str]]:
    """(owner, type, rdata) of every scenario record; owners without the trailing dot."""
    out: list[tuple[str, str, str]] = []
    for name, spec in domains.items():
        if spec.get("absent"):
            continue
        if spec.get("null_mx"):
            out.append((name, "MX", "0 ."))
        for pref, host in spec.get("mx", []):
            out.append((name, "MX", f"{pref} {host}."))
        if "hostile" in spec:  # a fault server: one MX, mx.<domain>
            out += [(name, "MX", f"10 mx.{name}."), (f"mx.{name}", "A", spec["hostile"])]
        for host, ip in spec.get("hosts", {}).items():
            out.append((host, "A", ip))
        if "a" in spec:  # no MX: implicit MX (RFC 5321 5.1)
            out.append((name, "A", spec["a"]))
        for key in ("txt", "txt2"):  # txt2: a second record at the same owner
            for owner, text in spec.get(key, {}).items():
                out.append((owner, "TXT", txt_rdata(text)))
        for owner, target in spec.get("cname", {}).items():
            out.append((owner, "CNAME", f"{target.rstrip('.')}."))
        for selector, raw in spec.get("dkim", {}).items():  # keys made at `up` (tb/dkim.py)
            text = dkim.record(dkim_dir(), name, selector, raw)
            out.append((f"{selector}._domainkey.{name}", "TXT", txt_rdata(text)))
        for owner, records_ in spec.get("srv", {}).items():  # RFC 6186: owner _submission._tcp
            for prio, weight, port, target in records_:
                out.append(
                    (f"{owner}.{name}", "SRV", f"{prio} {weight} {port} {target.rstrip('.')}.")
                )
        if "sts" in spec:  # an MTA-STS policy host on the testbed's nginx (tb/nginx.py)
            if not spec["sts"].get("no_host"):
                out.append((f"mta-sts.{name}", "A", common.addr("127.0.10.3")))
            if f"_mta-sts.{name}" not in spec.get("txt", {}):
                out.append((f"_mta-sts.{name}", "TXT", '"v=STSv1; id=20261128T000000"'))
        for host, tokens in tlsa_spec(spec).items():  # DANE records at _25._tcp.<host>
            for token in tokens:
                out.append((f"_25._tcp.{host}", "TLSA", tlsa_rdata(token, certs[host])))
    return out


#: TLSA tokens of the scenarios: (usage, selector, matching type, which certificate).
TLSA_TOKENS = {
    "ee": (3, 1, 1, "leaf"),  # DANE-EE SPKI SHA2-256: the usual record
    "ee-sha512": (3, 1, 2, "leaf"),
    "ee-cert": (3, 0, 1, "leaf"),
    "ta": (2, 1, 1, "intermediate"),  # DANE-TA: the intermediate the server sends
    "ta-root": (2, 0, 1, "root"),  # DANE-TA of the root, which the server does not send
    "pkix-ee": (1, 1, 1, "leaf"),  # PKIX-EE: unusable for SMTP (RFC 7672 3.1.3)
    "wrong": (3, 1, 1, "none"),  # a digest of no key at all
}


def tlsa_spec(spec: dict[str, Any]) -> dict[str, list[str]]:
    """`tlsa: [host]` (one DANE-EE record each) or `tlsa: {host: [token, ...]}`."""
    raw = spec.get("tlsa", [])
    if isinstance(raw, list):
        return {host: ["ee"] for host in raw}
    return {host: list(tokens) for host, tokens in raw.items()}


def tlsa_rdata(token: str, cert_info: dict[str, str]) -> str:
    """The TLSA rdata of a token, computed from the certificate files the CA wrote."""
    if token not in TLSA_TOKENS:
        raise ValueError(f"unknown TLSA token {token!r}; known: {', '.join(TLSA_TOKENS)}")
    usage, selector, mtype, which = TLSA_TOKENS[token]
    if which == "none":
        return f"{usage} {selector} {mtype} {'ab' * 32}"
    path = {
        "leaf": Path(cert_info["cert"]),
        "intermediate": Path(cert_info["inter"] or cert_info["cert"]),
        "root": Path(cert_info["cert"]).parent / "ca.pem",
    }[which]
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    if selector == 1:
        content = cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    else:
        content = cert.public_bytes(Encoding.DER)
    digest = hashes.Hash(hashes.SHA256() if mtype == 1 else hashes.SHA512())
    digest.update(content)
    return f"{usage} {selector} {mtype} {digest.finalize().hex()}"


def _zone_of(owner: str, zones: list[str]) -> str:
    best = "test"
    for z in zones:
        if (owner == z or owner.endswith("." + z)) and len(z) > len(best):
            best = z
    return best


def delegation17(spec: dict[str, Any] | None) -> list[str]:
    """The insecure delegation (NS + glue, no DS) of the hostile DNS server's zone (issue 17):
    Unbound reaches it by ordinary iteration, as it would reach any unsigned zone."""
    if not spec:
        return []
    zone = spec["zone"].rstrip(".")
    return [f"{zone}. IN NS ns.{zone}.", f"ns.{zone}. IN A {spec['ip']}"]


def build(
    run: Path,
    domains: dict[str, Any],
    certs: dict[str, dict[str, str]],
    hostile_dns: dict[str, Any] | None = None,
) -> dict[str, str]:
    folder = run / "dns"
    folder.mkdir(parents=True, exist_ok=True)
    for old in {*folder.glob("K*"), *folder.glob("*.zone*"), *folder.glob("*.ds")}:
        old.unlink(missing_ok=True)
    for old in dkim_dir().glob("*.pem"):  # new DKIM keys at every `up`
        old.unlink()
    children = {name: spec["zone"] for name, spec in domains.items() if spec.get("zone")}
    for child, kind in children.items():
        if kind not in ("signed", "insecure", "bogus"):
            raise ValueError(f"{child}: zone must be signed, insecure or bogus, not {kind!r}")
    lines: dict[str, list[str]] = {"test": [*_soa("test"), f"ns.test. IN A {NSD_IP}"]}
    lines["test"] += delegation17(hostile_dns)
    for child in children:
        lines[child] = _soa(child)
        lines["test"].append(f"{child}. IN NS ns.test.")
    for owner, rtype, rdata in records(domains, certs):
        lines[_zone_of(owner, list(children))].append(f"{owner}. IN {rtype} {rdata}")
    files = {}
    for child, kind in children.items():
        (folder / f"{child}.zone").write_text("\n".join(lines[child]) + "\n")
        files[child] = f"{child}.zone"
        if kind == "insecure":
            continue
        key = _keygen(folder, child)
        files[child] = _sign(folder, child, key)
        # bogus: the parent's DS is that of a second key, which signs nothing
        ds_key = _keygen(folder, child) if kind == "bogus" else key
        lines["test"].append((folder / f"{ds_key}.ds").read_text().strip())
    (folder / "test.zone").write_text("\n".join(lines["test"]) + "\n")
    test_key = _keygen(folder, "test")
    files = {"test": _sign(folder, "test", test_key), **files}
    anchor = folder / "test.ds"
    anchor.write_text((folder / f"{test_key}.ds").read_text())
    zones = "".join(f"zone:\n  name: {z}.\n  zonefile: {f}\n" for z, f in files.items())
    (folder / "nsd.conf").write_text(
        "server:\n"
        f"  ip-address: {NSD_IP}\n  port: 53\n  do-ip4: yes\n  do-ip6: no\n"
        f'  username: ""\n  chroot: ""\n  zonesdir: "{folder}"\n'
        f'  pidfile: "{folder}/nsd.pid"\n  database: ""\n  zonelistfile: "{folder}/zone.list"\n'
        f'  xfrdfile: "{folder}/xfrd.state"\n  logfile: "{folder}/nsd.log"\n'
        "  hide-version: yes\n  verbosity: 1\n"
        f"remote-control:\n  control-enable: no\n{zones}"
    )
    (folder / "unbound.conf").write_text(
        "server:\n"
        f"  interface: {UNBOUND_IP}\n  port: 53\n  outgoing-interface: {UNBOUND_IP}\n"
        "  interface-automatic: no\n  do-ip4: yes\n  do-ip6: no\n  do-udp: yes\n  do-tcp: yes\n"
        f'  username: ""\n  chroot: ""\n  directory: "{folder}"\n'
        f'  pidfile: "{folder}/unbound.pid"\n  logfile: "{folder}/unbound.log"\n  use-syslog: no\n'
        "  verbosity: 1\n  val-log-level: 2\n  log-servfail: yes\n"
        "  access-control: 127.0.0.0/8 allow\n  do-not-query-localhost: no\n"
        f'  trust-anchor-file: "{anchor}"\n  module-config: "validator iterator"\n'
        "  harden-dnssec-stripped: yes\n  qname-minimisation: no\n  aggressive-nsec: no\n"
        '  local-zone: "test." nodefault\n'  # Unbound serves test. itself (RFC 6761) by default
        "remote-control:\n  control-enable: no\n"
        f'stub-zone:\n  name: "test."\n  stub-addr: {NSD_IP}\n'
    )
    return {"nsd_conf": str(folder / "nsd.conf"), "unbound_conf": str(folder / "unbound.conf")}

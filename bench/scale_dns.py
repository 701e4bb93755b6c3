"""The scale benchmark's own DNS: one generated zone ``scale18.``, signed with ldns, served by an
NSD and a validating Unbound of the benchmark's own (see bench/bench_scale.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

NSD, UNBOUND = "127.0.18.101", "127.0.18.102"
ZONE = "scale18"
# Healthy testbed Postfix listeners (testbed/scenarios.yaml, all with the hardened settings of
# good-mx1): the five of the ring layout first.
ADDRESSES = [
    "127.0.11.1", "127.0.11.2", "127.0.11.3", "127.0.11.8", "127.0.18.10",  # good-mx1/2, twomx, dane, hosting18
    "127.0.11.5", "127.0.11.30", "127.0.11.31", "127.0.11.32", "127.0.11.33", "127.0.11.34",
    "127.0.11.35",  # implicit, danebad, daneusage, daneinsecure, danesha512, danetaroot, stswild
]  # fmt: skip
LAYOUTS = ("groups", "ring")
RING = 5


def address_count(layout: str, shards: int = 0) -> int:
    """The ring's five addresses; for groups, the most groups (at most twelve) that N shards
    divide evenly (10 for 10 shards, 12 for 3), else twelve."""
    if layout == "ring":
        return RING
    fits = [g for g in range(1, len(ADDRESSES) + 1) if shards and g % shards == 0]
    return max(fits, default=len(ADDRESSES))


def zone_lines(domains: int, layout: str, nsd: str = NSD, count: int = RING) -> list[str]:
    lines = [
        "$TTL 300",
        f"{ZONE}. IN SOA ns.{ZONE}. hostmaster.{ZONE}. 1 3600 600 86400 300",
        f"{ZONE}. IN NS ns.{ZONE}.",
        f"ns.{ZONE}. IN A {nsd}",
    ]
    lines += [f"mx{k}.{ZONE}. IN A {ip}" for k, ip in enumerate(ADDRESSES[:count])]
    if layout == "groups":
        lines += [f"mx{k}b.{ZONE}. IN A {ip}" for k, ip in enumerate(ADDRESSES[:count])]
    for i in range(domains):
        d = f"d{i:05d}.{ZONE}."
        first, second = (
            (f"mx{i % count}", f"mx{(i + 1) % count}")
            if layout == "ring"
            else (f"mx{i % count}", f"mx{i % count}b")
        )
        lines += [f"{d} IN MX 10 {first}.{ZONE}.", f"{d} IN MX 20 {second}.{ZONE}."]
        if i % 3 == 0:
            lines.append(f'_smtp._tls.{d} IN TXT "v=TLSRPTv1; rua=mailto:tlsrpt@{d[:-1]}"')
    return lines


class Dns:
    """The benchmark's own NSD and validating Unbound, stopped only by their PID files.

    NSD's response rate limiting is off (``rrl-ratelimit: 0``): every generated domain is a name
    in the one zone ``scale18.``, so all their NXDOMAIN answers (``_dmarc.<domain>``) and all
    their NODATA answers (SPF's TXT at the domain) fall in one RRL bucket per type, limited to
    200 a second by default. Past that NSD drops or truncates answers, and Unbound answers
    SERVFAIL ("all the configured stub or forward servers failed ... upstream server timeout"):
    error rows that real domains, each in a zone of its own, would not get. NSD logs rate-limit
    blocks (verbosity 2) and Unbound the cause of every SERVFAIL, so the figures say if either
    happens (:func:`dns_trouble`).
    """

    def __init__(
        self,
        folder: Path,
        domains: int,
        layout: str,
        nsd: str = NSD,
        unbound: str = UNBOUND,
        rrl_ratelimit: int = 0,
        rrl_slip: int = 2,  # NSD's default: every 2nd rate-limited answer truncated, not dropped
        addresses: int = RING,
    ) -> None:
        self.folder, self.unbound = folder, unbound
        self.log, self.nsd_log = folder / "unbound.log", folder / "nsd.log"
        (folder / f"{ZONE}.zone").write_text(
            "\n".join(zone_lines(domains, layout, nsd, addresses)) + "\n"
        )
        key = subprocess.run(
            ["ldns-keygen", "-a", "ECDSAP256SHA256", "-k", ZONE],
            cwd=folder, check=True, capture_output=True, text=True,
        ).stdout.strip()  # fmt: skip
        subprocess.run(
            ["ldns-signzone", "-n", "-t", "0", f"{ZONE}.zone", key],
            cwd=folder, check=True, capture_output=True,
        )  # fmt: skip
        (folder / "anchor.ds").write_text((folder / f"{key}.ds").read_text())
        (folder / "nsd.conf").write_text(
            f'server:\n  ip-address: {nsd}\n  port: 53\n  do-ip6: no\n  username: ""\n'
            f'  chroot: ""\n  zonesdir: "{folder}"\n  pidfile: "{folder}/nsd.pid"\n'
            f'  database: ""\n  zonelistfile: "{folder}/zone.list"\n'
            f'  xfrdfile: "{folder}/xfrd.state"\n  logfile: "{self.nsd_log}"\n  verbosity: 2\n'
            f"  rrl-ratelimit: {rrl_ratelimit}\n  rrl-whitelist-ratelimit: {rrl_ratelimit}\n"
            f"  rrl-slip: {rrl_slip}\n"
            f"remote-control:\n  control-enable: no\n"
            f"zone:\n  name: {ZONE}.\n  zonefile: {ZONE}.zone.signed\n"
        )
        (folder / "unbound.conf").write_text(
            f"server:\n  interface: {unbound}\n  port: 53\n  outgoing-interface: {unbound}\n"
            "  interface-automatic: no\n  do-ip6: no\n"
            f'  username: ""\n  chroot: ""\n  directory: "{folder}"\n'
            f'  pidfile: "{folder}/unbound.pid"\n  logfile: "{self.log}"\n  log-queries: yes\n'
            "  log-servfail: yes\n  use-syslog: no\n  access-control: 127.0.0.0/8 allow\n"
            f'  do-not-query-localhost: no\n  trust-anchor-file: "{folder}/anchor.ds"\n'
            '  module-config: "validator iterator"\n'
            "  qname-minimisation: no\n  msg-cache-size: 64m\n  rrset-cache-size: 128m\n"
            "remote-control:\n  control-enable: no\n"
            f'stub-zone:\n  name: "{ZONE}."\n  stub-addr: {nsd}\n'
        )
        subprocess.run(["nsd", "-c", str(folder / "nsd.conf")], check=True)
        self.start_unbound()

    def start_unbound(self) -> None:
        subprocess.run(["unbound", "-c", str(self.folder / "unbound.conf")], check=True)
        time.sleep(1.0)

    def restart_unbound(self) -> None:
        """An empty cache: stop our Unbound (by its PID file), wait for it, start it again."""
        pid = _stop(self.folder / "unbound.pid")
        while pid is not None and _alive(pid):
            time.sleep(0.05)
        self.start_unbound()

    def log_size(self) -> int:
        return self.log.stat().st_size if self.log.exists() else 0

    def offsets(self) -> tuple[int, int]:
        """Where the NSD and Unbound logs end now (for :func:`dns_trouble`)."""
        return (self.nsd_log.stat().st_size if self.nsd_log.exists() else 0), self.log_size()

    def stop(self) -> None:
        """Stop our NSD and Unbound (by their PID files) and wait until they are gone: they
        write their last log lines into the folder, which is then removed."""
        pids = [_stop(self.folder / name) for name in ("nsd.pid", "unbound.pid")]
        deadline = time.monotonic() + 10
        while any(p is not None and _alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.05)


def dns_trouble(dns: Dns, since: tuple[int, int]) -> str | None:
    """NSD's rate-limit blocks and Unbound's SERVFAILs (with the first cause) since the offsets
    ``since`` = (NSD log, Unbound log); None when there were none."""
    blocks = _lines(dns.nsd_log, since[0], "ratelimit block")
    servfails = _lines(dns.log, since[1], "error: SERVFAIL <")
    if not blocks and not servfails:
        return None
    first = servfails[0].split("error: ", 1)[1] if servfails else ""
    return f"{len(blocks)} NSD rate-limit blocks, {len(servfails)} SERVFAIL from Unbound" + (
        f" (first: {first})" if first else ""
    )


def _lines(path: Path, since: int, needle: str) -> list[str]:
    if not path.exists():
        return []
    with path.open("rb") as fh:
        fh.seek(since)
        return [x.strip() for x in fh.read().decode("utf-8", "replace").splitlines() if needle in x]


def _stop(pidfile: Path) -> int | None:
    if not pidfile.exists():
        return None
    pid = int(pidfile.read_text().split()[0])
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return None
    return pid


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True

"""Stock mail servers from their Debian packages (issue 12): Exim 4.96 (GnuTLS) and OpenSMTPD,
each on its own 127.0.15.x:25, run from the testbed's runtime folder with a config of our own.

They conflict with the postfix package (both provide mail-transport-agent), so they are never
installed: `apt-get download` puts the .deb files in a cache (CACHE, kept across runs so that a
repeated `up` is fast) and `dpkg -x` unpacks them below <run>/stock/root. Each server starts in
a private mount namespace (`unshare --mount --propagation private`) in which our own passwd and
group files (with the users the binaries insist on: Debian-exim, opensmtpd, opensmtpq, all mapped
to nobody) and, for OpenSMTPD, our own /var (its spool and chroot paths are compiled in) are
bind-mounted: nothing on the machine changes, and the mounts vanish with the process.

Stock means stock TLS: no cipher, protocol or group settings, only the certificate, the address
and "never accept mail". Every connection is logged, so tests can count them per address:
Exim in <run>/stock/<name>/log/mainlog ("SMTP connection from"), OpenSMTPD in
<run>/stock/<name>/smtpd.log ("smtp connected"). Stopped by the pid files they leave.
"""

from __future__ import annotations

import glob
import os
import shlex
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from tb.common import RUN, alive, read_pid, stop_pid

CACHE = Path(os.environ.get("MAILTLS_DEB_CACHE", "/var/cache/mailtls-testbed/debs"))
PACKAGES = {
    "exim": ("exim4-base", "exim4-daemon-light", "libidn12"),
    "opensmtpd": ("opensmtpd",),
}
BINARY = {"exim": "usr/sbin/exim4", "opensmtpd": "usr/sbin/smtpd"}
NOBODY = 65534
EXTRA_USERS = ("Debian-exim", "opensmtpd", "opensmtpq", "_smtpd", "_smtpq")
EXTRA_GROUPS = ("Debian-exim", "opensmtpq")

EXIM_CONF = """\
# mailtls testbed: Exim with its compiled-in (GnuTLS) TLS defaults; accepts no mail.
keep_environment =
exim_user = nobody
exim_group = nogroup
primary_hostname = {host}
smtp_banner = $primary_hostname ESMTP Exim $version_number (mailtls testbed)
spool_directory = {dir}/spool
log_file_path = {dir}/log/%slog
pid_file_path = {dir}/exim.pid
local_interfaces = <; {ip}.25
daemon_smtp_ports = 25
log_selector = +smtp_connection +tls_cipher +tls_peerdn
tls_advertise_hosts = *
tls_certificate = {dir}/chain.pem
tls_privatekey = {dir}/key.pem
acl_smtp_mail = acl_reject
acl_smtp_rcpt = acl_reject
begin acl
acl_reject:
  deny message = the mailtls testbed accepts no mail
begin routers
begin transports
"""

SMTPD_CONF = """\
# mailtls testbed: OpenSMTPD with its default TLS settings; accepts no mail.
pki {host} cert "{dir}/chain.pem"
pki {host} key "{dir}/key.pem"
listen on {ip} port 25 tls pki {host} hostname {host}
action "nowhere" relay host smtp://127.0.0.1:9
match from any for any reject
"""


def log_file(item: dict[str, Any]) -> Path:
    """Where the server logs each connection (for counting them per address)."""
    folder = RUN / "stock" / item["name"]
    return folder / "log" / "mainlog" if item["server"] == "exim" else folder / "smtpd.log"


def root() -> Path:
    return RUN / "stock" / "root"


def binary(server: str) -> Path:
    return root() / BINARY[server]


def _debs(package: str) -> list[str]:
    return sorted(glob.glob(str(CACHE / f"{package}_*.deb")))


def fetch(servers: set[str]) -> list[str]:
    """Download (once) and unpack the packages of `servers`; returns what could not be had."""
    CACHE.mkdir(parents=True, exist_ok=True)
    missing = []
    for server in sorted(servers):
        for package in PACKAGES[server]:
            if not _debs(package):
                subprocess.run(
                    ["apt-get", "download", "-q", package], cwd=CACHE, capture_output=True
                )
            debs = _debs(package)
            if not debs:
                missing.append(f"{package} (apt-get download failed)")
                continue
            stamp = root() / ".unpacked" / Path(debs[-1]).name
            if not stamp.exists():
                root().mkdir(parents=True, exist_ok=True)
                subprocess.run(["dpkg", "-x", debs[-1], str(root())], check=True)
                stamp.parent.mkdir(parents=True, exist_ok=True)
                stamp.touch()
        if not binary(server).exists():
            missing.append(f"{server}: {binary(server)}")
    return missing


def _identity(folder: Path) -> tuple[Path, Path]:
    """passwd and group files: the machine's, plus the users the stock binaries look up."""
    passwd, group = folder / "passwd", folder / "group"
    users = Path("/etc/passwd").read_text().splitlines()
    groups = Path("/etc/group").read_text().splitlines()
    users += [f"{u}:x:{NOBODY}:{NOBODY}:mailtls testbed:/nonexistent:/usr/sbin/nologin"
              for u in EXTRA_USERS]  # fmt: skip
    groups += [f"{g}:x:{NOBODY}:" for g in EXTRA_GROUPS]
    passwd.write_text("\n".join(users) + "\n")
    group.write_text("\n".join(groups) + "\n")
    return passwd, group


def _in_namespace(
    binds: list[tuple[Path, str]], argv: list[str], setup: tuple[str, ...] = ()
) -> list[str]:
    """argv run in a private mount namespace with `binds` (our file -> the path it hides) and
    the `setup` commands (run there, before argv)."""
    steps = [f"mount --bind {shlex.quote(str(a))} {b}" for a, b in binds] + list(setup)
    script = f"{' && '.join(steps)} && exec {' '.join(shlex.quote(x) for x in argv)}"
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script]


def _env() -> dict[str, str]:
    libs = ":".join(glob.glob(str(root() / "usr" / "lib" / "*-linux-gnu")))
    return {**os.environ, "LD_LIBRARY_PATH": libs}


def _copy_cert(cert: dict[str, str], folder: Path, owner: int) -> None:
    shutil.copyfile(cert["chain"], folder / "chain.pem")
    shutil.copyfile(cert["key"], folder / "key.pem")
    for name in ("chain.pem", "key.pem"):
        os.chown(folder / name, owner, owner if owner else 0)
    (folder / "key.pem").chmod(0o600)
    (folder / "chain.pem").chmod(0o644)


def start_exim(item: dict[str, Any], cert: dict[str, str], ident: tuple[Path, Path]) -> str:
    """Exim as packaged; `options` (main configuration settings) only where a scenario says."""
    folder = RUN / "stock" / item["name"]
    for sub in ("spool", "log"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
        os.chown(folder / sub, NOBODY, NOBODY)
    folder.chmod(0o755)
    _copy_cert(cert, folder, NOBODY)  # Exim reads the key after dropping to exim_user
    conf = folder / "exim.conf"
    extra = "".join(f"{k} = {v}\n" for k, v in item.get("options", {}).items())
    text = EXIM_CONF.format(host=item["cert"], dir=folder, ip=item["ip"])
    conf.write_text(text.replace("begin acl\n", extra + "begin acl\n", 1))
    argv = [str(binary("exim")), "-C", str(conf), "-bd"]
    binds = [(ident[0], "/etc/passwd"), (ident[1], "/etc/group")]
    subprocess.run(_in_namespace(binds, argv), check=True, env=_env(), capture_output=True)
    return f"exim, pid file {folder / 'exim.pid'}"


def start_opensmtpd(item: dict[str, Any], cert: dict[str, str], ident: tuple[Path, Path]) -> str:
    folder = RUN / "stock" / item["name"]
    folder.mkdir(parents=True, exist_ok=True)
    _copy_cert(cert, folder, 0)
    conf = folder / "smtpd.conf"
    conf.write_text(SMTPD_CONF.format(host=item["cert"], dir=folder, ip=item["ip"]))
    argv = [str(binary("opensmtpd")), "-d", "-v", "-f", str(conf)]
    binds = [(ident[0], "/etc/passwd"), (ident[1], "/etc/group")]
    # Its compiled-in paths (spool, chroot, control socket under /var/run = /run) get empty
    # tmpfs mounts of their own, seen only by this process tree.
    setup = (
        "mount -t tmpfs mailtls /var/spool",
        "mkdir -m 711 /var/spool/smtpd",
        "mount -t tmpfs mailtls /var/lib",
        "mkdir -p /var/lib/opensmtpd/empty",
        "mount -t tmpfs mailtls /run",
    )
    with open(folder / "smtpd.log", "ab") as log:
        proc = subprocess.Popen(
            _in_namespace(binds, argv, setup), stdout=log, stderr=log, start_new_session=True,
            env=_env(), cwd=folder,
        )  # fmt: skip
    (folder / "smtpd.pid").write_text(f"{proc.pid}\n")
    return f"opensmtpd pid {proc.pid}"


def start(items: list[dict[str, Any]], certs: dict[str, dict[str, str]]) -> dict[str, str]:
    """Start every stock server of the scenarios; raises RuntimeError naming what is missing
    when a binary cannot be had (CI=true), else skips that server and says so."""
    if not items:
        return {}
    missing = fetch({item["server"] for item in items})
    if missing:
        text = "stock servers unavailable: " + "; ".join(missing)
        if os.environ.get("CI") == "true":
            raise RuntimeError(text)
        print(f"testbed: {text} (skipped; in CI this is a failure)")
    ident = _identity(RUN / "stock")
    started = {}
    for item in items:
        if not binary(item["server"]).exists():
            started[item["name"]] = "not started (package unavailable)"
            continue
        runner = start_exim if item["server"] == "exim" else start_opensmtpd
        started[item["name"]] = runner(item, certs[item["cert"]], ident)
    return started


def pidfiles() -> list[tuple[str, Path, str]]:
    """(what, pid file, text its command line must contain) for `down`: every stock server
    folder this runtime folder holds (exim.pid written by Exim, smtpd.pid by us)."""
    found = []
    for name in ("exim.pid", "smtpd.pid"):
        for pidfile in sorted((RUN / "stock").glob(f"*/{name}")):
            found.append((pidfile.parent.name, pidfile, str(pidfile.parent)))
    return found


def stop() -> list[str]:
    done = []
    for what, pidfile, marker in pidfiles():
        result = stop_pid(pidfile, marker)
        if result:
            done.append(f"{what} {result}")
    return done


def running(pidfile: Path) -> bool:
    return alive(read_pid(pidfile))


def wait_pidfile(path: Path, seconds: float = 10) -> bool:
    end = time.monotonic() + seconds
    while not path.exists() and time.monotonic() < end:
        time.sleep(0.1)
    return path.exists()

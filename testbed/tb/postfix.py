"""A Postfix instance of the testbed's own: one smtpd listener per scenario on <ip>:25, and the
message-submission listeners on <ip>:587 / <ip>:465 (127.0.13.x).

Submission listeners with `sasl: true` advertise AUTH PLAIN LOGIN through Cyrus SASL
(libsasl2-modules; `smtpd_sasl_type = cyrus`, config in <conf>/sasl/smtpd.conf). Nobody ever
authenticates: the password database is an empty sasldb file, so every login would fail.

It never relays or delivers: no destinations, no relay domains, no trusted networks, every
recipient is rejected and every transport is `error:`. Configuration, queue and data live in
<run>/postfix/{etc,queue,data}; the log is <run>/postfix/maillog (allowed via maillog_file_prefixes). Each listener
logs under its own syslog name, postfix/<listener name>, so connections can be counted per listener:
    grep -c 'postfix/good-mx1/smtpd\\[[0-9]*\\]: connect from' <run>/postfix/maillog
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

SERVICES = """\
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       error
virtual   unix  -       n       n       -       -       error
lmtp      unix  -       -       n       -       -       error
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""

# Defaults of every listener; a listener's `options:` in scenarios.yaml override them.
LISTENER_DEFAULTS = {
    "smtpd_tls_security_level": "may",
    # Deterministic whatever the system OpenSSL policy says: TLS 1.2 and 1.3 only.
    "smtpd_tls_protocols": ">=TLSv1.2",
    "smtpd_tls_mandatory_protocols": ">=TLSv1.2",
}


# OpenSSL settings for listeners with `legacy_openssl: true` (tls_config_file, Postfix >= 3.2):
# security level 0 so that RSA-1024 keys, SHA-1 certificates and TLS 1.0/1.1 can be served at all
# (Debian's OpenSSL refuses them at its default level 2, even before Postfix's own settings).
LEGACY_OPENSSL = """\
mailtls_legacy = mailtls_legacy_init
[mailtls_legacy_init]
ssl_conf = mailtls_legacy_ssl
[mailtls_legacy_ssl]
system_default = mailtls_legacy_tls
[mailtls_legacy_tls]
MinProtocol = TLSv1
CipherString = DEFAULT@SECLEVEL=0
"""


# The default OpenSSL settings for every other listener: TLS 1.3 limited to the SP 800-52r2
# suites (AES-GCM); Postfix has no parameter of its own for TLS 1.3 suites.
MODERN_OPENSSL = """\
mailtls_modern = mailtls_modern_init
[mailtls_modern_init]
ssl_conf = mailtls_modern_ssl
[mailtls_modern_ssl]
system_default = mailtls_modern_tls
[mailtls_modern_tls]
Ciphersuites = TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256
"""


# Listeners with `chacha_first: true`: ChaCha20-Poly1305 first in the server's own order, in
# TLS 1.3 as well (Postfix has no parameter for TLS 1.3 suites), the server's order preferred.
CHACHA_OPENSSL = """\
mailtls_chacha = mailtls_chacha_init
[mailtls_chacha_init]
ssl_conf = mailtls_chacha_ssl
[mailtls_chacha_ssl]
system_default = mailtls_chacha_tls
[mailtls_chacha_tls]
Ciphersuites = TLS_CHACHA20_POLY1305_SHA256:TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256
Options = ServerPreference
"""


# Cyrus SASL for the submission listeners: PLAIN and LOGIN against an (empty) sasldb, enough for
# Postfix to advertise AUTH; mailtls never authenticates.
SASL_SMTPD_CONF = """\
pwcheck_method: auxprop
auxprop_plugin: sasldb
mech_list: PLAIN LOGIN
sasldb_path: {sasldb}
"""


def conf_dir(run: Path) -> Path:
    """Only main.cf, master.cf and the OpenSSL file: `postfix check` wants everything below the
    config directory owned by root, so the queue and data directories are its siblings."""
    return run / "postfix" / "etc"


def log_file(run: Path) -> Path:
    return run / "postfix" / "maillog"


def _listener_line(item: dict[str, Any], certs: dict[str, dict[str, str]], conf: Path) -> str:
    """One master.cf smtpd line: <ip>:<port> with the listener's -o overrides."""
    c = certs[item["cert"]]
    files = [c["key"], c["cert"]] + ([c["inter"]] if c["inter"] else [])
    opts = {
        "syslog_name": f"postfix/{item['name']}",
        "myhostname": item["cert"],
        "smtpd_tls_chain_files": ",".join(files),
        **LISTENER_DEFAULTS,
    }
    if item.get("legacy_openssl"):
        opts["tls_config_file"] = str(conf / "openssl-legacy.cnf")
        opts["tls_config_name"] = "mailtls_legacy"
        opts["tls_medium_cipherlist"] = "aNULL:-aNULL:HIGH:MEDIUM:@STRENGTH:@SECLEVEL=0"
    if item.get("chacha_first"):
        opts["tls_config_file"] = str(conf / "openssl-chacha.cnf")
        opts["tls_config_name"] = "mailtls_chacha"
    if item.get("sasl"):
        opts["smtpd_sasl_auth_enable"] = "yes"
    opts.update({k: str(v) for k, v in item.get("options", {}).items()})
    for k, v in opts.items():
        if " " in v or ("," in v and k != "smtpd_tls_chain_files"):
            raise ValueError(f"{item['name']}: -o {k}={v}: no spaces or commas in overrides")
    flags = " ".join(f"-o {k}={v}" for k, v in opts.items())
    return f"{item['ip']}:{item.get('port', 25)} inet n - n - - smtpd {flags}\n"


def build(
    run: Path,
    listeners: list[dict[str, Any]],
    certs: dict[str, dict[str, str]],
    submission: list[dict[str, Any]] | None = None,
) -> Path:
    """main.cf and master.cf: the MX listeners (<ip>:25) and the submission listeners
    (<ip>:587 and <ip>:465, each entry with its own `port`)."""
    conf = conf_dir(run)
    queue, data = run / "postfix" / "queue", run / "postfix" / "data"
    for sub in (conf, queue, data):
        sub.mkdir(parents=True, exist_ok=True)
    # Postfix insists: queue_directory owned by root, data_directory by the mail owner.
    shutil.chown(queue, user="root", group="root")
    queue.chmod(0o755)
    shutil.chown(data, user="postfix")
    data.chmod(0o700)
    log_file(run).touch()
    main = {
        "compatibility_level": "3.6",
        "queue_directory": str(queue),
        "data_directory": str(data),
        "maillog_file_prefixes": f"/var, /dev/stdout, {run}",
        "maillog_file": str(log_file(run)),
        # Every inet service in master.cf names its own 127.0.11.x address, so nothing binds
        # all interfaces. (A list of 127.0.11.x here is refused: Postfix wants addresses that are
        # configured on an interface, and lo only has 127.0.0.1/8.)
        "inet_interfaces": "loopback-only",
        "inet_protocols": "ipv4",
        "myhostname": "mx.testbed.test",
        "mydomain": "testbed.test",
        "myorigin": "$myhostname",
        "mydestination": "",
        "relay_domains": "",
        "relay_recipient_maps": "",
        "mynetworks": "127.0.0.255/32",
        "smtpd_relay_restrictions": "reject",
        "smtpd_recipient_restrictions": "reject",
        "smtpd_client_restrictions": "",
        "local_transport": "error:no local delivery in the testbed",
        "default_transport": "error:no delivery in the testbed",
        "relay_transport": "error:no relay in the testbed",
        "virtual_transport": "error:no delivery in the testbed",
        "alias_maps": "",
        "alias_database": "",
        "local_recipient_maps": "",
        "biff": "no",
        "disable_vrfy_command": "yes",
        "smtpd_banner": "$myhostname ESMTP mailtls testbed",
        "smtpd_tls_loglevel": "1",
        # A hardened server, as the guidance asks: no anonymous, NULL or broken suites, no static
        # RSA, only SP 800-52r2 suites in TLS 1.2 (Postfix's stock settings accept anonymous DH:
        # the `pfdefault` listener keeps them, to show it), and no ChaCha20 in TLS 1.3 either.
        "smtpd_tls_exclude_ciphers": "aNULL, eNULL, EXPORT, DES, 3DES, RC4, RC2, IDEA, MD5, "
        "kRSA, kDHr, kDHd, kECDHr, kECDHe, CAMELLIA, ARIA, SEED, CHACHA20, PSK, SRP, DSS",
        "tls_config_file": str(conf / "openssl-modern.cnf"),
        "tls_config_name": "mailtls_modern",
        "smtpd_tls_session_cache_database": "",
        "smtp_tls_session_cache_database": "",
        # Submission listeners with `sasl: true` switch smtpd_sasl_auth_enable on (-o).
        "smtpd_sasl_type": "cyrus",
        "smtpd_sasl_path": "smtpd",
        "cyrus_sasl_config_path": str(conf / "sasl"),
    }
    (conf / "main.cf").write_text("".join(f"{k} = {v}\n" for k, v in main.items()))
    (conf / "openssl-legacy.cnf").write_text(LEGACY_OPENSSL)
    (conf / "openssl-modern.cnf").write_text(MODERN_OPENSSL)
    (conf / "openssl-chacha.cnf").write_text(CHACHA_OPENSSL)
    (conf / "sasl").mkdir(exist_ok=True)
    sasldb = run / "postfix" / "sasldb2"
    sasldb.touch()
    (conf / "sasl" / "smtpd.conf").write_text(SASL_SMTPD_CONF.format(sasldb=sasldb))
    lines = [_listener_line(item, certs, conf) for item in [*listeners, *(submission or [])]]
    (conf / "master.cf").write_text("".join(lines) + SERVICES)
    return conf


def tool_env(conf: Path) -> dict[str, str]:
    """The environment for any Postfix tool (posttls-finger, postconf, postmap, postfix): the
    testbed's config directory as MAIL_CONFIG, so nothing reads /etc/postfix (which may hold the
    operator's own configuration, or no main.cf at all)."""
    return {**os.environ, "MAIL_CONFIG": str(conf)}


def check(conf: Path) -> str:
    """`postfix check`; returns its complaints (empty when clean)."""
    return _postfix(conf, "check")


def _postfix(conf: Path, command: str) -> str:
    """Run `postfix -c conf <command>`; returns its complaints. Postfix writes its messages to
    stderr only when that is a terminal (else to syslog, which may not exist): on failure the
    command is repeated under `script` to show why."""
    args = ["postfix", "-c", str(conf), command]
    proc = subprocess.run(args, capture_output=True, text=True, env=tool_env(conf))
    out = (proc.stdout + proc.stderr).strip()
    if proc.returncode:
        if shutil.which("script"):
            again = subprocess.run(
                ["script", "-qec", " ".join(args), "/dev/null"],
                capture_output=True,
                text=True,
                env=tool_env(conf),
            )
            out = (again.stdout + again.stderr).strip() or out
        raise RuntimeError(f"postfix {command} failed: {out}")
    return out


def start(conf: Path) -> str:
    return _postfix(conf, "start")


def master_pid(conf: Path) -> Path:
    return conf.parent / "queue" / "pid" / "master.pid"

"""A Postfix instance of the testbed's own: one smtpd listener per scenario on <ip>:25.

It never relays or delivers: no destinations, no relay domains, no trusted networks, and every
recipient is rejected. Its log goes to a file; each listener logs under its own syslog name
(postfix/<scenario>) so connections can be counted per listener.
"""

from __future__ import annotations

import shutil
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
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


# Postfix accepts a log file only under its default maillog_file_prefixes (/var, /dev/stdout).
LOG = Path("/var/log/mailtls-testbed/maillog")


def build(run: Path, listeners: list[dict[str, Any]], certs: dict[str, dict[str, str]]) -> Path:
    conf = run / "postfix"
    LOG.parent.mkdir(parents=True, exist_ok=True)
    for sub in ("queue", "data"):
        (conf / sub).mkdir(parents=True, exist_ok=True)
    shutil.chown(conf / "data", user="postfix")  # master.lock is written by the postfix user
    main = {
        "compatibility_level": "3.6",
        "queue_directory": str(conf / "queue"),
        "data_directory": str(conf / "data"),
        "maillog_file": str(LOG),
        "inet_interfaces": "loopback-only",  # master.cf binds the specific 127.0.11.x addresses
        "inet_protocols": "ipv4",
        "myhostname": "mx.testbed.test",
        "mydestination": "",
        "relay_domains": "",
        "mynetworks": "127.0.0.255/32",
        "smtpd_relay_restrictions": "reject",
        "smtpd_recipient_restrictions": "reject",
        "local_transport": "error:no local delivery in the testbed",
        "default_transport": "error:no delivery in the testbed",
        "smtpd_tls_security_level": "may",
        "smtpd_tls_loglevel": "1",
        "alias_maps": "",
        "alias_database": "",
        "biff": "no",
        "smtpd_banner": "$myhostname ESMTP mailtls testbed",
    }
    (conf / "main.cf").write_text("".join(f"{k} = {v}\n" for k, v in main.items()))
    lines = []
    for item in listeners:
        c = certs[item["cert"]]
        opts = {
            "syslog_name": f"postfix/{item['name']}",
            "myhostname": item["cert"],
            "smtpd_tls_chain_files": f"{c['key']},{c['chain']}",
        }
        opts.update({k: str(v) for k, v in item.get("options", {}).items()})
        flags = " ".join(f"-o {k}={v}" for k, v in opts.items())
        lines.append(f"{item['ip']}:25 inet n - n - - smtpd {flags}\n")
    (conf / "master.cf").write_text("".join(lines) + SERVICES)
    return conf

"""The testbed's self-check: every scenario's real property, confirmed by tools that are not mailtls.

  DNS       dig +dnssec @<resolver>: rcode (NOERROR / NXDOMAIN / SERVFAIL), the AD bit, the MX set,
            the A record of every MX host (dig +cd where the zone is bogus), TLSA records.
  Postfix   openssl s_client -starttls smtp: STARTTLS offered or not, the leaf served (CN), the
            number of certificates served, the verification result against <run>/ca.pem, TLS 1.0
            accepted only where the scenario enables it; DANE-EE via -dane_tlsa_rrdata;
            posttls-finger as a second opinion on STARTTLS.
  Submission per listener (127.0.13.x:587/465): openssl s_client (-starttls smtp on 587, implicit
            TLS on 465: handshake or not, TLS 1.0 accepted or not), swaks (AUTH advertised before
            STARTTLS or not; the 220 greeting inside implicit TLS; a plaintext 220 on a 465 that
            is not TLS). Never authenticates (--quit-after EHLO).
  Faults    per behaviour: a raw socket (banner, replies), openssl s_client (handshake outcome),
            swaks (banner text, the EHLO reply inside TLS).
One PASS/FAIL line per scenario (domain) and per listener; exit status 1 on any FAIL.
"""

from __future__ import annotations

import base64
import json
import os
import re
import socket
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from tb import common, dkim, dns, nginx, postfix
from tb.common import RUN

# openssl verify codes by certificate kind, checked with -verify_hostname <listener cert name>
VERIFY = {
    "good": {0},
    "rsa": {0},
    "expiring20": {0},
    "rsa1024": {0},
    "sha1": {0},
    "expired": {10},  # certificate has expired
    "selfsigned": {18},  # self-signed certificate
    "nointermediate": {20, 21},  # unable to get local issuer / to verify the first certificate
    "wrongname": {62},  # hostname mismatch
}
LEGACY_CLIENT = "DEFAULT@SECLEVEL=0"


def dig(name: str, rtype: str, cd: bool = False) -> dict[str, Any]:
    args = ["dig", f"@{dns.UNBOUND_IP}", "+dnssec", "+time=3", "+tries=2", "+noall", "+comments"]
    args += ["+answer", *(["+cd"] if cd else []), name, rtype]
    out = subprocess.run(args, capture_output=True, text=True).stdout
    status = re.search(r"status: (\w+)", out)
    flags = re.search(r";; flags:([^;]*);", out)
    answers = []
    for line in out.splitlines():
        cols = line.split()
        if line and not line.startswith(";") and len(cols) >= 5 and cols[3] == rtype:
            answers.append(" ".join(cols[4:]).lower())
    return {
        "status": status.group(1) if status else "NO-REPLY",
        "ad": bool(flags and "ad" in flags.group(1).split()),
        "answers": sorted(answers),
    }


def s_client(
    ip: str,
    *extra: str,
    host: str = "",
    ca: Path | None = None,
    port: int = 25,
    starttls: bool = True,
) -> str:
    args = ["openssl", "s_client", *(["-starttls", "smtp"] if starttls else [])]
    args += ["-connect", f"{ip}:{port}", "-showcerts"]
    if host:
        args += ["-servername", host, "-verify_hostname", host]
    if ca:
        args += ["-CAfile", str(ca)]
    try:
        proc = subprocess.run(
            [*args, *extra], input="QUIT\n", capture_output=True, text=True, timeout=15
        )
    except subprocess.TimeoutExpired:
        return "TIMEOUT"
    return proc.stdout + proc.stderr


def _handshake_ok(out: str) -> bool:
    return bool(re.search(r"^New, TLS", out, re.M)) or ("Cipher is" in out and "(NONE)" not in out)


def posttls_finger(ip: str, port: int = 25) -> bool:
    """Does posttls-finger (Postfix's own TLS client) establish TLS? It reads main.cf from
    MAIL_CONFIG: the testbed's (the machine may have no /etc/postfix/main.cf), with the legacy
    OpenSSL settings so that old protocols can be reached too."""
    conf = postfix.conf_dir(RUN)
    args = ["posttls-finger", "-c", "-l", "may", "-o", "inet_protocols=ipv4"]
    args += ["-o", f"tls_config_file={conf / 'openssl-legacy.cnf'}"]
    args += ["-o", "tls_config_name=mailtls_legacy", f"[{ip}]:{port}"]
    env = {**os.environ, "MAIL_CONFIG": str(conf)}
    try:
        out = subprocess.run(args, capture_output=True, text=True, timeout=20, env=env)
    except subprocess.TimeoutExpired:
        return False
    return "TLS connection established" in out.stdout + out.stderr


def check_listener(item: dict[str, Any], ca: Path) -> tuple[bool, str]:
    opts = item.get("options", {})
    wants_tls = opts.get("smtpd_tls_security_level", "may") != "none"
    out = s_client(item["ip"], "-cipher", LEGACY_CLIENT, host=item["cert"], ca=ca)
    has_tls = _handshake_ok(out) and "Didn't find STARTTLS" not in out
    notes = [f"STARTTLS {'yes' if has_tls else 'no'}"]
    ok = has_tls == wants_tls
    finger_tls = posttls_finger(item["ip"])
    notes.append(f"posttls-finger {'TLS' if finger_tls else 'no TLS'}")
    ok &= finger_tls == wants_tls
    if not wants_tls:
        return ok, ", ".join(notes)
    cn = re.search(r"^ 0 s:.*CN ?= ?([^,\n]+)", out, re.M)
    served = len(re.findall(r"^ \d+ s:", out, re.M))
    code = re.search(r"Verify return code: (\d+)", out)
    kind = item.get("kind", "good")
    want_chain = 1 if kind in ("selfsigned", "nointermediate") else 2
    got_code = int(code.group(1)) if code else -1
    ok &= bool(cn) and cn.group(1).strip() == item["cert"]  # type: ignore[union-attr]
    ok &= served == want_chain and got_code in VERIFY[kind]
    notes.append(f"leaf CN={cn.group(1).strip() if cn else '?'} ({kind}), {served} cert(s) served")
    notes.append(f"verify code {got_code} (want {'/'.join(map(str, sorted(VERIFY[kind])))})")
    probes: dict[str, bool] = dict(item.get("openssl", {}))
    probes.setdefault("-tls1", opts.get("smtpd_tls_protocols") == ">=TLSv1")
    for args, wanted in probes.items():
        extra = args.split()
        if "-cipher" not in extra:
            extra += ["-cipher", LEGACY_CLIENT]  # OpenSSL 3 offers TLS 1.0/1.1 only at level 0
        got = _handshake_ok(s_client(item["ip"], *extra))
        ok &= got == wanted
        notes.append(
            f"[{args}] {'accepted' if got else 'refused'}{'' if got == wanted else ' (WRONG)'}"
        )
    return ok, ", ".join(notes)


def check_stock(item: dict[str, Any], ca: Path, env: dict[str, Any]) -> tuple[bool, str]:
    """A stock server (issue 12): STARTTLS advertised; the handshake completes with the testbed
    certificate, or, with `handshake: false`, is refused by an alert (openssl s_client), and
    posttls-finger agrees; each `openssl:` s_client variant accepted or refused as listed."""
    state = env.get("servers", {}).get(item["name"], "not started")
    if state.startswith("not started"):
        return False, f"{item['server']}: {state}"
    wants_tls = item.get("handshake", True)
    out = s_client(item["ip"], "-cipher", LEGACY_CLIENT, host=item["cert"], ca=ca)
    advertised = "Didn't find STARTTLS" not in out and "CONNECTED" in out
    has_tls = _completed(out)
    alert = re.search(r"alert ([a-z ]+)", out)
    notes = [f"STARTTLS {'advertised' if advertised else 'NOT advertised'}"]
    notes.append(
        f"handshake {'completed' if has_tls else 'refused'}"
        + (f" (alert {alert.group(1).strip()})" if alert and not has_tls else "")
    )
    ok = advertised and has_tls == wants_tls and (has_tls or alert is not None)
    finger_tls = posttls_finger(item["ip"])
    notes.append(f"posttls-finger {'TLS' if finger_tls else 'no TLS'}")
    ok &= finger_tls == wants_tls
    if has_tls:
        cn = re.search(r"^ 0 s:.*CN ?= ?([^,\n]+)", out, re.M)
        code = re.search(r"Verify return code: (\d+)", out)
        ok &= bool(cn) and cn.group(1).strip() == item["cert"]  # type: ignore[union-attr]
        ok &= bool(code) and code.group(1) == "0"  # type: ignore[union-attr]
        notes.append(
            f"leaf CN={cn.group(1).strip() if cn else '?'}, verify {code and code.group(1)}"
        )
    for args, wanted in item.get("openssl", {}).items():
        extra = args.split()
        if "-cipher" not in extra:
            extra += ["-cipher", LEGACY_CLIENT]
        got = _completed(s_client(item["ip"], *extra))
        ok &= got == wanted
        notes.append(
            f"[{args}] {'accepted' if got else 'refused'}{'' if got == wanted else ' (WRONG)'}"
        )
    return ok, ", ".join(notes)


def _completed(out: str) -> bool:
    """A handshake that completed: s_client prints "New, TLSv1.3" before a TLS 1.3 server's
    CertificateVerify can still fail, so an alert from the server means it did not."""
    return _handshake_ok(out) and not re.search(r"SSL alert number \d+", out)


def check_submission(item: dict[str, Any], ca: Path) -> tuple[bool, str]:
    """One submission listener: TLS as configured (STARTTLS on 587, implicit on 465), AUTH before
    TLS only where the scenario allows it, TLS 1.0 only where enabled, the certificate served."""
    opts = {k: str(v) for k, v in item.get("options", {}).items()}
    port, implicit = int(item["port"]), opts.get("smtpd_tls_wrappermode") == "yes"
    wants_tls = opts.get("smtpd_tls_security_level", "may") != "none"
    out = s_client(
        item["ip"],
        "-cipher",
        LEGACY_CLIENT,
        host=item["cert"],
        ca=ca,
        port=port,
        starttls=not implicit,
    )
    has_tls = _handshake_ok(out) and "Didn't find STARTTLS" not in out
    notes = [f"{'implicit TLS' if implicit else 'STARTTLS'} {'yes' if has_tls else 'no'}"]
    ok = has_tls == wants_tls
    if implicit or port == 465:
        greeting = swaks(
            item["ip"], *(["--tlsc"] if implicit else []), "--quit-after", "EHLO", port=port
        )
        greets = bool(re.search(r"^<[~-] +220 ", greeting, re.M))
        inside = bool(re.search(r"^<~ +220 ", greeting, re.M))  # swaks: <~ = read over TLS
        ok &= greets and inside == wants_tls
        notes.append(
            f"swaks: 220 {'inside TLS' if inside else 'in plaintext' if greets else 'MISSING'}"
        )
    else:
        plain = swaks(item["ip"], "--quit-after", "EHLO", port=port)
        auth = bool(re.search(r"^<- +250[- ]AUTH\b", plain, re.M))
        want_auth = bool(item.get("sasl")) and opts.get("smtpd_tls_auth_only") != "yes"
        ok &= auth == want_auth
        notes.append(f"swaks: AUTH {'advertised' if auth else 'not advertised'} before STARTTLS")
    if not wants_tls:
        return ok, ", ".join(notes)
    cn = re.search(r"^ 0 s:.*CN ?= ?([^,\n]+)", out, re.M)
    code = re.search(r"Verify return code: (\d+)", out)
    kind = item.get("kind", "good")
    got_code = int(code.group(1)) if code else -1
    ok &= bool(cn) and cn.group(1).strip() == item["cert"] and got_code in VERIFY[kind]  # type: ignore[union-attr]
    notes.append(f"leaf CN={cn.group(1).strip() if cn else '?'} ({kind}), verify code {got_code}")
    tls1_wanted = opts.get("smtpd_tls_protocols") == ">=TLSv1"
    tls1 = _handshake_ok(
        s_client(item["ip"], "-tls1", "-cipher", LEGACY_CLIENT, port=port, starttls=not implicit)
    )
    ok &= tls1 == tls1_wanted
    notes.append(f"TLS 1.0 {'accepted' if tls1 else 'refused'}")
    return ok, ", ".join(notes)


def _talk(ip: str, send: list[bytes], wait: float = 1.5) -> tuple[bytes, str]:
    """Connect, read the banner for `wait` s, send each line and read; (bytes read, end state)."""
    data, state = b"", "open"
    try:
        with socket.create_connection((ip, 25), timeout=3) as s:
            s.settimeout(0.3)
            for chunk in [b"", *send]:
                if chunk:
                    s.sendall(chunk)
                end = time.monotonic() + wait
                while time.monotonic() < end and len(data) < 200_000:
                    try:
                        got = s.recv(65536)
                    except TimeoutError:
                        continue
                    if not got:
                        return data, "eof"
                    data += got
    except ConnectionResetError:
        state = "reset"
    except OSError as exc:
        state = f"error {exc}"
    return data, state


def swaks(ip: str, *args: str, port: int = 25) -> str:
    """swaks' transcript (it never gets past EHLO here: --quit-after)."""
    cmd = ["swaks", "-s", f"{ip}:{port}", "--ehlo", "selfcheck.test", "--timeout", "5", *args]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
    except subprocess.TimeoutExpired:
        return "TIMEOUT"
    return proc.stdout + proc.stderr


def check_fault(ip: str, behaviour: str) -> tuple[bool, str]:
    ehlo = [b"EHLO selfcheck.test\r\n", b"STARTTLS\r\n"]
    if behaviour in ("reset", "tlsgarbage", "script", "ehlofail", "stillstarttls"):
        tls = _handshake_ok(s_client(ip))
        ok = tls == (behaviour not in ("reset", "tlsgarbage"))
        notes = [f"openssl s_client: TLS {'established' if tls else 'failed'}"]
        if behaviour == "script":
            banner = swaks(ip, "--quit-after", "CONNECT")
            ok &= "<script>" in banner
            notes.append(f"swaks: banner {'has' if '<script>' in banner else 'LACKS'} <script>")
        if behaviour in ("ehlofail", "stillstarttls"):  # the EHLO inside TLS
            reply = swaks(ip, "--tls", "--quit-after", "HELO").split("~> EHLO", 1)[-1]
            refused = bool(re.search(r"^<~\*? +5\d\d ", reply, re.M))
            again = "STARTTLS" in reply
            ok &= refused if behaviour == "ehlofail" else (again and not refused)
            notes.append(f"swaks: EHLO in TLS {'refused' if refused else 'accepted'}")
            notes.append(f"STARTTLS {'still' if again else 'no longer'} offered")
        return ok, ", ".join(notes)
    if behaviour == "endless":
        data, state = _talk(ip, [b"EHLO selfcheck.test\r\n"])
        lines = data.count(b"\r\n250-")
        return lines > 500, f"{lines} EHLO reply lines in 1.5 s, still {state}"
    data, state = _talk(ip, ehlo if behaviour in ("starttls454", "mid421") else [])
    first = data[:60].decode("latin-1", "replace").replace("\r\n", " | ")
    rules = {
        "silent": not data and state == "open",
        "garbage": data.startswith(b"HTTP/"),
        "closed": not data and state in ("eof", "reset"),
        "busy": data.startswith(b"421"),
        "longline": data.startswith(b"220 AAAA") and b"\n" not in data,
        "drip": data.startswith(b"2") and len(data) < 10,
        "starttls454": b"\r\n454" in data,
        "mid421": b"\r\n421" in data,
    }
    return rules.get(behaviour, False), f"{len(data)} bytes, {state}: {first!r}"


def _hosts(domains: dict[str, Any]) -> dict[str, str]:
    hosts: dict[str, str] = {}
    for name, spec in domains.items():
        hosts.update(spec.get("hosts", {}))
        if "hostile" in spec:
            hosts[f"mx.{name}"] = spec["hostile"]
        if "a" in spec:
            hosts[name] = spec["a"]
    return hosts


def check_domain(
    name: str, spec: dict[str, Any], hosts: dict[str, str], certs: dict[str, dict[str, str]]
) -> tuple[bool, str]:
    zone = spec.get("zone", "")
    if spec.get("served_by") == "hostile_dns":  # issue 17: an insecure zone of our own server
        got = dig(name, "MX")
        want = spec.get("mx_status", "NOERROR")  # wrongq: the resolver gives up (SERVFAIL)
        ok = got["status"] == want and not got["ad"] and len(got["answers"]) == (want == "NOERROR")
        return ok, f"served by hostile_dns: MX {got['status']} ad={int(got['ad'])} {got['answers']}"
    if spec.get("absent"):
        want_status, want_ad = "NXDOMAIN", True
    elif zone == "bogus":
        want_status, want_ad = "SERVFAIL", False
    else:
        want_status, want_ad = "NOERROR", zone != "insecure"
    got = dig(name, "MX")
    notes = [f"MX {got['status']} ad={int(got['ad'])}"]
    ok = got["status"] == want_status and got["ad"] == want_ad
    mx = [f"{p} {h}." for p, h in spec.get("mx", [])] + (["0 ."] if spec.get("null_mx") else [])
    mx += [f"10 mx.{name}."] if "hostile" in spec else []
    if not spec.get("absent"):
        seen = dig(name, "MX", cd=True)["answers"] if zone == "bogus" else got["answers"]
        ok &= sorted(m.lower() for m in mx) == seen
        notes.append(f"MX set {seen or 'empty'}")
    targets = [h for _, h in spec.get("mx", [])] + ([f"mx.{name}"] if "hostile" in spec else [])
    targets += [name] if "a" in spec else []
    for host in targets:
        a = dig(host, "A", cd=zone == "bogus")
        want = [hosts[host]] if host in hosts else []
        ok &= a["answers"] == want and a["status"] == ("NOERROR" if want else "NXDOMAIN")
        notes.append(f"{host} A {a['answers'] or a['status']}")
    for host, tokens in dns.tlsa_spec(spec).items():
        t = dig(f"_25._tcp.{host}", "TLSA")
        want = sorted(dns.tlsa_rdata(tok, certs[host]).replace(" ", "") for tok in tokens)
        ok &= (
            t["ad"] == (zone != "insecure")
            and sorted(a.replace(" ", "") for a in t["answers"]) == want
        )
        notes.append(f"TLSA {host} {'+'.join(tokens)} ad={int(t['ad'])}")
        for tok in tokens:
            if tok == "pkix-ee":
                continue  # unusable for SMTP; openssl would judge it by PKIX, not DANE
            rr = dns.tlsa_rdata(tok, certs[host])
            out = s_client(hosts[host], "-dane_tlsa_domain", host, "-dane_tlsa_rrdata", rr)
            verified = "Verification: OK" in out and "DANE TLSA" in out
            # tlsa_served: false = the MX completes no TLS handshake (no STARTTLS, or every
            # handshake refused), so nothing can verify against the records.
            ok &= verified == (tok not in ("wrong", "ta-root") and spec.get("tlsa_served", True))
            notes.append(f"openssl DANE {tok}: {'verified' if verified else 'not verified'}")
    for owner, srv in spec.get("srv", {}).items():
        got_srv = dig(f"{owner}.{name}", "SRV")
        want_srv = sorted(f"{p} {w} {port} {t.rstrip('.')}.".lower() for p, w, port, t in srv)
        ok &= got_srv["answers"] == want_srv and got_srv["ad"] == (zone != "insecure")
        notes.append(f"SRV {owner} {got_srv['answers']}")
    txt: dict[str, list[str]] = {}
    for key in ("txt", "txt2"):
        for owner, text in spec.get(key, {}).items():
            txt.setdefault(owner, []).append(dns.txt_rdata(text).lower())
    for owner, texts in txt.items():
        t = dig(owner, "TXT", cd=zone == "bogus")
        ok &= t["answers"] == sorted(texts)
        notes.append(f"TXT {owner} x{len(t['answers'])}")
    for selector, raw in spec.get("dkim", {}).items():
        key_ok, key_note = check_dkim_key(f"{selector}._domainkey.{name}", raw)
        ok &= key_ok
        notes.append(key_note)
    if "sts" in spec:
        sts_ok, sts_note = check_policy_host(name, spec["sts"])
        ok &= sts_ok
        notes.append(sts_note)
    return ok, "; ".join(notes)


def check_dkim_key(owner: str, raw: Any) -> tuple[bool, str]:
    """dig + openssl, as independent tools: the published p= decodes to the key size wanted."""
    kind, _ = dkim.spec_of(raw)
    out = subprocess.run(
        ["dig", f"@{dns.UNBOUND_IP}", "+short", "+time=3", owner, "TXT"],
        capture_output=True,
        text=True,
    ).stdout
    joined = "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', out))
    key = base64.b64decode(joined.split("p=")[-1]) if "p=" in joined else b""
    if kind == "revoked":
        return joined.endswith("p=") and not key, f"DKIM {owner}: revoked (empty p=)"
    if kind == "ed25519":
        return len(key) == 32, f"DKIM {owner}: {len(key)}-byte Ed25519 key"
    text = subprocess.run(
        ["openssl", "pkey", "-pubin", "-inform", "DER", "-noout", "-text"],
        input=key,
        capture_output=True,
    ).stdout.decode()
    bits = re.search(r"Public-Key: \((\d+) bit\)", text)
    got = bits.group(1) if bits else "?"
    return got == kind.removeprefix("rsa"), f"DKIM {owner}: openssl reads RSA {got} bits"


def check_policy_host(domain: str, sts: dict[str, Any]) -> tuple[bool, str]:
    """curl, as an independent client: what the policy host answers (redirects not followed)."""
    host = f"mta-sts.{domain}"
    a = dig(host, "A")
    if sts.get("no_host"):
        return a["answers"] == [], f"{host} A {a['answers'] or a['status']} (no host wanted)"
    if a["answers"] != [nginx.ip()]:
        return False, f"{host} A {a['answers'] or a['status']}, want {nginx.ip()}"
    proc = subprocess.run(
        ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{content_type} %{size_download}",
         "--max-time", "10", "--resolve", f"{host}:443:{nginx.ip()}", "--cacert",
         str(common.RUN / "ca.pem"), f"https://{host}/.well-known/mta-sts.txt"],
        capture_output=True, text=True,
    )  # fmt: skip
    got = proc.stdout.split()
    if sts.get("cert") == "wrongname":
        return proc.returncode == 60, f"curl {host}: exit {proc.returncode} (want 60, bad name)"
    want_code = str(sts.get("status", 301 if "redirect" in sts else 200))
    ok = proc.returncode == 0 and bool(got) and got[0] == want_code
    if want_code == "200":
        ctype = sts.get("content_type", "text/plain")
        ok &= len(got) == 3 and got[1].startswith(ctype)
        ok &= (int(got[2]) > 65536) == bool(sts.get("oversize")) if len(got) == 3 else False
    return ok, f"curl {host}: {' '.join(got) or proc.returncode}"


def run(run_dir: Path) -> int:
    dns.NSD_IP, dns.UNBOUND_IP = common.addr("127.0.10.1"), common.addr("127.0.10.2")
    data = common.scenarios()
    ca = run_dir / "ca.pem"
    if not ca.exists():
        print(f"FAIL testbed: {ca} missing (is the testbed up?)")
        return 1
    env_file = run_dir / "env.json"
    env = json.loads(env_file.read_text()) if env_file.exists() else {}
    certs = env.get("certs", {})
    hosts = _hosts(data["domains"])
    jobs: list[tuple[str, Any]] = []
    with ThreadPoolExecutor(max_workers=16) as pool:
        for item in data["listeners"]:
            jobs.append(
                (f"listener {item['name']} {item['ip']}", pool.submit(check_listener, item, ca))
            )
        for item in data.get("stock", []):
            label = f"stock {item['server']} {item['name']} {item['ip']}"
            jobs.append((label, pool.submit(check_stock, item, ca, env)))
        for item in data.get("submission", []):
            label = f"submission {item['name']} {item['ip']}:{item['port']}"
            jobs.append((label, pool.submit(check_submission, item, ca)))
        for item in data.get("hostile", []):
            if not item.get("start", True):
                continue
            label = f"fault {item['behaviour']} {item['ip']}"
            jobs.append((label, pool.submit(check_fault, item["ip"], item["behaviour"])))
        legacy = data.get("legacy")
        if legacy and "legacy_tls.py pid" in env.get("servers", {}).get("legacy", ""):
            for host, ip in legacy["hosts"].items():
                want = legacy.get("testssl", {}).get(host, {})
                jobs.append((f"legacy {host} {ip}", pool.submit(check_legacy, ip, want)))
        elif legacy:
            print(f"NOTE legacy TLS servers: {env.get('servers', {}).get('legacy', 'not started')}")
        for name, spec in data["domains"].items():
            jobs.append((f"scenario {name}", pool.submit(check_domain, name, spec, hosts, certs)))
        failed = 0
        for label, job in jobs:
            try:
                ok, text = job.result()
            except Exception as exc:
                ok, text = False, f"check crashed: {exc!r}"
            failed += not ok
            print(f"{'PASS' if ok else 'FAIL'} {label}: {text}")
    print(f"selfcheck: {len(jobs) - failed} PASS, {failed} FAIL")
    return 1 if failed else 0


def check_legacy(ip: str, wanted: dict[str, bool]) -> tuple[bool, str]:
    """openssl for the TLS 1.2 handshake; testssl.sh (its own sockets, not our OpenSSL) for
    SSL 3.0, RC4 and 3DES, which Debian's OpenSSL can no longer offer."""
    ok = _handshake_ok(s_client(ip, "-tls1_2", "-cipher", LEGACY_CLIENT))
    notes = [f"TLS 1.2 via STARTTLS {'established' if ok else 'failed'}"]
    if not wanted:
        return ok, notes[0]
    try:
        out = subprocess.run(
            [
                "testssl",
                "--quiet",
                "--color",
                "0",
                "--warnings",
                "off",
                "-t",
                "smtp",
                "-p",
                "-s",
                f"{ip}:25",
            ],
            capture_output=True,
            text=True,
            timeout=90,
        ).stdout
    except (FileNotFoundError, subprocess.TimeoutExpired) as exc:
        return False, f"testssl.sh: {exc}"
    for label, offered in wanted.items():
        line = next((ln.strip() for ln in out.splitlines() if ln.strip().startswith(label)), "")
        got = bool(line) and "not offered" not in line and "offered" in line
        ok &= bool(line) and got == offered
        notes.append(
            f"testssl {label!r}: {line[len(label) :].strip() or 'no line'}"
            + ("" if line and got == offered else " (WRONG)")
        )
    return ok, ", ".join(notes)

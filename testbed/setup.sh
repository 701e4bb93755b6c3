#!/usr/bin/env bash
# Install what mailtls, its tests and its testbed need (idempotent). Run as root on Debian/Ubuntu.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(postfix libsasl2-modules unbound nsd ldnsutils nginx bind9-dnsutils swaks testssl.sh openssl iproute2 ca-certificates chromium chromium-driver)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # Postfix asks questions on install; answer them so the install never waits for a human.
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # The distribution services the install may have started must not run: the testbed starts its
  # own instances on 127.0.1x.y. Only right after installing: `service X stop` matches processes
  # by executable, so later it would also stop testbeds running in other network namespaces.
  for svc in postfix unbound nsd nginx; do
    (service "$svc" stop >/dev/null 2>&1 || true)
  done
fi

# The stock servers of the testbed (issue 12, testbed/tb/stock.py): Exim 4.96 (GnuTLS) and
# OpenSMTPD conflict with the postfix package, so they are only downloaded (never installed) into
# the cache that `testbed.py up` unpacks into its runtime folder.
STOCK_DEBS=(exim4-base exim4-daemon-light libidn12 opensmtpd)
DEB_CACHE="${MAILTLS_DEB_CACHE:-/var/cache/mailtls-testbed/debs}"
mkdir -p "$DEB_CACHE"
for pkg in "${STOCK_DEBS[@]}"; do
  compgen -G "$DEB_CACHE/${pkg}_*.deb" >/dev/null || (cd "$DEB_CACHE" && apt-get download -qq "$pkg")
done

python3 -m pip install -q --disable-pip-version-check -e '.[dev]' 2>&1 | grep -v -e '^WARNING: Running pip as' -e 'is ignored' || true
python3 -c "import mailtls, pytest_html, dns, cryptography, yaml, tlslite" \
  || { echo "setup: python dependencies missing after pip install" >&2; exit 1; }
echo "setup: ok"

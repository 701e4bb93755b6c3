#!/usr/bin/env bash
# Install what mailtls, its tests and its testbed need (idempotent). Run as root on Debian 12.
#
# - Debian packages: apt-get install of the missing ones only. Packages start their daemons when
#   installed; a temporary /usr/sbin/policy-rc.d that exits 101 (Debian's mechanism, see
#   invoke-rc.d(8)) keeps them from starting, and is removed afterwards only if we created it.
#   Nothing here stops, restarts, disables or reconfigures a service: the operator's own Postfix,
#   Unbound, NSD or nginx keep running untouched. The testbed starts its own instances.
# - Python: a virtual environment .venv/ in the checkout, made with Debian's /usr/bin/python3
#   (PEP 668: the system interpreter is externally managed), with mailtls installed editable and
#   its dev extras. Every script uses .venv/bin/python.
set -euo pipefail
cd "$(dirname "$0")/.."

# swaks does TLS only with libio-socket-ssl-perl and libnet-ssleay-perl, which are merely
# recommended (and --no-install-recommends skips them): the self-check needs them.
APT_PACKAGES=(postfix libsasl2-modules unbound nsd ldnsutils nginx bind9-dnsutils swaks libio-socket-ssl-perl libnet-ssleay-perl testssl.sh openssl iproute2 ca-certificates curl chromium chromium-driver python3 python3-venv git)
POLICY_RC_D="${MAILTLS_POLICY_RC_D:-/usr/sbin/policy-rc.d}"  # tests point this elsewhere
SYSTEM_PYTHON="${MAILTLS_SYSTEM_PYTHON:-/usr/bin/python3}"
VENV=.venv

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done

created_policy=""
remove_policy() {
  if [ -n "$created_policy" ]; then
    rm -f "$POLICY_RC_D"
    created_policy=""
  fi
}
trap remove_policy EXIT

if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  if [ -e "$POLICY_RC_D" ]; then
    echo "setup: $POLICY_RC_D exists already; left as it is"
  else
    printf '#!/bin/sh\n# written by mailtls testbed/setup.sh during apt-get install; removed after it\nexit 101\n' >"$POLICY_RC_D"
    chmod 0755 "$POLICY_RC_D"
    created_policy=1
  fi
  apt-get update -qq </dev/null
  # Postfix asks questions on install; answer them so the install never waits for a human.
  # "No configuration": the package writes no /etc/postfix/main.cf; the testbed has its own.
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null >/dev/null
  remove_policy
fi

# The stock servers of the testbed (issue 12, testbed/tb/stock.py): Exim 4.96 (GnuTLS) and
# OpenSMTPD conflict with the postfix package, so they are only downloaded (never installed) into
# the cache that `testbed.py up` unpacks into its runtime folder.
STOCK_DEBS=(exim4-base exim4-daemon-light libidn12 opensmtpd)
DEB_CACHE="${MAILTLS_DEB_CACHE:-/var/cache/mailtls-testbed/debs}"
mkdir -p "$DEB_CACHE"
updated=""
for pkg in "${STOCK_DEBS[@]}"; do
  compgen -G "$DEB_CACHE/${pkg}_*.deb" >/dev/null && continue
  # A machine whose package lists were never fetched (or were cleaned) knows no .deb to download.
  if ! (cd "$DEB_CACHE" && apt-get download -qq "$pkg" 2>/dev/null); then
    [ -n "$updated" ] || { apt-get update -qq; updated=1; }
    (cd "$DEB_CACHE" && apt-get download -qq "$pkg")
  fi
done

# The virtual environment: created once; made again if its interpreter no longer runs.
if ! "$VENV/bin/python" -c "" 2>/dev/null; then
  echo "setup: creating the virtual environment $VENV/ with $SYSTEM_PYTHON"
  "$SYSTEM_PYTHON" -m venv --clear "$VENV"
fi
stamp="$VENV/.mailtls-installed"
if [ ! -e "$stamp" ] || [ pyproject.toml -nt "$stamp" ] \
  || ! "$VENV/bin/python" -c "import mailtls, pytest_html, dns, cryptography, yaml, tlslite, publicsuffixlist, spf" 2>/dev/null; then
  echo "setup: installing mailtls and its dependencies into $VENV/"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e '.[dev]' </dev/null
  touch "$stamp"
fi
"$VENV/bin/python" -c "import mailtls, pytest_html, dns, cryptography, yaml, tlslite, publicsuffixlist, spf" \
  || { echo "setup: python dependencies missing in $VENV/ after pip install" >&2; exit 1; }
echo "setup: ok (python: $VENV/bin/python)"

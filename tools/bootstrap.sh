#!/usr/bin/env bash
# Installs what Auditor's demo and tests need on a fresh Debian 12 machine:
# system packages (PostgreSQL 15 server + contrib + pgaudit, poppler, HarfBuzz-Subset for
# WeasyPrint's font subsetting, testssl.sh, cryptsetup, and the OpenSSH server whose binary the
# host-over-SSH tests start on a loopback port) when run as root, then a virtualenv in
# .venv with the package and its test extras. (Chromium, for looking at the HTML report, is
# optional: tools/look-at-reports.sh says how to get it.)
set -euo pipefail
cd "$(dirname "$0")/.."

SYSTEM_PACKAGES=(postgresql-15 postgresql-contrib postgresql-15-pgaudit poppler-utils
                 libharfbuzz-subset0 testssl.sh openssl cryptsetup-bin openssh-server)
missing=()
for pkg in "${SYSTEM_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    echo "bootstrap: installing system packages: ${missing[*]}"
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
  else
    echo "bootstrap: missing system packages (install as root): ${missing[*]}" >&2
    exit 1
  fi
fi
# Debian starts a 'main' cluster on install; the lab makes its own, so leave that one alone.
# Likewise the system sshd service: the tests run their own sshd as the current user and never
# use it (disable it with 'systemctl disable --now ssh' if the machine should not accept logins).

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[all,test]'
touch .venv/.installed
echo "bootstrap: ready (.venv)"

#!/usr/bin/env bash
# Installs what Auditor's demo and tests need on a fresh Debian 12 machine:
# system packages (PostgreSQL 15 server + contrib + pgaudit, poppler, HarfBuzz-Subset for
# WeasyPrint's font subsetting, testssl.sh, cryptsetup, and the OpenSSH server whose binary the
# host-over-SSH tests start on a loopback port) when run as root, then a virtualenv in
# .venv with the package and its test extras. (Chromium, for looking at the HTML report, is
# optional: tools/look-at-reports.sh says how to get it.)
set -euo pipefail
cd "$(dirname "$0")/.."

SYSTEM_PACKAGES=(python3-venv postgresql-15 postgresql-contrib postgresql-15-pgaudit
                 poppler-utils libharfbuzz-subset0 testssl.sh openssl cryptsetup-bin
                 openssh-server)
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

# The interpreter: $PYTHON if given, else Debian's /usr/bin/python3 when it is 3.11 or newer,
# else the first python3 on PATH. Debian builds CPython with profile-guided and link-time
# optimisation into a statically linked binary; a pyenv build without --enable-optimizations
# (what this machine's PATH finds first) runs the same Python code about a fifth slower (the
# PDF benchmark: 2.6-3.1 s against 3.4-3.8 s of CPU, 10 % more instructions). It matters
# where Auditor is CPU-bound: rendering reports and analysing sampled values.
if [ -z "${PYTHON:-}" ]; then
  PYTHON=python3
  if /usr/bin/python3 -c 'import sys, ensurepip; sys.exit(sys.version_info < (3, 11))' 2>/dev/null
  then
    PYTHON=/usr/bin/python3
  fi
fi
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[all,test]'
touch .venv/.installed
echo "bootstrap: ready (.venv)"

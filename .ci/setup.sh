#!/usr/bin/env bash
# Set up sscard on a fresh Debian 12 machine (as root, or as a user with sudo):
#   - the PC/SC stack (pcscd, the vpcd virtual reader driver, pcsc-tools) and what
#     pyscard needs to build from source (swig, libpcsclite-dev, gcc, Python headers);
#   - a virtualenv .venv with sscard installed (a regular install: an editable one adds
#     ~25 ms to every start of `sscard`; developers may `pip install -e .` instead).
# Usage: bash .ci/setup.sh [--test]     (--test adds the test dependencies and .venv-emvtool)
# Idempotent: packages already installed are not fetched again.
set -euo pipefail
cd "$(dirname "$0")/.."

extras=""
if [ "${1:-}" = "--test" ]; then extras="[test]"; fi

sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi

# --no-install-recommends: vsmartcard-vpcd recommends vsmartcard-vpicc (broken on
# bookworm, not needed) and pcsc-tools recommends a GTK stack.
pkgs="pcscd libpcsclite-dev swig gcc python3-dev python3-venv vsmartcard-vpcd pcsc-tools"
missing=$(dpkg-query -W -f='${db:Status-Status} ${Package}\n' $pkgs 2>&1 | grep -v '^installed ' || true)
if [ -n "$missing" ]; then
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends $pkgs
fi

python=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install -q --disable-pip-version-check ".$extras"
# The tests also drive an independent EMV reader (python-emv) in its own venv.
if [ -n "$extras" ]; then bash .ci/emvtool-venv.sh; fi

#!/usr/bin/env bash
# Set up sscard on a fresh Debian 12 machine (as root, or as a user with sudo):
#   - the PC/SC stack (pcscd, the vpcd virtual reader driver, pcsc-tools) and what
#     pyscard needs to build from source (swig, libpcsclite-dev, gcc, Python headers);
#   - a virtualenv .venv with sscard and its kiosk service (the `service` extra: `sscard
#     serve`) installed (a regular install: an editable one adds ~25 ms to every start of
#     `sscard`; developers may `pip install -e .` instead).
# Usage: bash .ci/setup.sh [--test] [--link]
#   --test adds the test and lint dependencies, .venv-emvtool and Debian's chromium + chromium-driver
#   for the kiosk page's browser test; --link puts `sscard` on PATH (a symlink in
#   /usr/local/bin as root, else ~/.local/bin; see .ci/after-setup.sh).
# Idempotent: packages already installed are not fetched again.
set -euo pipefail
cd "$(dirname "$0")/.."

testing=""
link=""
for arg in "$@"; do
  case "$arg" in
    --test) testing=1 ;;
    --link) link="--link" ;;
    *) echo "usage: bash .ci/setup.sh [--test] [--link]" >&2; exit 2 ;;
  esac
done
extras="[service]"
if [ -n "$testing" ]; then extras="[service,test,lint]"; fi

sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi

# --no-install-recommends: vsmartcard-vpcd recommends vsmartcard-vpicc (broken on
# bookworm, not needed) and pcsc-tools recommends a GTK stack.
# opensc: opensc-tool, an independent PC/SC program that the test bench's tests drive.
pkgs="pcscd libpcsclite-dev swig gcc python3-dev python3-venv vsmartcard-vpcd pcsc-tools opensc"
# the kiosk page is tested in a real browser: the system chromium, driven by chromedriver
if [ -n "$testing" ]; then pkgs="$pkgs chromium chromium-driver"; fi
missing=$(dpkg-query -W -f='${db:Status-Status} ${Package}\n' $pkgs 2>&1 | grep -v '^installed ' || true)
if [ -n "$missing" ]; then
  export DEBIAN_FRONTEND=noninteractive
  # others may be running apt on a shared machine: wait for the lock rather than fail
  $sudo apt-get -o DPkg::Lock::Timeout=600 update -qq
  $sudo apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends $pkgs
fi

python=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install -q --disable-pip-version-check ".$extras"
# The tests also drive an independent EMV reader (python-emv) in its own venv.
if [ -n "$testing" ]; then bash .ci/emvtool-venv.sh; fi
# How to run `sscard` by name (or link it), and how to start pcscd when it is not running.
bash .ci/after-setup.sh $link

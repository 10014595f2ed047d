#!/usr/bin/env bash
# A separate virtualenv .venv-emvtool with python-emv (PyPI `emv`, command `emvtool`), the
# independent EMV reader that tests/pcsc/test_emvtool.py points at the emulated bank application.
# python-emv pins pyscard==2.0.0 and click==7.1.2, which must not meet the project's .venv.
#
# pyscard 2.0.0 has no wheel for Python 3.11: it builds from source with swig, gcc, the
# Python headers and libpcsclite-dev (all installed by .ci/setup.sh).  The build backend is
# pinned and installed first (--no-build-isolation) so that a later setuptools release
# cannot break the build of these old sdists.
# Usage: bash .ci/emvtool-venv.sh      Idempotent: an existing, working venv is kept.
set -euo pipefail
cd "$(dirname "$0")/.."

EMV_VERSION=1.0.14
venv=.venv-emvtool
pip=(-m pip install -q --disable-pip-version-check)

if [ -x "$venv/bin/emvtool" ] && [ "$("$venv/bin/emvtool" version 2>/dev/null)" = "$EMV_VERSION" ]; then
  exit 0
fi

python=${PYTHON:-python3}
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
"$venv/bin/python" "${pip[@]}" "setuptools==69.5.1" "wheel==0.43.0"
"$venv/bin/python" "${pip[@]}" --no-build-isolation "emv==$EMV_VERSION"
test "$("$venv/bin/emvtool" version)" = "$EMV_VERSION"

"""Every command survives a terminal that cannot show Chinese (LANG=en_US.ISO-8859-1,
zh_TW.BIG5, PYTHONIOENCODING=latin-1): the same exit code as under UTF-8, what cannot be shown
replaced, JSON valid and lossless."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

COMMANDS = [
    ["--help"],
    ["read", "--help"],
    ["read", "--emulator", "gen2"],
    ["read", "--emulator", "gen2", "--reveal"],
    ["read", "--emulator", "gen3"],
    ["read", "--emulator", "gen2", "--json", "--reveal"],
    ["read", "--emulator", "gen2", "--format", "ireadcardbas", "--reveal"],
    ["read", "--emulator", "ssse-blocked", "--format", "ireadcardbas"],
    ["status", "--emulator", "bank-used", "--json", "--reveal"],
    ["status", "--emulator", "bank-used"],
    ["personas", "--json"],
    ["read", "--bogus"],
    ["read", "--emulator", "no-such-persona"],
]


def sscard(args, encoding):
    env = dict(os.environ, PYTHONIOENCODING=encoding)
    env.pop("PYTHONUTF8", None)
    return subprocess.run(
        [sys.executable, "-m", "sscard.cli.main", *args], env=env, capture_output=True, timeout=60
    )


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
@pytest.mark.parametrize("encoding", ["latin-1", "big5"])
def test_output_survives_a_narrow_terminal_encoding(args, encoding):
    utf8 = sscard(args, "utf-8")
    narrow = sscard(args, encoding)
    assert narrow.returncode == utf8.returncode, narrow.stderr.decode(encoding, "replace")
    err = narrow.stderr.decode(encoding)  # it is text in the terminal's encoding
    assert "internal error" not in err and "Traceback" not in err
    assert err.count("\n") == utf8.stderr.decode().count("\n")
    out = narrow.stdout.decode(encoding)
    if "--json" in args:
        assert json.loads(out) == json.loads(utf8.stdout.decode())  # escaped, nothing lost
    else:
        assert out.count("\n") == utf8.stdout.decode().count("\n")
        assert len(out) > 0 or not utf8.stdout


def test_big5_shows_the_traditional_characters_it_has():
    """Replacement is per character: what the encoding has is shown."""
    done = sscard(["read", "--emulator", "gen2"], "big5")
    assert "Social security card" in done.stdout.decode("big5")
    assert "卡" in done.stdout.decode("big5")

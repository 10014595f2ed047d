"""The JSON has one shape: the same keys with and without --reveal, and a masked value is a
string — null only where the value is absent (README: "Absent values are null")."""

from __future__ import annotations

import json

import pytest
from helpers import persona_toml

from sscard.cli.main import run
from sscard.emulator.persona import list_personas

READABLE = [p for p in list_personas() if persona_toml(p).get("state", "active") == "active"]


def documents(capsys, *args):
    views = []
    for reveal in ((), ("--reveal",)):
        run([*args, "--json", *reveal])
        views.append(json.loads(capsys.readouterr().out))
    return views


def compare(masked, revealed, path="$"):
    """Same keys everywhere; null in the masked view only where the revealed one is null."""
    if isinstance(revealed, dict):
        assert isinstance(masked, dict), path
        assert masked.keys() == revealed.keys(), path
        for key in revealed:
            compare(masked[key], revealed[key], f"{path}.{key}")
    elif isinstance(revealed, list):
        assert isinstance(masked, list) and len(masked) == len(revealed), path
        for i, (m, r) in enumerate(zip(masked, revealed, strict=True)):
            compare(m, r, f"{path}[{i}]")
    elif masked is None:
        assert revealed is None, f"{path}: masked as null"


@pytest.mark.parametrize("persona", READABLE)
def test_identity_json_has_one_shape(capsys, persona):
    masked, revealed = documents(capsys, "read", "--emulator", persona)
    assert masked["masked"] is True and revealed["masked"] is False
    masked["masked"] = revealed["masked"] = None
    compare(masked, revealed)
    parts = masked["issuer"]["card_identification_parts"]
    if parts is not None:
        assert set(parts) == {"hex", "region", "rid", "serial", "auth_code"}
        assert set(parts["serial"]) == {"*"} and set(parts["auth_code"]) == {"*"}


@pytest.mark.parametrize("persona", ["bank-used", "bank-mismatch", "gen2", "gen3"])
def test_status_json_has_one_shape(capsys, persona):
    masked, revealed = documents(capsys, "status", "--emulator", persona, "--bank-records")
    masked["masked"] = revealed["masked"] = None
    compare(masked, revealed)

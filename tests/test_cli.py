"""`sscard read` end to end on the built-in emulator: views, masking, exit codes, errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from helpers import cli, persona_toml

from sscard.cli.main import run
from sscard.emulator.persona import list_personas

GEN2_SSN = "110101199003071233"


def test_read_human_view_is_masked(capsys):
    code, out, err = cli(capsys, "read", "--emulator", "gen2")
    assert code == 0, err
    assert GEN2_SSN not in out and "测试甲" not in out
    assert "110***********1233" in out and "测**" in out and "1990-**-**" in out
    assert "社会保障号码" in out and "Social security number" in out
    assert "--reveal" in out
    assert err == ""


def test_read_reveal(capsys):
    code, out, _ = cli(capsys, "read", "--emulator", "gen2", "--reveal")
    assert code == 0
    assert GEN2_SSN in out and "测试甲" in out and "1990-03-07" in out
    assert "汉族" in out and "DES/3DES" in out


def test_read_json_schema(capsys):
    code, out, _ = cli(capsys, "read", "--emulator", "gen2", "--json")
    doc = json.loads(out)
    assert code == 0
    assert doc["schema"] == "sscard.identity/1" and doc["masked"] is True and doc["complete"]
    assert doc["holder"]["social_security_number"] == "110***********1233"
    assert doc["holder"]["sex"] == {"code": "1", "en": "male", "zh": "男"}
    assert doc["issuer"]["card_identification_parts"]["serial"] == "********"
    assert doc["source"] == {"kind": "emulator", "name": "gen2", "description": "emulator: gen2"}
    code, out, _ = cli(capsys, "read", "--emulator", "gen2", "--json", "--reveal")
    doc = json.loads(out)
    assert doc["holder"]["social_security_number"] == GEN2_SSN
    assert doc["holder"]["birth_date"] == "1990-03-07"
    raw = persona_toml("gen2")["ef05"]
    assert doc["issuer"]["card_number"] == raw["card_number"]
    assert (
        doc["issuer"]["card_identification_parts"]["serial"]
        == raw["card_identification"][16:24].upper()
    )


def test_debug_trace_goes_to_stderr_redacted(capsys):
    code, out, err = cli(capsys, "read", "--emulator", "gen2", "-d")
    assert code == 0
    assert err.count("> ") == 3 and "9000" in err
    assert GEN2_SSN not in err and GEN2_SSN not in out


@pytest.mark.parametrize("persona", list_personas())
def test_every_persona_in_both_views(capsys, persona):
    raw = persona_toml(persona)
    expected = {"ssse_blocked": 6, "card_blocked": 6}.get(raw.get("state", "active"))
    if expected is None:
        expected = 7 if raw["ef05"]["spec_version"].startswith("3") else 0
    code, out, err = cli(capsys, "read", "--emulator", persona)
    assert code == expected, err
    code_json, out_json, err_json = cli(capsys, "read", "--emulator", persona, "--json")
    assert code_json == expected
    if expected == 6:
        assert out == "" and err.startswith("error: ") and err.count("\n") == 1
        assert "Traceback" not in err
        return
    doc = json.loads(out_json)
    assert doc["issuer"]["spec_version"] == (raw["ef05"]["spec_version"] or None)
    number = raw.get("ef06", {}).get("social_security_number")
    if number:
        assert number not in out and number not in out_json
    if expected == 7:
        assert doc["holder_status"] == "locked" and doc["holder"] is None
        assert "RKSSSE" in out


def test_unknown_persona_is_a_usage_error(capsys):
    code, out, err = cli(capsys, "read", "--emulator", "no-such-card")
    assert code == 2
    assert err.startswith("error: ") and "gen2" in err and err.count("\n") == 1


def test_conflicting_options(capsys):
    code, _, err = cli(capsys, "read", "--emulator", "gen2", "--reader", "0")
    assert code == 2 and "cannot be combined" in err


def test_no_reader_exit_code_and_fallback(capsys, no_reader):
    code, out, err = cli(capsys, "read")
    assert code == 3 and err.startswith("error: ") and err.count("\n") == 1
    code, out, err = cli(capsys, "read", "--emulator-fallback", "gen2")
    assert code == 0 and "emulator: gen2" in out and err.startswith("note: ")


def test_internal_error_is_one_line_without_debug(capsys, monkeypatch):
    import sscard.card

    def boom(self, **kwargs):
        raise RuntimeError("bug")

    monkeypatch.setattr(sscard.card.Card, "read_identity", boom)
    code, out, err = cli(capsys, "read", "--emulator", "gen2")
    assert code == 1 and err.startswith("error: internal error") and "Traceback" not in err
    code, out, err = cli(capsys, "read", "--emulator", "gen2", "-d")
    assert code == 1 and "Traceback" in err


def test_personas_listing(capsys):
    code, out, _ = cli(capsys, "personas", "--json")
    names = [p["name"] for p in json.loads(out)]
    assert code == 0 and names == list_personas() and "gen2" in names


def test_console_script_runs_in_a_fresh_process():
    result = subprocess.run(
        [sys.executable, "-m", "sscard.cli.main", "read", "--emulator", "gen3"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 7, result.stderr
    assert "locked" in result.stdout and result.stderr == ""


def test_readers_without_a_pcsc_service(capsys, monkeypatch):
    import sscard.transport.pcsc as pcsc
    from sscard import errors

    def no_service():
        raise errors.ServiceUnavailable()

    monkeypatch.setattr(pcsc, "list_readers", no_service)
    code, out, err = cli(capsys, "readers")
    assert code == 3 and out == "" and err.startswith("error: ") and "pcscd" in err
    monkeypatch.setattr(pcsc, "list_readers", lambda: [])
    code, out, err = cli(capsys, "readers", "--json")
    assert code == 3 and json.loads(out) == []


def test_debug_logging_ends_with_its_run(capsys):
    """-d sends the library's log to stderr for that run only: the CLI can run inside a
    kiosk program, and a later run without -d must print its one error line and nothing else."""
    assert run(["read", "--emulator", "card-blocked", "-d"]) == 6
    assert "log: sscard.card" in capsys.readouterr().err
    assert run(["read", "--emulator", "card-blocked"]) == 6
    err = capsys.readouterr().err
    assert err.startswith("error:") and err.count("\n") == 1

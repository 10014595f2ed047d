"""The CLI as a newcomer meets it (issue 10, item 4 and the friction list): one answer for
the Shanghai-style card, status verdicts and exit codes a kiosk can act on, reader choice,
environment variables, verbosity, replay, JSON errors, and the README matching all of it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from conftest import TODAY, FaultyTransport, persona_toml
from sscard import errors
from sscard.card import Card
from sscard.cli.main import run
from sscard.emulator import SocialSecurityCard
from sscard.errors import ExitCode
from sscard.transport.emulated import EmulatorTransport

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def cli(capsys, *args):
    code = run(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def shanghai_with(tmp_path, extra: str) -> str:
    """The Shanghai persona file plus `extra` TOML (e.g. a PIN)."""
    text = (Path(__file__).resolve().parents[1] / "sscard" / "emulator" / "personas"
            / "shanghai.toml").read_text(encoding="utf-8")
    path = tmp_path / "shanghai-pin.toml"
    path.write_text(text + extra, encoding="utf-8")
    return str(path)


# --- 10.4: the Shanghai-style card gets one answer everywhere ----------------------------------

def test_shanghai_ireadcardbas_says_what_the_layout_lacks_not_wrong_card_type(capsys):
    code, out, _ = cli(capsys, "read", "--emulator", "shanghai", "--format", "ireadcardbas")
    assert out == "-27266|卡中无持卡人基本信息文件(EF06)|\n"  # SELECT EF06 → 6A82, negated
    assert code == ExitCode.NOT_OFFERED != ExitCode.NOT_SSC


def test_shanghai_pin_tries_are_asked_like_status_asks_them(capsys, tmp_path):
    code, out, err = cli(capsys, "pin", "tries", "--emulator", "shanghai")
    assert code == 0, err
    assert "no PIN needed now" in out
    path = shanghai_with(tmp_path, "\n[pin]\nvalue = \"123456\"\ntries_left = 2\nmax_tries = 3\n")
    code, out, err = cli(capsys, "pin", "tries", "--emulator", path, "--json")
    assert code == 0, err
    assert json.loads(out)["tries_left"] == 2
    code, out, _ = cli(capsys, "status", "--emulator", path, "--json")
    assert code == 0
    pin = json.loads(out)["social_security"]["pin"]
    assert pin["tries_left"] == 2 and pin["source"] == "verify"


def test_shanghai_pin_verify_goes_through_the_mf(capsys, tmp_path):
    path = shanghai_with(tmp_path, "\n[pin]\nvalue = \"123456\"\ntries_left = 3\nmax_tries = 3\n")
    card = SocialSecurityCard.from_persona(path)
    with Card(EmulatorTransport(card, "shanghai")) as c:
        assert c.verify_pin("123456").verified
        with pytest.raises(errors.WrongPin) as info:
            c.verify_pin("654321")
    assert info.value.tries_left == 2


def test_shanghai_mf_without_pin_is_not_offered_not_a_wrong_card(tmp_path):
    def no_pin_here(index, apdu, response):  # the empty VERIFY in the MF
        return bytes.fromhex("6A88") if apdu == bytes.fromhex("00200000") else None
    transport = FaultyTransport(EmulatorTransport(SocialSecurityCard.from_persona("shanghai"),
                                                  "shanghai"), no_pin_here)
    with Card(transport) as card, pytest.raises(errors.NotOffered) as info:
        card.pin_tries()
    assert info.value.exit_code == ExitCode.NOT_OFFERED
    assert "6A88" in info.value.message and "Shanghai" in info.value.message
    transport = FaultyTransport(EmulatorTransport(SocialSecurityCard.from_persona("shanghai"),
                                                  "shanghai"), no_pin_here)
    with Card(transport) as card:
        status = card.read_status(today=TODAY)
    assert status.ssse.pin.source == "none" and status.exit_code == ExitCode.OK


def test_an_ssse_card_still_reports_an_odd_pin_answer_as_unknown(tmp_path):
    def odd(index, apdu, response):
        return bytes.fromhex("6A88") if apdu == bytes.fromhex("00200000") else None
    transport = FaultyTransport(EmulatorTransport(SocialSecurityCard.from_persona("gen2"), "gen2"),
                                odd)
    with Card(transport) as card:
        tries = card.pin_tries()
    assert tries.tries_left is None and tries.required


# --- status: verdicts and exit codes ----------------------------------------------------------

def test_bank_identity_mismatch_has_its_own_exit_code(capsys):
    code, out, _ = cli(capsys, "status", "--emulator", "bank-mismatch", "--bank-records", "--json")
    assert code == ExitCode.MISMATCH == 15
    outcomes = {c["item"]: c["outcome"] for c in json.loads(out)["cross_checks"]}
    assert outcomes["id_number"] == "mismatch"
    code, _, _ = cli(capsys, "status", "--emulator", "bank-mismatch")
    assert code == ExitCode.OK  # without the records nothing can be compared
    code, _, _ = cli(capsys, "status", "--emulator", "bank-used", "--bank-records")
    assert code == ExitCode.OK  # the same person on both sides


def test_status_without_records_does_not_call_an_expired_bank_application_fine(capsys):
    code, out, _ = cli(capsys, "status", "--emulator", "bank-expired")
    assert code == ExitCode.OK
    bank = out.split("bank application")[1]
    assert "expiry unknown without records" in bank and "有效期未知" in bank
    code, _, _ = cli(capsys, "status", "--emulator", "bank-expired", "--bank-records")
    assert code == ExitCode.EXPIRED


def test_exit_code_table_in_readme_and_help_lists_the_new_codes(capsys):
    rows = dict(re.findall(r"^\| (\d+) \| (.+?) \|$", README, re.M))
    assert "15" in rows and "mismatch" in rows["15"]
    assert "16" in rows and "does not offer" in rows["16"]
    code, out, _ = cli(capsys, "--help")
    assert code == 0
    assert re.search(r"^\s+15\s+.*mismatch", out, re.M)
    assert re.search(r"^\s+16\s+.*does not offer", out, re.M)

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


# --- one language order, nothing English-only, no raw codes, wrapped ---------------------------

CJK = re.compile(r"[\u2e80-\u9fff\uff00-\uffef]")


def _english_only(text: str) -> list[str]:
    """Lines with English words but no Chinese (an ATR or a status word alone is fine)."""
    return [line for line in text.splitlines()
            if re.search(r"[a-z]{3}", line) and not CJK.search(line)]


@pytest.mark.parametrize("args", [("bank-used", "--bank-records"), ("bank-blocked",),
                                  ("gen3",), ("shanghai",), ("card-blocked",), ("gen1",)])
def test_status_reads_english_then_chinese_with_nothing_raw(capsys, args):
    _, out, _ = cli(capsys, "status", "--emulator", *args)
    assert _english_only(out) == []
    for raw in ("not_done", "not_requested", "application_blocked", "card_blocked", " 0156 "):
        assert raw not in out
    assert "社保功能启用 enablement" not in out and "金融功能激活 activation" not in out
    assert "enablement / 社保功能启用" in out and "activation / 金融功能激活" in out


def test_status_names_currencies(capsys):
    _, out, _ = cli(capsys, "status", "--emulator", "bank-used")
    assert "0156" not in out and "CNY (renminbi) / 人民币" in out


@pytest.mark.parametrize("persona", ["gen2", "gen3", "gen1", "shanghai"])
def test_read_reads_english_then_chinese(capsys, persona):
    _, out, _ = cli(capsys, "read", "--emulator", persona)
    assert _english_only(out) == []
    assert "Issuer data / 发卡机构数据" in out and "Card number / 社会保障卡卡号" in out
    assert "发卡机构数据 Issuer data" not in out and "yes 是" not in out


def test_readers_and_watch_lines_name_what_happened(capsys, monkeypatch):
    from sscard.cli import main
    from sscard.transport import pcsc
    monkeypatch.setattr(pcsc, "list_readers", lambda: [
        pcsc.ReaderState("Reader A", True, bytes.fromhex("3B6D00"), False),
        pcsc.ReaderState("Reader B", False, None, False)])
    monkeypatch.setattr(main, "_probe", lambda reader: "mf")
    code, out, _ = cli(capsys, "readers")
    assert code == 0 and _english_only(out) == []
    assert "Shanghai-style" in out and "上海式卡" in out and "no card / 无卡" in out
    for event, words in (("service_lost", "PC/SC service lost"), ("reader_added", "reader added"),
                         ("service_restored", "PC/SC service back")):
        line = main._watch_line({"time": "t", "event": event, "reader": "Reader A", "atr": None})
        assert event not in line and words in line and CJK.search(line)


def _columns(text: str) -> int:
    from sscard.cli.textwidth import columns
    return columns(text)


@pytest.mark.parametrize("command", [("status", "--emulator", "bank-used", "--bank-records"),
                                     ("read", "--emulator", "gen3"), ("read", "--emulator", "gen1")])
def test_human_views_wrap_to_the_terminal_width(capsys, monkeypatch, command):
    _, wide, _ = cli(capsys, *command)
    monkeypatch.setenv("COLUMNS", "60")
    _, out, _ = cli(capsys, *command)
    assert max(_columns(line) for line in out.splitlines()) <= 60
    assert max(_columns(line) for line in wide.splitlines()) > 60  # there was something to wrap
    # nothing lost: the same words, in the same order
    assert re.sub(r"\s+", "", out) == re.sub(r"\s+", "", wide)


def test_wrapping_keeps_chinese_punctuation_with_its_word():
    from sscard.cli.textwidth import wrap
    lines = wrap("  " + "甲" * 10 + "，" + "乙" * 10, 24)
    assert all(_columns(line) <= 24 for line in lines)
    assert not any(line.lstrip().startswith("，") for line in lines)


# --- what a holder must hear ------------------------------------------------------------------

def test_status_tells_a_new_card_holder_about_activation_and_scams(capsys):
    code, out, _ = cli(capsys, "status", "--emulator", "gen2", "--json")
    advice = {a["code"]: a for a in json.loads(out)["advice"]}
    assert set(advice) == {"new_bank_account"}
    a = advice["new_bank_account"]
    assert "zero" in a["en"] and "issuing bank" in a["en"] and "ID card" in a["en"]
    assert "PIN" in a["en"] and "verification code" in a["en"]
    assert "余额显示为零" in a["zh"] and "身份证" in a["zh"] and "验证码" in a["zh"]
    _, text, _ = cli(capsys, "status", "--emulator", "gen2")
    assert a["en"] in text.replace("\n", " ") and a["zh"] in text
    _, out, _ = cli(capsys, "status", "--emulator", "bank-used", "--json")
    assert json.loads(out)["advice"] == []  # a used account: nothing to explain


@pytest.mark.parametrize("persona,advice", [("bank-blocked", "bank_blocked"),
                                            ("ssse-blocked", "ssse_blocked"),
                                            ("card-blocked", "card_blocked")])
def test_status_says_where_to_unblock_or_replace(capsys, persona, advice):
    code, out, _ = cli(capsys, "status", "--emulator", persona, "--json")
    assert code == ExitCode.CARD_BLOCKED
    found = {a["code"]: a for a in json.loads(out)["advice"]}
    assert advice in found and "new_bank_account" not in found
    assert "12333" in found[advice]["en"] and "12333" in found[advice]["zh"]
    where = "issuing bank" if advice == "bank_blocked" else "social security bureau"
    assert where in found[advice]["en"]


# --- after setup: pcscd and PATH ----------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[1]


def test_fallback_note_says_how_to_start_pcscd_the_same_in_both_languages(capsys, monkeypatch):
    import sscard

    def down(*args, **kwargs):
        raise errors.ServiceUnavailable()
    monkeypatch.setattr(sscard, "open", down)
    code, out, err = cli(capsys, "read", "--emulator-fallback", "gen2")
    assert code == 0 and "emulator: gen2" in out
    en, zh = err.split(" / ", 1)
    for half in (en, zh):
        assert "sudo pcscd" in half and "systemctl start pcscd" in half and "gen2" in half
    assert "not running" in en and "systemd" in en
    assert "未运行" in zh and "未找到实体卡" not in zh
    code, _, err = cli(capsys, "read")  # the error itself says it too
    assert code == ExitCode.NO_READER
    assert all("sudo pcscd" in half for half in err.split(" / ", 1))


def _after_setup(tmp_path, *args, path: str, socket: str):
    import os
    import subprocess
    env = dict(os.environ, PATH=path, PCSCLITE_CSOCK_NAME=socket,
               SSCARD_LINK_DIR=str(tmp_path / "bin"))
    done = subprocess.run(["bash", str(ROOT / ".ci" / "after-setup.sh"), *args], env=env,
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_setup_says_how_to_run_sscard_by_name_and_links_it(tmp_path):
    plain = "/usr/bin:/bin"
    out = _after_setup(tmp_path, path=plain, socket="/nonexistent/pcscd.comm")
    assert "not on your PATH" in out and ". .venv/bin/activate" in out and "--link" in out
    assert "不在 PATH 中" in out
    assert "sudo pcscd" in out and "没有 systemd" in out  # and how to start pcscd
    out = _after_setup(tmp_path, "--link", path=plain, socket="/nonexistent/pcscd.comm")
    link = tmp_path / "bin" / "sscard"
    assert link.resolve() == (ROOT / ".venv" / "bin" / "sscard").resolve()
    import socket
    with socket.socket(socket.AF_UNIX) as listening:  # a PC/SC service socket exists
        listening.bind(str(tmp_path / "pcscd.comm"))
        out = _after_setup(tmp_path, path=f"{tmp_path / 'bin'}:{plain}",
                           socket=str(tmp_path / "pcscd.comm"))
    assert "not on your PATH" not in out and "pcscd" not in out
    assert "--link" in (ROOT / ".ci" / "setup.sh").read_text() and "--link" in README

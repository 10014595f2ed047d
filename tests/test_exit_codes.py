"""One exit-code table (README, --help, the error classes), one rule for card refusals,
one-line bilingual usage errors, and Ctrl-C as exit 130 everywhere."""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import click
import pytest
from helpers import card_of, cli

import sscard
from sscard import errors
from sscard.card import Card
from sscard.errors import ExitCode
from sscard.spec import load_spec

README = Path(__file__).resolve().parents[1] / "README.md"
CJK = re.compile(r"[\u4e00-\u9fff]")


# --- one table ------------------------------------------------------------------------------


def readme_exit_codes() -> list[tuple[int, str, str]]:
    text = README.read_text(encoding="utf-8")
    table = text[text.index("| exit code |") :]
    rows = []
    for line in table.splitlines()[2:]:
        if not line.startswith("|"):
            break
        code, en, zh = (cell.strip() for cell in line.strip("|").split(" | "))
        rows.append((int(code), en, zh))
    return rows


def test_readme_table_is_the_exit_code_table():
    assert readme_exit_codes() == [tuple(row) for row in errors.EXIT_CODES]


def test_help_prints_the_exit_code_table(capsys):
    code, out, _ = cli(capsys, "--help")
    assert code == 0
    shown = out[out.index("Exit codes") :]
    for number, en, zh in errors.EXIT_CODES:
        assert re.search(rf"^\s+{number}\s+{re.escape(en)}\n\s+{re.escape(zh)}$", shown, re.M), (
            number
        )


def test_every_code_an_error_class_or_the_cli_returns_is_in_the_table():
    documented = {code for code, _, _ in errors.EXIT_CODES}
    assert documented == {v for k, v in vars(ExitCode).items() if k.isupper()}

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    assert {c.exit_code for c in subclasses(errors.SscardError)} <= documented


# --- the rule for refusals ------------------------------------------------------------------


def test_every_status_word_exits_by_the_rule():
    rule = dict(errors.SW_RULE)
    for status in load_spec().status_words.entries:
        if not status.error:
            continue
        cls = errors.error_class(status.error)
        assert cls.sw_class in rule, (status.pattern, status.error)
        assert cls.exit_code == rule[cls.sw_class], (status.pattern, status.error)
    assert errors.UnknownStatus().exit_code == ExitCode.COMMUNICATION
    assert errors.CommandError().exit_code == ExitCode.CARD_REFUSED
    for blocked in ("6283", "9303", "6A81", "6983"):
        found = load_spec().status_words.lookup(int(blocked, 16))
        assert errors.error_class(found.error).sw_class == "blocked", blocked


def test_a_status_word_names_a_refusal_class(tmp_path):
    # a status word's error is raised with its SW and command: only a CommandError takes them
    assert errors.error_class("WrongLength") is errors.WrongLength
    with pytest.raises(KeyError):
        errors.error_class("CardRemoved")
    from sscard.spec.loader import build_spec, spec_dir

    for f in Path(spec_dir()).glob("*.toml"):
        (tmp_path / f.name).write_bytes(f.read_bytes())
    words = tmp_path / "status_words.toml"
    text = words.read_text(encoding="utf-8")
    assert 'error = "NotFound"' in text
    words.write_text(text.replace('error = "NotFound"', 'error = "CardRemoved"', 1), "utf-8")
    with pytest.raises(errors.SpecError, match="unknown error class 'CardRemoved'"):
        build_spec(str(tmp_path))


def faulty_card(persona, fault):
    return card_of(persona, fault).card


def answer_select_ssse_with(sw: str):
    name = load_spec().ssse.name

    def fault(index, apdu, response):
        if apdu[:2] == b"\x00\xa4" and name in apdu:
            return bytes.fromhex(sw)
        return None

    return fault


def use_card(monkeypatch, make):
    monkeypatch.setattr(sscard, "open_emulator", lambda *a, **k: make())


@pytest.mark.parametrize("command", [["read"], ["status"], ["pin", "tries"]])
def test_6283_on_select_ssse_is_a_blocked_application(capsys, monkeypatch, command):
    use_card(monkeypatch, lambda: faulty_card("gen2", answer_select_ssse_with("6283")))
    code, out, err = cli(capsys, *command, "--emulator", "gen2")
    assert code == ExitCode.CARD_BLOCKED, err
    assert "not a social security card" not in err + out
    with pytest.raises(errors.ApplicationBlocked, match="SW 6283"):
        faulty_card("gen2", answer_select_ssse_with("6283")).read_identity()
    assert faulty_card("gen2", answer_select_ssse_with("6283")).probe() == "blocked"


def test_select_ssse_not_found_is_still_not_an_ssc(capsys, monkeypatch):
    def fault(index, apdu, response):  # no SSSE, and no EF05 under the MF either
        return bytes.fromhex("6A82") if apdu[:2] == b"\x00\xa4" else None

    use_card(monkeypatch, lambda: faulty_card("gen2", fault))
    code, _, err = cli(capsys, "read", "--emulator", "gen2")
    assert code == ExitCode.NOT_SSC and "该卡不是社会保障卡" in err


def test_6d00_on_change_pin_is_a_refusal_not_a_foreign_card(capsys, monkeypatch):
    def fault(index, apdu, response):
        return bytes.fromhex("6D00") if apdu[:2] == b"\x80\x5e" else None

    use_card(monkeypatch, lambda: faulty_card("gen2", fault))
    monkeypatch.setattr("sys.stdin", io.StringIO("123456\n654321\n654321\n"))
    code, _, err = cli(capsys, "pin", "change", "--emulator", "gen2", "--pin-stdin")
    assert code == 17, err
    assert "6D00" in err and "不是社会保障卡" not in err and err.count("\n") == 1


def test_a_refusal_during_a_read_exits_17(capsys, monkeypatch):
    def fault(index, apdu, response):  # READ RECORD refused with "memory failure"
        return bytes.fromhex("6581") if apdu[:2] == b"\x00\xb2" else None

    use_card(monkeypatch, lambda: faulty_card("gen2", fault))
    code, _, err = cli(capsys, "read", "--emulator", "gen2")
    assert code == 17 and "6581" in err


def test_a_card_in_use_by_another_program_has_its_own_code(capsys, monkeypatch):
    def busy(*a, **k):
        raise errors.CardBusy("the card is in use by another program")

    monkeypatch.setattr(sscard, "open", busy)
    code, _, err = cli(capsys, "read")
    assert code == 18
    assert err.startswith("error: ") and "卡片正被其他程序占用" in err


# --- usage errors: one bilingual line ------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["bogus"],
        ["read", "--bogus"],
        ["read", "--format", "xml"],
        ["read", "--wait", "abc"],
        ["read", "--emulator", "gen2", "-r", "0"],
        ["read", "--keys", "test", "--psam", "emulator"],
        ["read", "--hsm-step2", "-"],
        ["status", "--emulator", "gen2", "--wait", "1"],
        ["readers", "extra"],
        ["watch", "--count", "0"],
        ["emulate"],
        ["emulate", "psam", "--psam"],
        ["emulate", "gen2", "--slot", "7"],
        ["personas", "--bogus"],
        ["serve", "--keys", "test", "--psam", "emulator"],
        ["serve", "--hsm-timeout", "nan"],
        ["serve", "--hsm-timeout", "inf"],
        ["serve", "--allow-origin", "null"],
    ],
)
def test_usage_errors_are_one_bilingual_line(capsys, argv):
    code, out, err = cli(capsys, *argv)
    assert code == ExitCode.USAGE
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("error: "), err
    english, chinese = err.split(" / ", 1)
    assert CJK.search(chinese) and not CJK.search(english.replace("sscard", "")), err
    assert "--help" in english and "--help" in chinese
    assert "Usage:" not in err and "Try '" not in err


@pytest.mark.parametrize(
    "argv,hint,chinese",
    [
        (["pin", "bogus"], "sscard pin --help", "无此子命令"),
        (["readers", "x", "y"], "sscard readers --help", "多余的参数"),
        (["read", "--emulator"], "sscard read --help", "选项用法错误"),
        (["pin", "verify", "--floor"], "sscard pin verify --help", "选项用法错误"),
        (["-d", "status", "--bogus"], "sscard status --help", "无此选项"),
    ],
)
def test_usage_errors_name_the_command_and_say_what_in_chinese(capsys, argv, hint, chinese):
    code, _, err = cli(capsys, *argv)
    assert code == ExitCode.USAGE
    english, zh = err.split(" / ", 1)
    assert f"(see '{hint}')" in english and f"参见 '{hint}'" in zh and zh.startswith(chinese)


# --- Ctrl-C ------------------------------------------------------------------------------------


def interrupt(*a, **k):
    raise KeyboardInterrupt


def test_interrupt_during_a_read_exits_130(capsys, monkeypatch):
    monkeypatch.setattr(Card, "read_identity", interrupt)
    code, out, err = cli(capsys, "read", "--emulator", "gen2")
    assert code == 130
    assert out == "" and err == "error: interrupted / 已中断\n"


def test_interrupt_in_ireadcardbas_format_prints_a_code_line(capsys, monkeypatch):
    monkeypatch.setattr(Card, "read_identity", interrupt)
    code, out, _ = cli(capsys, "read", "--emulator", "gen2", "--format", "ireadcardbas")
    assert code == 130 and out == "-31|用户取消|\n"


def test_interrupt_while_waiting_for_a_card_exits_130(capsys, monkeypatch):
    monkeypatch.setattr(sscard, "open", interrupt)
    assert cli(capsys, "read", "--wait")[0] == 130
    assert cli(capsys, "pin", "tries", "--wait", "5")[0] == 130


def test_interrupt_at_the_pin_prompt_exits_130(capsys, monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setattr("sys.stdin", Terminal(""))

    def ctrl_c(*a, **k):  # what click.prompt raises on Ctrl-C (and on Ctrl-D)
        raise click.exceptions.Abort()

    monkeypatch.setattr(click, "prompt", ctrl_c)
    code, _, err = cli(capsys, "pin", "verify", "--emulator", "gen2")
    assert code == 130 and "interrupted" in err


def test_sigint_stops_watch_with_130():
    """A real SIGINT to a running `sscard watch` (no pcscd here: it reports service_lost and
    keeps waiting for the service)."""
    env = dict(os.environ, PCSCLITE_CSOCK_NAME="/nonexistent/sscard-test.comm")
    proc = subprocess.Popen(
        [sys.executable, "-m", "sscard.cli.main", "watch"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = proc.stdout.readline()  # the watcher runs: its first event is out
        assert "PC/SC service lost" in first
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130
    assert err == "error: interrupted / 已中断\n"


def test_ctrl_c_at_a_real_pin_prompt_exits_130():
    """Under a real terminal (a pty): Ctrl-C typed at the hidden PIN prompt."""
    import pty
    import select

    pid, fd = pty.fork()
    if pid == 0:  # the child: sscard with the pty as its controlling terminal
        os.execv(
            sys.executable,
            [sys.executable, "-m", "sscard.cli.main", "pin", "verify", "--emulator", "gen2"],
        )
    seen = b""
    try:
        while b"PIN" not in seen:
            ready, _, _ = select.select([fd], [], [], 30)
            assert ready, f"no prompt: {seen!r}"
            seen += os.read(fd, 1024)
        os.write(fd, b"\x03")  # the terminal turns it into SIGINT for the foreground group
        while True:
            ready, _, _ = select.select([fd], [], [], 30)
            assert ready, f"still running: {seen!r}"
            try:
                chunk = os.read(fd, 1024)
            except OSError:  # EIO: the child is gone
                break
            if not chunk:
                break
            seen += chunk
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 130, seen
    assert b"interrupted" in seen and b"Traceback" not in seen

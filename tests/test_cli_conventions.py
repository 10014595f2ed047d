"""The CLI as a newcomer meets it (issue 10, item 4 and the friction list): one answer for
the Shanghai-style card, status verdicts and exit codes a kiosk can act on, reader choice,
environment variables, verbosity, replay, JSON errors, and the README matching all of it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from helpers import TODAY, FaultyTransport, cli

from sscard import errors
from sscard.card import Card
from sscard.emulator import SocialSecurityCard
from sscard.errors import ExitCode
from sscard.transport.emulated import EmulatorTransport

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def shanghai_with(tmp_path, extra: str) -> str:
    """The Shanghai persona file plus `extra` TOML (e.g. a PIN)."""
    text = (
        Path(__file__).resolve().parents[1] / "sscard" / "emulator" / "personas" / "shanghai.toml"
    ).read_text(encoding="utf-8")
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
    path = shanghai_with(tmp_path, '\n[pin]\nvalue = "123456"\ntries_left = 2\nmax_tries = 3\n')
    code, out, err = cli(capsys, "pin", "tries", "--emulator", path, "--json")
    assert code == 0, err
    assert json.loads(out)["tries_left"] == 2
    code, out, _ = cli(capsys, "status", "--emulator", path, "--json")
    assert code == 0
    pin = json.loads(out)["social_security"]["pin"]
    assert pin["tries_left"] == 2 and pin["source"] == "verify"


def test_shanghai_pin_verify_goes_through_the_mf(capsys, tmp_path):
    path = shanghai_with(tmp_path, '\n[pin]\nvalue = "123456"\ntries_left = 3\nmax_tries = 3\n')
    card = SocialSecurityCard.from_persona(path)
    with Card(EmulatorTransport(card, "shanghai")) as c:
        assert c.verify_pin("123456").verified
        with pytest.raises(errors.WrongPin) as info:
            c.verify_pin("654321")
    assert info.value.tries_left == 2


def test_shanghai_mf_without_pin_is_not_offered_not_a_wrong_card(tmp_path):
    def no_pin_here(index, apdu, response):  # the empty VERIFY in the MF
        return bytes.fromhex("6A88") if apdu == bytes.fromhex("00200000") else None

    transport = FaultyTransport(
        EmulatorTransport(SocialSecurityCard.from_persona("shanghai"), "shanghai"), no_pin_here
    )
    with Card(transport) as card, pytest.raises(errors.NotOffered) as info:
        card.pin_tries()
    assert info.value.exit_code == ExitCode.NOT_OFFERED
    assert "6A88" in info.value.message and "Shanghai" in info.value.message
    transport = FaultyTransport(
        EmulatorTransport(SocialSecurityCard.from_persona("shanghai"), "shanghai"), no_pin_here
    )
    with Card(transport) as card:
        status = card.read_status(today=TODAY)
    assert status.ssse.pin.source == "none" and status.exit_code == ExitCode.OK


def test_an_ssse_card_still_reports_an_odd_pin_answer_as_unknown(tmp_path):
    def odd(index, apdu, response):
        return bytes.fromhex("6A88") if apdu == bytes.fromhex("00200000") else None

    transport = FaultyTransport(
        EmulatorTransport(SocialSecurityCard.from_persona("gen2"), "gen2"), odd
    )
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
    return [
        line for line in text.splitlines() if re.search(r"[a-z]{3}", line) and not CJK.search(line)
    ]


@pytest.mark.parametrize(
    "args",
    [
        ("bank-used", "--bank-records", "--logs"),
        ("bank-blocked",),
        ("gen3",),
        ("shanghai",),
        ("card-blocked",),
        ("gen1",),
    ],
)
def test_status_reads_english_then_chinese_with_nothing_raw(capsys, args):
    _, out, _ = cli(capsys, "status", "--emulator", *args)
    assert _english_only(out) == []
    for raw in ("not_done", "not_requested", "application_blocked", "card_blocked", " 0156 "):
        assert raw not in out
    assert "社保功能启用 enablement" not in out and "金融功能激活 activation" not in out
    assert "enablement / 社保功能启用" in out and "activation / 金融功能激活" in out


def test_status_names_currencies(capsys):
    _, out, _ = cli(capsys, "status", "--emulator", "bank-used", "--logs")
    assert "0156" not in out and "CNY (renminbi) / 人民币" in out


@pytest.mark.parametrize("persona", ["gen2", "gen3", "gen1", "shanghai"])
def test_read_reads_english_then_chinese(capsys, persona):
    _, out, _ = cli(capsys, "read", "--emulator", persona)
    assert _english_only(out) == []
    assert "Issuer data / 发卡机构数据" in out and "Card number / 社会保障卡卡号" in out
    assert "发卡机构数据 Issuer data" not in out and "yes 是" not in out


def test_readers_and_watch_lines_name_what_happened(capsys, monkeypatch):
    from sscard.cli import readers_cmd, watch_cmd
    from sscard.transport import pcsc

    monkeypatch.setattr(
        pcsc,
        "list_readers",
        lambda: [
            pcsc.ReaderState("Reader A", True, bytes.fromhex("3B6D00"), False),
            pcsc.ReaderState("Reader B", False, None, False),
        ],
    )
    monkeypatch.setattr(readers_cmd, "_probe", lambda reader: "mf")
    code, out, _ = cli(capsys, "readers")
    assert code == 0 and _english_only(out) == []
    assert "Shanghai-style" in out and "上海式卡" in out and "no card / 无卡" in out
    for event, words in (
        ("service_lost", "PC/SC service lost"),
        ("reader_added", "reader added"),
        ("service_restored", "PC/SC service back"),
    ):
        line = watch_cmd._watch_line(
            {"time": "t", "event": event, "reader": "Reader A", "atr": None}
        )
        assert event not in line and words in line and CJK.search(line)


def _columns(text: str) -> int:
    from sscard.cli.textwidth import columns

    return columns(text)


@pytest.mark.parametrize(
    "command",
    [
        ("status", "--emulator", "bank-used", "--bank-records", "--logs"),
        ("read", "--emulator", "gen3"),
        ("read", "--emulator", "gen1"),
    ],
)
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


@pytest.mark.parametrize(
    "persona,advice",
    [
        ("bank-blocked", "bank_blocked"),
        ("ssse-blocked", "ssse_blocked"),
        ("card-blocked", "card_blocked"),
    ],
)
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

    env = dict(
        os.environ, PATH=path, PCSCLITE_CSOCK_NAME=socket, SSCARD_LINK_DIR=str(tmp_path / "bin")
    )
    done = subprocess.run(
        ["bash", str(ROOT / ".ci" / "after-setup.sh"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
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
        out = _after_setup(
            tmp_path, path=f"{tmp_path / 'bin'}:{plain}", socket=str(tmp_path / "pcscd.comm")
        )
    assert "not on your PATH" not in out and "pcscd" not in out
    assert "--link" in (ROOT / ".ci" / "setup.sh").read_text() and "--link" in README


# --- reader choice: --wait for pcscd and the reader, ignored readers, watch -r ------------------


class _Clock:
    """time for sscard.transport.pcsc: sleep() moves monotonic() on, nothing really waits."""

    def __init__(self):
        self.now, self.sleeps = 0.0, []

    def monotonic(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def _fake_pcsc(monkeypatch, script):
    """Each new PC/SC context takes the next step of `script`: "down" (no pcscd) or a list of
    (reader, card present); the last step stays."""
    from sscard.transport import pcsc

    clock = _Clock()
    monkeypatch.setattr(pcsc, "time", clock)
    steps = list(script)

    class FakeContext:
        def __init__(self):
            self.step = steps.pop(0) if len(steps) > 1 else steps[0]
            if self.step == "down":
                raise errors.ServiceUnavailable()

        def readers(self):
            return [name for name, _ in self.step]

        def states(self, names):
            return [
                pcsc.ReaderState(n, present, b"\x3b\x6d" if present else None, False)
                for n, present in self.step
                if n in names
            ]

        def wait_for_card(self, names, timeout):
            raise errors.NoCard("no card was inserted in time")

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            pass

    monkeypatch.setattr(pcsc, "Context", FakeContext)
    monkeypatch.setattr(pcsc, "_connect", lambda reader, shared: reader)
    monkeypatch.setattr(
        pcsc.PcscTransport,
        "__init__",
        lambda self, connection, reader, shared: setattr(self, "reader", reader),
    )
    return pcsc.PcscTransport, clock


def test_wait_waits_for_pcscd_and_the_reader(monkeypatch):
    transport, clock = _fake_pcsc(monkeypatch, ["down", "down", [], [("Reader A", True)]])
    assert transport.open(None, wait=float("inf")).reader == "Reader A"
    assert len(clock.sleeps) == 3 and all(0 < s <= 1 for s in clock.sleeps)


def test_wait_waits_for_a_named_reader_to_be_plugged_in(monkeypatch):
    transport, _ = _fake_pcsc(
        monkeypatch, [[("Reader A", True)], [("Reader A", True), ("Reader B", True)]]
    )
    assert transport.open("Reader B", wait=10).reader == "Reader B"


def test_wait_for_pcscd_ends_at_its_deadline(monkeypatch):
    transport, clock = _fake_pcsc(monkeypatch, ["down"])
    with pytest.raises(errors.ServiceUnavailable, match="not running"):
        transport.open(None, wait=3)
    assert 3 <= clock.now < 4  # bounded by the deadline, in steps of at most 0.5 s
    transport, clock = _fake_pcsc(monkeypatch, ["down"])
    with pytest.raises(errors.ServiceUnavailable, match="not running"):
        transport.open(None)  # without --wait: at once
    assert clock.sleeps == []


def test_reader_ignore_is_passed_over_when_choosing_by_default(monkeypatch):
    transport, _ = _fake_pcsc(monkeypatch, [[("ACS SAM slot 00", True), ("ACS PICC 01", True)]])
    assert transport.open(None).reader == "ACS SAM slot 00"
    assert transport.open(None, ignore=("sam",)).reader == "ACS PICC 01"
    assert transport.open("SAM", ignore=("sam",)).reader == "ACS SAM slot 00"  # named: taken
    transport, _ = _fake_pcsc(monkeypatch, [[("ACS SAM slot 00", True)]])
    with pytest.raises(errors.NoReader, match="besides the ignored ones"):
        transport.open(None, ignore=("SAM",))


def test_cli_takes_reader_and_ignore_from_the_environment(monkeypatch, capsys):
    import sscard

    seen = []

    def fake_open(reader=None, **kwargs):
        seen.append((reader, kwargs.get("ignore")))
        raise errors.NoCard()

    monkeypatch.setattr(sscard, "open", fake_open)
    monkeypatch.setenv("SSCARD_READER_IGNORE", "SAM; Hello ;")
    cli(capsys, "read")
    monkeypatch.setenv("SSCARD_READER", "PICC")
    cli(capsys, "status")
    code, _, _ = cli(capsys, "pin", "tries", "-r", "Other")
    assert seen == [
        (None, ("SAM", "Hello")),
        ("PICC", ("SAM", "Hello")),
        ("Other", ("SAM", "Hello")),
    ]
    assert code == ExitCode.NO_CARD


def _watch_readers(monkeypatch, names):
    from sscard.transport import pcsc

    class FakeContext:
        def readers(self):
            return list(names)

        def states(self, wanted):
            return [
                pcsc.ReaderState(n, i == 0, b"\x3b\x6d\x00\x00" if i == 0 else None, False)
                for i, n in enumerate(names)
                if n in wanted
            ]

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            pass

    monkeypatch.setattr(pcsc, "Context", FakeContext)


def test_watch_reader_index_is_that_reader_only(monkeypatch):
    from sscard.cli.watch_cmd import _watch_filters
    from sscard.transport.watch import CardWatcher

    names = ["Virtual PCD 00 00", "Virtual PCD 00 01"]
    _watch_readers(monkeypatch, names)
    filters = _watch_filters(("0",))
    assert CardWatcher(filters)._watched(names) == ["Virtual PCD 00 00"]
    assert CardWatcher(_watch_filters(("1",)))._watched(names) == ["Virtual PCD 00 01"]
    assert CardWatcher(_watch_filters(("PCD",)))._watched(names) == names  # a name part: all
    assert CardWatcher(_watch_filters(("3B6D",)))._watched(names) == ["Virtual PCD 00 00"]


@pytest.mark.parametrize("choice", ["nosuch", "7"])
def test_watch_a_reader_that_is_not_there_is_an_error(monkeypatch, capsys, choice):
    _watch_readers(monkeypatch, ["Virtual PCD 00 00", "Virtual PCD 00 01"])
    code, out, err = cli(capsys, "watch", "-r", choice, "--seconds", "0")
    assert code == ExitCode.USAGE and out == ""
    assert "Virtual PCD 00 01" in err and choice in err  # the readers there are, listed


# --- -q, -v, JSON errors, replay ----------------------------------------------------------------


def test_quiet_silences_the_fallback_note_but_not_errors(capsys, no_reader):
    code, out, err = cli(capsys, "read", "--emulator-fallback", "gen2")
    assert code == 0 and err.startswith("note: ")
    code, out, err = cli(capsys, "read", "--emulator-fallback", "gen2", "-q")
    assert code == 0 and err == "" and "emulator: gen2" in out
    code, _, err = cli(capsys, "read", "-q")
    assert code == ExitCode.NO_READER and err.startswith("error: ")


def test_verbose_is_repeatable_log_then_trace(capsys):
    _, _, err = cli(capsys, "read", "--emulator", "gen2")
    assert err == ""
    _, _, err = cli(capsys, "read", "--emulator", "gen2", "-v")
    assert "log: sscard" in err and "> 00A40400" not in err
    _, _, err = cli(capsys, "read", "--emulator", "gen2", "-vv")
    assert "log: sscard" in err and "> 00A40400" in err
    assert "110101199003071233" not in err and "测试甲" not in err  # redacted as with -d
    _, _, err = cli(capsys, "read", "--emulator", "gen2", "-v", "-d")
    assert err.count("identity read:") == 1  # one log handler, not two


@pytest.mark.parametrize(
    "args,exit_code,kind",
    [
        (("read", "--emulator", "nosuch", "--json"), ExitCode.USAGE, "InvalidArgument"),
        (("read", "--format", "json", "--bogus"), ExitCode.USAGE, "UsageError"),
        (("status", "--emulator", "card-blocked", "--json", "--bank-records"), 6, None),
        (("pin", "tries", "--emulator", "gen1", "--json"), ExitCode.OK, None),
    ],
)
def test_json_errors_with_json(capsys, args, exit_code, kind):
    code, out, err = cli(capsys, *args)
    assert code == exit_code
    doc = json.loads(out)  # standard output is always one JSON document
    if kind is None:
        assert "schema" not in doc or doc["schema"] != "sscard.error/1"
        return
    assert doc["schema"] == "sscard.error/1" and err.startswith("error: ")
    e = doc["error"]
    assert e["type"] == kind and e["exit_code"] == exit_code and e["en"] and e["zh"]
    assert set(e) == {"type", "exit_code", "en", "zh", "sw", "tries_left"}


def test_json_error_for_a_missing_reader(capsys, no_reader):
    code, out, _ = cli(capsys, "status", "--json")
    assert code == ExitCode.NO_READER
    assert json.loads(out)["error"]["type"] == "NoReader"
    code, out, _ = cli(capsys, "status")
    assert out == ""  # without --json, standard output stays empty


@pytest.mark.parametrize(
    "command",
    [
        ("read", "--emulator", "gen2"),
        ("read", "--emulator", "gen2", "--json", "--reveal"),
        ("status", "--emulator", "bank-used", "--bank-records"),
        ("status", "--emulator", "bank-used", "--logs"),
    ],
)
def test_replay_runs_the_recorded_command_again(capsys, tmp_path, command):
    path = str(tmp_path / "trace.json")
    code, live, _ = cli(capsys, *command, "--record", path)
    shown = [a for a in command[3:] if a in ("--json", "--reveal")]
    code_replayed, replayed, err = cli(capsys, "replay", path, *shown)
    assert code_replayed == code and err == ""
    if "--json" in shown:  # the same document, but for where it came from
        live_doc, replayed_doc = json.loads(live), json.loads(replayed)
        assert replayed_doc.pop("source")["kind"] == "replay"
        live_doc.pop("source")
        assert replayed_doc == live_doc and replayed_doc["holder"]["name"] == "测试甲"
    else:
        assert replayed.replace("replay: trace.json", "X") == live.replace(
            f"emulator: {command[2]}", "X"
        )
    assert json.loads(Path(path).read_text())["sscard_command"]["name"] == command[0]


def test_replay_of_a_trace_that_does_not_fit_is_an_error(capsys, tmp_path):
    path = tmp_path / "trace.json"
    cli(capsys, "read", "--emulator", "gen2", "--record", str(path))
    doc = json.loads(path.read_text())
    doc["exchanges"] = doc["exchanges"][:1]
    path.write_text(json.dumps(doc))
    code, out, err = cli(capsys, "replay", str(path))
    assert code == ExitCode.COMMUNICATION and out == "" and "was not recorded" in err
    doc["sscard_command"] = {"name": "emulate"}
    path.write_text(json.dumps(doc))
    code, _, err = cli(capsys, "replay", str(path))
    assert code == ExitCode.USAGE and "emulate" in err


def _readme_bullet(start: str) -> str:
    text = README.split(start, 1)[1]
    return text.split("\n- ", 1)[0]


def test_readme_documents_the_json_of_readers_pin_personas_watch_and_errors(capsys, monkeypatch):
    from sscard.cli import readers_cmd
    from sscard.transport import pcsc
    from sscard.transport.watch import CardEvent

    monkeypatch.setattr(
        pcsc,
        "list_readers",
        lambda: [pcsc.ReaderState("Reader A", True, bytes.fromhex("3B6D00"), False)],
    )
    monkeypatch.setattr(readers_cmd, "_probe", lambda reader: "yes")
    documented = {
        "`readers` lists": json.loads(cli(capsys, "readers", "--json")[1])[0],
        "`pin tries --json`": json.loads(
            cli(capsys, "pin", "tries", "--emulator", "gen2", "--json")[1]
        ),
        "`personas --json`": json.loads(cli(capsys, "personas", "--json")[1])[0],
        "`watch` prints": CardEvent("inserted", "Reader A", b"\x3b").to_dict(),
        "Errors print a single line": json.loads(
            cli(capsys, "read", "--emulator", "x", "--json")[1]
        )["error"],
    }
    for bullet, doc in documented.items():
        text = _readme_bullet(bullet)
        for key in doc:
            assert f'"{key}"' in text, (bullet, key)
    watch = _readme_bullet("`watch` prints")
    assert '"identity"' in watch and '"error"' in watch and '"exit_code"' in watch


# --- a PSAM in the first reader is never the card read by default ------------------------------


def _readers_with(monkeypatch, cards):
    """PC/SC readers holding in-process emulated cards: [(name, card or None)]; returns the
    APDUs each reader received."""
    from sscard.emulator.psam_card import PsamCard
    from sscard.transport import pcsc
    from sscard.transport.emulated import EmulatorTransport

    made = {
        name: (
            EmulatorTransport(PsamCard.from_file(), name)
            if card == "psam"
            else EmulatorTransport(SocialSecurityCard.from_persona(card), name)
        )
        for name, card in cards
        if card
    }
    sent = {name: [] for name, _ in cards}
    _fake_pcsc(monkeypatch, [[(name, card is not None) for name, card in cards]])

    def init(self, connection, reader, shared):
        self._inner, self.reader, self.description = made[reader], reader, reader

    monkeypatch.setattr(pcsc.PcscTransport, "__init__", init)
    monkeypatch.setattr(pcsc.PcscTransport, "atr", property(lambda self: self._inner.atr))
    monkeypatch.setattr(
        pcsc.PcscTransport,
        "transmit",
        lambda self, apdu: (sent[self.reader].append(apdu), self._inner.transmit(apdu))[1],
    )
    monkeypatch.setattr(
        pcsc.PcscTransport, "transmit_within", lambda self, apdu, seconds: self.transmit(apdu)
    )
    monkeypatch.setattr(pcsc.PcscTransport, "transaction", lambda self: self._inner.transaction())
    monkeypatch.setattr(pcsc.PcscTransport, "close", lambda self: None)
    return sent


def test_a_psam_alone_is_no_card(monkeypatch, capsys):
    _readers_with(monkeypatch, [("Kiosk SAM 00", "psam"), ("Kiosk user 01", None)])
    code, out, err = cli(capsys, "read")
    assert code == ExitCode.NO_CARD and "PSAM" in err and out == ""
    code, out, _ = cli(capsys, "read", "--format", "ireadcardbas")
    assert code == ExitCode.NO_CARD and out == "-2|无卡|\n"
    code, _, _ = cli(capsys, "status")
    assert code == ExitCode.NO_CARD
    code, _, err = cli(capsys, "read", "-r", "SAM")  # named: it is what it is
    assert code == ExitCode.NOT_SSC


def test_the_user_card_is_read_past_a_psam(monkeypatch, capsys):
    sent = _readers_with(monkeypatch, [("Kiosk SAM 00", "psam"), ("Kiosk user 01", "gen2")])
    code, out, err = cli(capsys, "read", "--json")
    assert code == 0, err
    assert json.loads(out)["source"]["name"] == "Kiosk user 01"
    assert {apdu[:2].hex().upper() for apdu in sent["Kiosk SAM 00"]} <= {"00A4", "00C0"}  # SELECTs


def test_one_user_card_costs_no_extra_apdu(monkeypatch, capsys):
    sent = _readers_with(monkeypatch, [("Reader 00", "gen2"), ("Reader 01", None)])
    assert cli(capsys, "read")[0] == 0
    with Card(EmulatorTransport(SocialSecurityCard.from_persona("gen2"), "gen2")) as card:
        card.read_identity()
        alone = card.session.apdu_count
    assert len(sent["Reader 00"]) == alone


def test_watch_a_name_part_waits_when_there_is_no_reader_yet(monkeypatch, capsys):
    from sscard.cli.watch_cmd import _watch_filters
    from sscard.transport import pcsc

    def down():
        raise errors.ServiceUnavailable()

    monkeypatch.setattr(pcsc, "Context", down)
    assert _watch_filters(("PCD",)) == ["PCD"]
    assert "no reader now" in capsys.readouterr().err
    for choice in ("0", "3B6D"):  # an index or an ATR needs the reader there
        with pytest.raises(errors.ReaderNotFound, match="names a reader by index or ATR"):
            _watch_filters((choice,))

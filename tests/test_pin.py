"""PIN safety: the tries are asked without spending one, the floor holds, one attempt only,
and the PIN appears in no output channel."""

from __future__ import annotations

import io
import logging

import click
import pytest
from helpers import card_of, cli

from sscard import errors
from sscard.cli.main import run
from sscard.emulator.persona import Pin
from sscard.ssse import pin

CANARY = "975310"  # a PIN that must never show up anywhere


def card_with(tries_left: int, value: str = "123456", fault=None):
    return card_of("gen2", fault, pin=Pin(value, tries_left, 3))


def verifies(transport) -> list[str]:
    """VERIFY commands that carry a PIN (the empty VERIFY of the tries query excluded)."""
    return [a.hex().upper() for a in transport.sent if a[:2] == b"\x00\x20" and len(a) > 5]


def test_tries_query_spends_nothing():
    card, transport, emulated = card_with(3)
    for _ in range(5):
        tries = card.pin_tries()
    assert tries.tries_left == 3 and tries.known and not tries.blocked
    assert emulated.pin_tries_left == 3 and verifies(transport) == []


@pytest.mark.parametrize("tries_left,floor", [(1, 1), (2, 2), (1, 3)])
def test_floor_sends_zero_verify(tries_left, floor):
    card, transport, emulated = card_with(tries_left)
    with pytest.raises(errors.PinRefused) as info:
        card.verify_pin("123456", floor=floor)
    assert verifies(transport) == []
    assert emulated.pin_tries_left == tries_left
    assert info.value.tries_left == tries_left and info.value.exit_code == 11


def test_forcing_the_last_try_sends_exactly_one_verify():
    card, transport, emulated = card_with(1)
    with pytest.raises(errors.PinBlocked, match="now blocked"):
        card.verify_pin("000000", force_last_try=True)
    assert verifies(transport) == ["0020000003000000"]
    assert emulated.pin_tries_left == 0


def test_wrong_pin_reports_tries_and_is_not_retried():
    card, transport, emulated = card_with(3)
    with pytest.raises(errors.WrongPin) as info:
        card.verify_pin("654321")
    assert info.value.tries_left == 2 and "2" in info.value.message
    assert len(verifies(transport)) == 1 and emulated.pin_tries_left == 2


def test_right_pin_and_odd_length_encoding():
    card, transport, _ = card_with(3, value="12345")
    card.verify_pin("12345")
    assert verifies(transport) == ["002000000312345F"]
    assert pin.encode_pin("1234") == bytes.fromhex("1234")


def test_blocked_pin_sends_nothing():
    card, transport, _ = card_with(0)
    with pytest.raises(errors.PinBlocked, match="PIN is blocked"):
        card.verify_pin("123456", force_last_try=True)
    assert verifies(transport) == []


@pytest.mark.parametrize("answer", ["6D00", "6A86", "6700", "9303"])
def test_unknown_tries_are_not_a_number_and_refuse(answer):
    def odd_answer(i, apdu, r):
        return bytes.fromhex(answer) if apdu == bytes.fromhex("00200000") else None

    card, transport, _ = card_with(3, fault=odd_answer)
    tries = card.pin_tries()
    assert tries.tries_left is None and not tries.known
    with pytest.raises(errors.PinRefused, match="did not tell the tries left"):
        card.verify_pin("123456")
    assert verifies(transport) == []


def test_no_pin_needed_sends_no_verify_and_says_so():
    def already(i, apdu, r):
        return bytes.fromhex("9000") if apdu == bytes.fromhex("00200000") else None

    card, transport, _ = card_with(3, fault=already)
    assert not card.pin_tries().required
    result = card.verify_pin("123456")
    assert verifies(transport) == []
    assert result.outcome is pin.VerifyOutcome.NOT_SENT and not result.verified
    with pytest.raises(TypeError, match="no truth value"):
        bool(result)  # `if card.verify_pin(...)` cannot pass for a success


def test_a_right_pin_is_verified_not_just_unrefused():
    card, transport, _ = card_with(3)
    result = card.verify_pin("123456")
    assert result.outcome is pin.VerifyOutcome.VERIFIED and result.verified
    assert result.tries_before.tries_left == 3 and len(verifies(transport)) == 1


@pytest.mark.parametrize("answer", ["AA9000", "63C39000", "00009000"])
def test_data_in_the_tries_answer_means_unknown_tries(answer):
    """An empty VERIFY is answered by a status word alone: data before 9000 is no number."""

    def odd(i, apdu, r):
        return bytes.fromhex(answer) if apdu == bytes.fromhex("00200000") else None

    card, transport, _ = card_with(3, fault=odd)
    tries = card.pin_tries()
    assert tries.tries_left is None and tries.required and tries.unexpected_data
    with pytest.raises(errors.PinRefused, match="unexpected data"):
        card.verify_pin("123456")
    with pytest.raises(errors.PinRefused, match="SW 9000 with unexpected data"):
        card.change_pin("123456", "654321")
    assert verifies(transport) == [] and not any(a[:2] == b"\x80\x5e" for a in transport.sent)


@pytest.mark.parametrize("bad", ["12a456", "123", "1" * 17, "", "１２３４５６"])
def test_invalid_pins_are_refused_before_any_apdu(bad):
    card, transport, _ = card_with(3)
    with pytest.raises(errors.InvalidPin, match="4 to 16 digits"):
        card.verify_pin(bad)
    assert transport.sent == []


def test_change_pin_body_and_guard():
    def accept_change(i, apdu, r):
        return bytes.fromhex("9000") if apdu[:2] == b"\x80\x5e" else None

    card, transport, _ = card_with(3, fault=accept_change)
    card.change_pin("123456", "888888")
    assert transport.sent[-1].hex().upper() == "805E010007123456FF888888"
    card, transport, _ = card_with(1, fault=accept_change)
    with pytest.raises(errors.PinRefused, match="1 tries left, at or below the floor of 1"):
        card.change_pin("123456", "888888")
    assert not any(a[:2] == b"\x80\x5e" for a in transport.sent)


def test_change_pin_on_the_emulated_card():
    card, transport, emulated = card_with(3)
    card.change_pin("123456", "24680")  # odd length: BCD padded with F
    assert transport.sent[-1].hex().upper() == "805E010007123456FF24680F"
    with pytest.raises(errors.WrongPin) as info:
        card.verify_pin("123456")  # the old PIN no longer works...
    assert info.value.tries_left == 2
    card.verify_pin("24680")  # ...the new one does, and restores the counter
    assert emulated.pin_tries_left == 3
    with pytest.raises(errors.WrongPin, match="2 tries left"):
        card.change_pin("123456", "111111")  # a wrong old PIN spends a try, changes nothing
    assert emulated.pin_tries_left == 2 and emulated.pin_value == "24680"


def test_change_pin_is_not_sent_when_the_tries_are_unknown():
    """A card that answers 9000 to the empty VERIFY (its PIN already verified) tells no
    tries: a wrong old PIN would spend one, so CHANGE PIN needs --force-last-try."""

    def verified(i, apdu, r):
        return bytes.fromhex("9000") if apdu == bytes.fromhex("00200000") else None

    card, transport, emulated = card_with(3, fault=verified)
    with pytest.raises(errors.PinRefused, match="CHANGE PIN not sent"):
        card.change_pin("111111", "222222")
    assert not any(a[:2] == b"\x80\x5e" for a in transport.sent)
    with pytest.raises(errors.WrongPin, match="2 tries left"):
        card.change_pin("111111", "222222", force_last_try=True)
    assert emulated.pin_tries_left == 2


# --- CLI ------------------------------------------------------------------------------------


def test_pin_is_never_an_argument(capsys, monkeypatch):
    code, _, err = cli(capsys, "pin", "verify", "--emulator", "gen2", "123456", stdin="")
    assert code == 2 and "--pin-stdin" in err
    assert "123456" not in err  # a PIN typed on the command line is never echoed


def test_cli_pin_flow_and_canary_in_every_channel(capsys, monkeypatch, caplog, tmp_path):
    caplog.set_level(logging.DEBUG)
    code, out, err = cli(
        capsys, "pin", "verify", "--emulator", "gen2", "--pin-stdin", "-d", stdin=CANARY + "\n"
    )
    assert code == 10 and "2 tries left" in err and "剩余 2 次" in err
    assert "[3 bytes hidden]" in err  # the VERIFY was traced, its body hidden
    code2, out2, err2 = cli(
        capsys,
        "pin",
        "change",
        "--emulator",
        "gen2",
        "--pin-stdin",
        "-d",
        stdin=f"{CANARY}\n{CANARY}1\n{CANARY}1\n",
    )
    assert code2 != 0
    everything = out + err + out2 + err2 + caplog.text
    assert CANARY not in everything
    code, out, _ = cli(capsys, "pin", "tries", "--emulator", "gen2", "--json", stdin="")
    assert code == 0 and '"tries_left": 3' in out


def test_cli_refusal_at_the_floor(capsys, monkeypatch):
    code, out, err = cli(
        capsys,
        "pin",
        "verify",
        "--emulator",
        "gen2",
        "--pin-stdin",
        "--floor",
        "3",
        stdin="123456\n",
    )
    assert code == 11 and "floor" in err and err.count("\n") == 1


def test_cli_change_needs_matching_new_pins(capsys, monkeypatch):
    code, _, err = cli(
        capsys,
        "pin",
        "change",
        "--emulator",
        "gen2",
        "--pin-stdin",
        stdin="123456\n888888\n888889\n",
    )
    assert code == 2 and "differ" in err


class Terminal(io.StringIO):
    """Standard input that claims to be a terminal: the hidden prompt would read it."""

    def isatty(self) -> bool:
        return True


def no_prompt(monkeypatch) -> list:
    """Record every request for a PIN (the list must stay empty) and answer nothing."""
    asked = []

    def prompt(*a, **k):
        asked.append(a)
        raise click.exceptions.Abort()

    monkeypatch.setattr("click.prompt", prompt)
    monkeypatch.setattr("sys.stdin", Terminal(""))
    return asked


def faulty_emulator(monkeypatch, fault, tries_left=3):
    """`--emulator gen2` in the CLI opens a gen2 card whose answers `fault` may replace."""
    opened = []

    def open_emulator(persona, **kw):
        card, transport, _ = card_with(tries_left, fault=fault)
        opened.append(transport)
        return card

    monkeypatch.setattr("sscard.open_emulator", open_emulator)
    return opened


@pytest.mark.parametrize("answer", ["9000", "AA9000", "63C39000"])
@pytest.mark.parametrize("stdin_flag", [True, False])
def test_cli_never_reports_success_for_a_pin_it_never_sent(capsys, monkeypatch, answer, stdin_flag):
    def odd(i, apdu, r):
        return bytes.fromhex(answer) if apdu == bytes.fromhex("00200000") else None

    opened = faulty_emulator(monkeypatch, odd)
    no_prompt(monkeypatch)
    stdin = Terminal("123456\n")
    monkeypatch.setattr("sys.stdin", stdin)
    args = ["pin", "verify", "--emulator", "gen2"] + (["--pin-stdin"] if stdin_flag else [])
    code = run(args)
    out, err = capsys.readouterr()
    assert "correct" not in out and "正确" not in out
    assert code == (14 if answer == "9000" else 11)
    assert "nothing was sent" in err or "not sent" in err
    assert stdin.tell() == 0  # the PIN was not even asked for
    assert verifies(opened[0]) == []


def test_cli_pin_not_needed_on_a_card_without_pin(capsys, monkeypatch):
    no_prompt(monkeypatch)
    code = run(["pin", "verify", "--emulator", "gen1"])
    out, err = capsys.readouterr()
    assert code == errors.ExitCode.PIN_NOT_NEEDED == 14 and out == ""
    assert err.startswith("error: PIN not checked") and "未校验密码" in err
    assert err.count("\n") == 1


def not_an_ssc(i, apdu, r):
    return bytes.fromhex("6A82") if apdu[:2] == b"\x00\xa4" else None


@pytest.mark.parametrize(
    "case,args,verify_code,change_code",
    [
        ("unknown persona", ["--emulator", "nosuch"], 2, 2),
        ("card blocked", ["--emulator", "card-blocked"], 6, 6),
        ("PIN blocked", ["--emulator", "gen2", "--force-last-try"], 6, 6),
        ("not a social security card", ["--emulator", "gen2"], 5, 5),
        ("tries at the floor", ["--emulator", "gen2", "--floor", "3"], 11, 11),
        ("no PIN needed", ["--emulator", "gen1"], 14, 11),  # CHANGE PIN: the tries are unknown
    ],
)
@pytest.mark.parametrize("command", ["verify", "change"])
def test_cli_checks_everything_before_asking_for_a_pin(
    capsys, monkeypatch, case, args, verify_code, change_code, command
):
    if case == "PIN blocked":
        faulty_emulator(monkeypatch, lambda *a: None, tries_left=0)
    elif case == "not a social security card":
        faulty_emulator(monkeypatch, not_an_ssc)
    for stdin_flag, terminal in ((False, True), (True, True), (True, False), (False, False)):
        asked = no_prompt(monkeypatch)
        stdin = (Terminal if terminal else io.StringIO)("123456\n123456\n123456\n")
        monkeypatch.setattr("sys.stdin", stdin)
        result = run(["pin", command, *args] + (["--pin-stdin"] if stdin_flag else []))
        _, err = capsys.readouterr()
        assert asked == [] and stdin.tell() == 0, "a PIN was asked for before the check"
        assert result == (verify_code if command == "verify" else change_code), err
        assert err.startswith("error:") and err.count("\n") == 1, err


def test_cli_verify_prompts_last_and_then_verifies(capsys, monkeypatch):
    asked = []

    def prompt(text, **kw):
        asked.append(text)
        return "123456"

    monkeypatch.setattr("click.prompt", prompt)
    monkeypatch.setattr("sys.stdin", Terminal(""))
    assert run(["pin", "verify", "--emulator", "gen2"]) == 0
    assert "PIN correct" in capsys.readouterr().out and len(asked) == 1


@pytest.mark.parametrize(
    "args",
    [
        ["pin"],
        ["pin", "bogus"],
        ["pin", "verify", "--floor", "99"],
        ["pin", "tries", "--wait", "abc"],
        ["pin", "verify", "--nosuch"],
    ],
)
def test_pin_usage_errors_say_what_is_wrong(capsys, monkeypatch, args):
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    code = run(args)
    _, err = capsys.readouterr()
    assert code == 2 and "never an argument" not in err, err
    assert err.strip(), "a usage error must say something"


@pytest.mark.parametrize(
    "args",
    [
        ["pin", "verify", "123456"],
        ["pin", "verify", "--emulator", "gen2", "1234"],
        ["pin", "1234567"],
        ["pin", "change", "--floor=123456"],
        ["pin", "verify", "--pin=0000"],
    ],
)
def test_pin_like_arguments_are_never_echoed(capsys, monkeypatch, args):
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    code = run(args)
    _, err = capsys.readouterr()
    assert code == 2 and "never an argument" in err
    for word in args[1:]:
        for digits in __import__("re").findall(r"\d{4,}", word):
            assert digits not in err


def test_cli_without_terminal_or_stdin_flag(capsys, monkeypatch):
    code, _, err = cli(capsys, "pin", "verify", "--emulator", "gen2", stdin="123456\n")
    assert code == 2 and "--pin-stdin" in err

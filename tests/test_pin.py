"""PIN safety: the tries are asked without spending one, the floor holds, one attempt only,
and the PIN appears in no output channel."""

from __future__ import annotations

import io
import logging

import pytest

from conftest import FaultyTransport
from sscard import errors, pin
from sscard.card import Card
from sscard.cli.main import run
from sscard.emulator import SocialSecurityCard
from sscard.emulator.persona import Pin
from sscard.transport.emulated import EmulatorTransport

CANARY = "975310"  # a PIN that must never show up anywhere


def card_with(tries_left: int, value: str = "123456", fault=None):
    emulated = SocialSecurityCard.from_persona("gen2", pin=Pin(value, tries_left, 3))
    transport = FaultyTransport(EmulatorTransport(emulated, "gen2"), fault or (lambda *a: None))
    return Card(transport), transport, emulated


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
    with pytest.raises(errors.PinBlocked):
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
    with pytest.raises(errors.PinBlocked):
        card.verify_pin("123456", force_last_try=True)
    assert verifies(transport) == []


@pytest.mark.parametrize("answer", ["6D00", "6A86", "6700", "9303"])
def test_unknown_tries_are_not_a_number_and_refuse(answer):
    def odd_answer(i, apdu, r):
        return bytes.fromhex(answer) if apdu == bytes.fromhex("00200000") else None
    card, transport, _ = card_with(3, fault=odd_answer)
    tries = card.pin_tries()
    assert tries.tries_left is None and not tries.known
    with pytest.raises(errors.PinRefused):
        card.verify_pin("123456")
    assert verifies(transport) == []


def test_no_pin_needed_sends_no_verify():
    def already(i, apdu, r):
        return bytes.fromhex("9000") if apdu == bytes.fromhex("00200000") else None
    card, transport, _ = card_with(3, fault=already)
    assert not card.pin_tries().required
    card.verify_pin("123456")
    assert verifies(transport) == []


@pytest.mark.parametrize("bad", ["12a456", "123", "1" * 17, "", "１２３４５６"])
def test_invalid_pins_are_refused_before_any_apdu(bad):
    card, transport, _ = card_with(3)
    with pytest.raises(errors.InvalidPin):
        card.verify_pin(bad)
    assert transport.sent == []


def test_change_pin_body_and_guard():
    def accept_change(i, apdu, r):
        return bytes.fromhex("9000") if apdu[:2] == b"\x80\x5E" else None
    card, transport, _ = card_with(3, fault=accept_change)
    card.change_pin("123456", "888888")
    assert transport.sent[-1].hex().upper() == "805E010007123456FF888888"
    card, transport, _ = card_with(1, fault=accept_change)
    with pytest.raises(errors.PinRefused):
        card.change_pin("123456", "888888")
    assert not any(a[:2] == b"\x80\x5E" for a in transport.sent)


def test_change_pin_on_the_emulated_card():
    card, transport, emulated = card_with(3)
    card.change_pin("123456", "24680")  # odd length: BCD padded with F
    assert transport.sent[-1].hex().upper() == "805E010007123456FF24680F"
    with pytest.raises(errors.WrongPin) as info:
        card.verify_pin("123456")  # the old PIN no longer works...
    assert info.value.tries_left == 2
    card.verify_pin("24680")  # ...the new one does, and restores the counter
    assert emulated.pin_tries_left == 3
    with pytest.raises(errors.WrongPin):
        card.change_pin("123456", "111111")  # a wrong old PIN spends a try, changes nothing
    assert emulated.pin_tries_left == 2 and emulated.pin_value == "24680"


def test_change_pin_is_not_sent_when_the_tries_are_unknown():
    """A card that answers 9000 to the empty VERIFY (its PIN already verified) tells no
    tries: a wrong old PIN would spend one, so CHANGE PIN needs --force-last-try."""
    def verified(i, apdu, r):
        return bytes.fromhex("9000") if apdu == bytes.fromhex("00200000") else None
    card, transport, emulated = card_with(3, fault=verified)
    with pytest.raises(errors.PinRefused):
        card.change_pin("111111", "222222")
    assert not any(a[:2] == b"\x80\x5E" for a in transport.sent)
    with pytest.raises(errors.WrongPin):
        card.change_pin("111111", "222222", force_last_try=True)
    assert emulated.pin_tries_left == 2


# --- CLI ------------------------------------------------------------------------------------

def cli(capsys, monkeypatch, stdin: str, *args):
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = run(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_pin_is_never_an_argument(capsys, monkeypatch):
    code, _, err = cli(capsys, monkeypatch, "", "pin", "verify", "--emulator", "gen2", "123456")
    assert code == 2 and "--pin-stdin" in err
    assert "123456" not in err  # a PIN typed on the command line is never echoed


def test_cli_pin_flow_and_canary_in_every_channel(capsys, monkeypatch, caplog, tmp_path):
    caplog.set_level(logging.DEBUG)
    code, out, err = cli(capsys, monkeypatch, CANARY + "\n", "pin", "verify", "--emulator",
                         "gen2", "--pin-stdin", "-d")
    assert code == 10 and "2 tries left" in err and "剩余 2 次" in err
    assert "[3 bytes hidden]" in err  # the VERIFY was traced, its body hidden
    code2, out2, err2 = cli(capsys, monkeypatch, f"{CANARY}\n{CANARY}1\n{CANARY}1\n", "pin",
                            "change", "--emulator", "gen2", "--pin-stdin", "-d")
    assert code2 != 0
    everything = out + err + out2 + err2 + caplog.text
    assert CANARY not in everything
    code, out, _ = cli(capsys, monkeypatch, "", "pin", "tries", "--emulator", "gen2", "--json")
    assert code == 0 and '"tries_left": 3' in out


def test_cli_refusal_at_the_floor(capsys, monkeypatch):
    code, out, err = cli(capsys, monkeypatch, "123456\n", "pin", "verify", "--emulator", "gen2",
                         "--pin-stdin", "--floor", "3")
    assert code == 11 and "floor" in err and err.count("\n") == 1


def test_cli_change_needs_matching_new_pins(capsys, monkeypatch):
    code, _, err = cli(capsys, monkeypatch, "123456\n888888\n888889\n", "pin", "change",
                       "--emulator", "gen2", "--pin-stdin")
    assert code == 2 and "differ" in err


def test_cli_without_terminal_or_stdin_flag(capsys, monkeypatch):
    code, _, err = cli(capsys, monkeypatch, "123456\n", "pin", "verify", "--emulator", "gen2")
    assert code == 2 and "--pin-stdin" in err

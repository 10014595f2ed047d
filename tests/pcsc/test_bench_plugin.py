"""sscard's pytest plugin (sscard.testing): its fixtures drive a program under test that is not
sscard — a kiosk-style pyscard script in a child process — and it skips, or fails under CI,
without the PC/SC stack."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

KIOSK = textwrap.dedent('''
    """A kiosk-style pyscard program.

    It waits for a card, reads EF05's card number and says what happened."""
    import json, sys
    from smartcard.CardRequest import CardRequest
    from smartcard.CardType import AnyCardType
    from smartcard.Exceptions import CardRequestTimeoutException, SmartcardException
    request = CardRequest(timeout=5, readers=[sys.argv[1]], cardType=AnyCardType())
    try:
        service = request.waitforcard()
    except CardRequestTimeoutException:
        print(json.dumps({"result": "no card"})); sys.exit(2)
    connection = service.connection
    try:
        connection.connect()
        def send(hex_apdu):
            data, sw1, sw2 = connection.transmit(list(bytes.fromhex(hex_apdu)))
            return bytes(data), (sw1 << 8) | sw2
        _, sw = send("00A404000F7378312E73682EC9E7BBE1B1A3D5CF00")  # SELECT SSSE
        if sw != 0x9000:
            print(json.dumps({"result": "not a social security card", "sw": f"{sw:04X}"}))
            sys.exit(4)
        _, sw = send("00A4020002EF05")
        data, sw = send("00B2070000")  # record 07: card number (tag 07, 9 bytes)
        if sw != 0x9000 or len(data) < 11:
            print(json.dumps({"result": "refused", "sw": f"{sw:04X}"})); sys.exit(4)
        print(json.dumps({"result": "read", "card_number": data[2:11].decode()}))
    except SmartcardException as e:
        print(json.dumps({"result": "card lost", "error": type(e).__name__})); sys.exit(3)
''')


def _kiosk(reader, timeout=60) -> tuple[int, dict]:
    done = subprocess.run(
        [sys.executable, "-c", KIOSK, reader.name],
        env=reader.env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return done.returncode, json.loads(done.stdout)


def test_kiosk_script_reads_the_inserted_card(virtual_reader):
    from helpers import persona_toml

    virtual_reader.insert("gen2")
    assert _kiosk(virtual_reader) == (
        0,
        {"result": "read", "card_number": persona_toml("gen2")["ef05"]["card_number"]},
    )
    assert [a[:4].hex().upper() for a in virtual_reader.apdus()] == [
        "00A40400",
        "00A40200",
        "00B20700",
    ]


def test_kiosk_script_under_faults(virtual_readers):
    card, psam = virtual_readers
    assert (card.name, psam.name) == ("Virtual PCD 00 00", "Virtual PCD 00 01")
    psam.insert("psam")
    card.insert("gen3")
    card.fault("answer", at=1, sw="6A82")
    assert _kiosk(card) == (4, {"result": "not a social security card", "sw": "6A82"})
    card.swap("gen3")
    card.fault("pull", at=2)
    rc, said = _kiosk(card)
    assert rc == 3 and said["result"] == "card lost"
    assert not card.occupied and len(card.apdus()) == 2
    card.insert("gen2")
    card.fault("mute", at=3)  # for ever: the kiosk waits until the card is taken out

    def take_out_when_mute():
        card.wait_apdus(3)
        card.remove()

    import threading

    remover = threading.Thread(target=take_out_when_mute)
    remover.start()
    rc, said = _kiosk(card)
    remover.join(30)
    assert rc == 3 and said["result"] == "card lost"
    kinds = [e["event"] for e in card.events()][-6:]
    assert kinds == ["armed", "apdu", "apdu", "apdu", "fault", "removed"]
    assert psam.occupied and psam.apdus() == []


def test_a_slow_reader_serves_every_card_through_the_wire_model(virtual_reader):
    from sscard.emulator.wire import WireModel

    virtual_reader.slow(15, bit_rate=9600)
    virtual_reader.insert("gen2")
    assert virtual_reader._slot.link.wire == WireModel(15, 9600)  # the link holds answers back
    assert _kiosk(virtual_reader)[0] == 0


def test_a_program_that_finds_no_card(virtual_reader):
    assert _kiosk(virtual_reader) == (2, {"result": "no card"})


TEST_FILE = """
def test_uses_the_bench(virtual_reader):
    virtual_reader.insert("gen2")
"""


@pytest.mark.parametrize("ci, outcome", [(None, "skipped"), ("true", "errors")])
def test_without_the_stack_the_fixtures_skip_or_fail_on_ci(pytester, monkeypatch, ci, outcome):
    import sscard.testing.pcscd as pcscd

    monkeypatch.setattr(pcscd, "VPCD_DRIVER", "/nonexistent/libifdvpcd.so")
    if ci:
        monkeypatch.setenv("CI", ci)
    else:
        monkeypatch.delenv("CI", raising=False)
    pytester.makepyfile(TEST_FILE)
    result = pytester.runpytest_inprocess("-p", "sscard.testing", "-rsf")
    result.assert_outcomes(**{outcome: 1})
    result.stdout.fnmatch_lines(["*vsmartcard-vpcd not installed*apt-get install*"])


def test_each_test_sees_its_own_events_first(virtual_reader):
    """The session's bench served other tests before: a reader's events start with this one."""
    assert virtual_reader.events() == []
    virtual_reader.insert("gen2")
    virtual_reader.fault("answer", at=1, sw="6A82")
    assert [e["event"] for e in virtual_reader.events()] == ["inserted", "armed"]


test_each_test_sees_its_own_events_too = test_each_test_sees_its_own_events_first

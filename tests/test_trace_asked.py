"""The -d trace redacts by what was asked (the spec item requested), never by the tag the
card answers with; an answer under another tag is a malformed answer."""

from __future__ import annotations

import pytest
from helpers import TODAY, FaultyTransport, emulator, persona_toml

from sscard import errors
from sscard.card import Card
from sscard.cli.main import run
from sscard.errors import ExitCode
from sscard.spec import load_spec
from sscard.trace import Tracer
from sscard.transport.emulated import EmulatorTransport

SPEC = load_spec()
SELECT_SSSE = "00A404000F7378312E73682EC9E7BBE1B1A3D5CF00"
SSN = persona_toml("gen2")["ef06"]["social_security_number"]
SSN_HEX = SSN.encode().hex().upper()


def _trace(*exchanges: tuple[str, str]) -> str:
    lines = []
    tracer = Tracer(SPEC, lines.append)
    for command, response in ((SELECT_SSSE, "9000"),) + exchanges:
        tracer.command(bytes.fromhex(command))
        tracer.response(bytes.fromhex(command), bytes.fromhex(response))
    return "\n".join(lines)


def test_a_personal_item_answered_under_a_public_tag_stays_hidden():
    # asked: tag 08 (social security number); answered: tag 03 (spec version, public) + the number
    text = _trace(("00A4020002EF06", "9000"), ("00B2080014", "0312" + SSN_HEX + "9000"))
    assert SSN_HEX not in text and "not the record asked for" in text


def test_a_range_answer_is_judged_by_record_position():
    # READ RECORD from record 1 of EF06 by SFI: the card tags every record as public items
    records = "0312" + SSN_HEX + "021ED5C5C8FD" + "00" * 26
    text = _trace(("00B2013500", records + "9000"))
    assert SSN_HEX not in text and "D5C5C8FD" not in text
    assert text.count("hidden: not the record asked for") == 2


@pytest.mark.parametrize(
    "command,record",
    [
        ("00A4020002EF06", "0812" + SSN_HEX),  # select EF06, then by number: record 1 is 08
    ],
)
def test_by_number_in_the_selected_file(command, record):
    text = _trace((command, "9000"), ("00B2010400", "0A0131" + "9000"))
    assert "0A0131" not in text  # record 1 of EF06 is the social security number: hidden
    text = _trace((command, "9000"), ("00B2010400", record + "9000"))
    assert SSN_HEX not in text


def test_public_items_asked_and_answered_are_shown():
    text = _trace(
        ("00A4020002EF05", "9000"),
        ("00B2030006", "0304322E3030" + "9000"),
        ("00B2022C00", "020133" + "9000"),  # record 2 of EF05 by SFI 5: card type
        ("00B2043400", "0A0131" + "9000"),
    )  # record 4 of EF06 by SFI: sex in gen 2/3 …
    assert "0304322E3030" in text and "020133" in text
    assert "0A0131" in text  # … ethnicity in gen 1: both public
    # the right tag with another length is not the record asked for either
    text = _trace(("00A4020002EF05", "9000"), ("00B2030006", "0312" + SSN_HEX + "9000"))
    assert SSN_HEX not in text and "not the record asked for" in text


def test_an_ambiguous_record_number_is_hidden_when_any_of_its_items_is_personal():
    # record 3 of EF06 is the name extension (personal) on gen 2/3 and sex (public) on gen 1
    text = _trace(("00B2033400", "0A0131" + "9000"))
    assert "0A0131" not in text and "hidden" in text


def _swap_tag_of_ssn(index, apdu, response):
    """The card answers READ RECORD of tag 08 (and the range read) with the number under tag 03."""
    if apdu[1] == 0xB2 and response.startswith(b"\x08\x12"):
        return b"\x03" + response[1:]
    return None


def test_a_tag_mismatch_fails_the_read_and_the_trace_never_shows_the_value():
    lines = []
    transport = FaultyTransport(emulator("gen2"), _swap_tag_of_ssn)
    with Card(transport, trace=lines.append) as card:
        with pytest.raises(errors.DecodeError, match="expected 08"):
            card.read_identity(today=TODAY)
    text = "\n".join(lines)
    assert SSN_HEX not in text and "not the record asked for" in text
    assert any(a[1] == 0xB2 and a[2] == 0x08 for a in transport.sent)  # tag 08 was asked


def test_cli_debug_trace_of_a_card_that_swaps_tags(monkeypatch, capsys):
    plain = EmulatorTransport.transmit

    def transmit(self, apdu):
        response = plain(self, apdu)
        return _swap_tag_of_ssn(0, apdu, response) or response

    monkeypatch.setattr(EmulatorTransport, "transmit", transmit)
    code = run(["read", "--emulator", "gen2", "-d", "--reveal"])
    out, err = capsys.readouterr()
    assert code == ExitCode.COMMUNICATION
    assert SSN_HEX not in err and SSN not in out + err
    assert "not the record asked for" in err

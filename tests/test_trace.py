"""The APDU trace hides what the spec marks sensitive or personal."""

from __future__ import annotations

import pytest
from helpers import emulator, persona_toml, read

from sscard.spec import load_spec
from sscard.trace import Tracer


def _trace(persona):
    lines = []
    read(emulator(persona), trace=lines.append)
    return "\n".join(lines)


@pytest.mark.parametrize("persona,apdus", [("gen2", 3), ("gen2-no-range", 18)])
def test_identity_trace_hides_personal_values(persona, apdus):
    # a range answer holds several personal items at once: each is hidden, the public
    # ones between them stay visible
    text = _trace(persona)
    raw = persona_toml(persona)
    secrets = [
        raw["ef06"]["social_security_number"],
        raw["ef05"]["card_number"],
        raw["ef06"]["name"],
        raw["ef05"]["card_identification"][6:],
    ]
    for value in secrets:
        for form in (value, value.encode("gbk").hex().upper(), value.upper()):
            assert form not in text.upper(), value
    assert raw["ef06"]["birth_date"].strftime("%Y%m%d") not in text  # birth date BCD
    assert "hidden" in text
    # public items stay visible for diagnosis: version "2.00" and the FCI
    assert "0304322E3030" in text
    assert "6F" in text and "9000" in text
    assert text.count("\n> ") + 1 == apdus


def test_verify_and_external_authenticate_bodies_are_never_shown():
    lines = []
    tracer = Tracer(load_spec(), lines.append)
    tracer.command(bytes.fromhex("0020000003123456"))
    tracer.command(bytes.fromhex("0082000A1011223344556677880102030405060708"))
    tracer.command(bytes.fromhex("805E010007123456FF888888"))
    text = "\n".join(lines)
    assert "123456" not in text and "888888" not in text and "1122334455" not in text
    assert "(verify)" in text and "(external_authenticate)" in text


def test_unclassifiable_answers_are_hidden():
    lines = []
    tracer = Tracer(load_spec(), lines.append)
    tracer.command(bytes.fromhex("00B0000010"))  # READ BINARY: content unknown
    tracer.response(bytes.fromhex("00B0000010"), bytes(range(16)) + b"\x90\x00")
    tracer.command(bytes.fromhex("00B2010400"))  # a record with a tag no spec item has
    tracer.response(bytes.fromhex("00B2010400"), bytes.fromhex("5A0862123456789012349000"))
    text = "\n".join(lines)
    assert "000102030405" not in text and "6212345678" not in text


def test_records_outside_the_social_security_application_are_hidden():
    # a bank record that happens to parse as a public SSSE record (tag 03, spec version)
    record = bytes.fromhex("0304322E3030")
    lines = []
    tracer = Tracer(load_spec(), lines.append)
    for select in (
        "00A404000E315041592E5359532E444446303100",  # the bank's PSE
        "00A404000F7378312E73682EC9E7BBE1B1A3D5CF00",
    ):  # the SSSE
        tracer.command(bytes.fromhex(select))
        tracer.response(bytes.fromhex(select), b"\x90\x00")
        tracer.command(bytes.fromhex("00B2030006"))
        tracer.response(bytes.fromhex("00B2030006"), record + b"\x90\x00")
    hidden_part, ssse_part = "\n".join(lines).split("7378312E")
    assert "322E3030" not in hidden_part and "[6 bytes hidden]" in hidden_part
    assert "0304322E3030" in ssse_part  # the same bytes in the SSSE are a public item

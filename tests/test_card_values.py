"""Card values outside their item's alphabet (apdu_specs/ssse.toml `alphabet`) are decode
errors, so the `|`-separated iReadCardBas string never gains or shifts a field, masked or not."""

from __future__ import annotations

import dataclasses

import pytest
from helpers import PERSONA_DIR, emulator, read

from sscard import errors, ireadcardbas
from sscard.cli.main import run
from sscard.errors import ExitCode
from sscard.spec import load_spec

SPEC = load_spec()
GEN2 = (PERSONA_DIR / "gen2.toml").read_text(encoding="utf-8")


def _record(item_key: str, value: bytes) -> str:
    ef = "ef05" if item_key in {i.key for i in SPEC.ssse.file("ef05").items} else "ef06"
    item = SPEC.ssse.file(ef).item(item_key)
    raw = bytes((item.tag, item.length)) + value.ljust(item.length, b"\x00")
    return f'"{ef}.{item.tag:02X}" = "{raw.hex().upper()}"'


HOSTILE = [
    ("name", "张|三".encode("gbk")),  # the delimiter in the middle
    ("name", "|张三".encode("gbk")),  # … first: the masked name keeps the first character
    ("name_extension", "|".encode("gbk")),
    ("social_security_number", b"110101199003071|33"),
    ("social_security_number", b"11010119900307123x"),  # the check character is an upper-case X
    ("social_security_number", b"1101011990030712 3"),
    ("card_number", b"A1234567|"),  # the masked card number keeps the last character
    ("card_number", b"|12345674"),
    ("spec_version", b"2|00"),
    ("card_type", b"|"),
    ("sex", b"|"),
]


def _hostile_persona(tmp_path, item_key, value) -> str:
    path = tmp_path / "hostile.toml"
    path.write_text(
        GEN2.split("\n[bank", 1)[0] + f"\n[raw_records]\n{_record(item_key, value)}\n",
        encoding="utf-8",
    )
    return str(path)


@pytest.mark.parametrize("item_key,value", HOSTILE, ids=lambda x: x if isinstance(x, str) else "")
def test_value_outside_the_alphabet_is_a_decode_error(tmp_path, item_key, value):
    from sscard.emulator import SocialSecurityCard
    from sscard.transport.emulated import EmulatorTransport

    path = _hostile_persona(tmp_path, item_key, value)
    with pytest.raises(errors.DecodeError, match="alphabet"):
        read(EmulatorTransport(SocialSecurityCard.from_persona(path), "hostile"))


@pytest.mark.parametrize("reveal", [[], ["--reveal"]], ids=["masked", "reveal"])
@pytest.mark.parametrize("item_key,value", HOSTILE, ids=lambda x: x if isinstance(x, str) else "")
def test_ireadcardbas_never_gains_fields(tmp_path, capsys, item_key, value, reveal):
    path = _hostile_persona(tmp_path, item_key, value)
    code = run(["read", "--emulator", path, "--format", "ireadcardbas"] + reveal)
    out, err = capsys.readouterr()
    assert code == ExitCode.COMMUNICATION
    assert out == "-4|卡无应答|\n"  # one failure line of the interface, nothing else
    assert err.startswith("error: ") and "alphabet" in err


def test_the_alphabets_of_the_string_exclude_its_delimiter():
    """Every text item that goes into the iReadCardBas string declares an alphabet without `|`."""
    for ef in ("ef05", "ef06"):
        for item in SPEC.ssse.file(ef).items:
            if item.codec.encoding == "an":
                assert item.codec.alphabet is not None, item.key
                with pytest.raises(errors.DecodeError, match="outside the item's alphabet"):
                    item.codec.decode(b"|".ljust(item.length, b"\x00"))


def test_a_delimiter_that_got_past_the_decoders_is_refused_not_shifted():
    identity, _ = read(emulator("gen2"))
    line = ireadcardbas.format_identity(identity)
    assert line.count("|") == 11
    bad = dataclasses.replace(identity, holder=dataclasses.replace(identity.holder, name="A|B"))
    with pytest.raises(errors.DecodeError, match="delimiter"):
        ireadcardbas.format_identity(bad)
    with pytest.raises(errors.DecodeError, match="field 11"):
        ireadcardbas.format_identity(identity, device_number="dev|ice")


def test_personas_cannot_hold_values_outside_the_alphabet(tmp_path):
    from sscard.emulator.persona import load_persona

    path = tmp_path / "p.toml"
    path.write_text(
        GEN2.replace('card_number = "A12345674"', 'card_number = "a12345674"'), encoding="utf-8"
    )
    with pytest.raises(errors.SpecError, match="card_number: not a valid an value"):
        load_persona(str(path))

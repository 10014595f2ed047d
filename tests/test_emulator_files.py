"""EF07 (fingerprint) and EF08 (photo) of the emulated SSSE: raw APDUs in, bytes out.

Oracles: apdu_specs/ssse.toml (sizes, SFIs, read access), the persona TOML (content given as
hex), the published test root keys with sscard.crypto (the EXTERNAL AUTHENTICATE cryptogram).
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import pytest
from helpers import PERSONA_DIR, ok, persona_toml, sw, tx
from test_emulator import SELECT_SSSE, card

from sscard import errors
from sscard.crypto import Algorithm, authentication_data, derive_card_key
from sscard.emulator import SocialSecurityCard

SPEC_FILES = {
    f["key"]: f
    for f in tomllib.loads(
        (Path(__file__).resolve().parents[1] / "apdu_specs" / "ssse.toml").read_text("utf-8")
    )["file"]
}
EF07, EF08 = SPEC_FILES["ef07"], SPEC_FILES["ef08"]
TEST_KEYS = Path(__file__).resolve().parents[1] / "sscard" / "emulator" / "test_keys.toml"
ROOTS = tomllib.loads(TEST_KEYS.read_text("utf-8"))["keys"]
FINGERPRINT = bytes(range(256)) * 2 + b"\xa5\x5a"  # 514 bytes: shorter than the file
PHOTO = b"\xff\xd8\xff\xfe\x00\x06test\xff\xd9"


def external_authenticate(c: SocialSecurityCard, persona: str) -> str:
    """GET CHALLENGE + EXTERNAL AUTHENTICATE with the test RKSSSE; returns the SW."""
    raw = persona_toml(persona)
    alg = raw["algorithm"]
    algorithm = {"01": Algorithm.DES3, "03": Algorithm.SM4}[alg]
    atr = bytes.fromhex("3B6D0000" + raw["atr_historical"])
    key = derive_card_key(
        algorithm, bytes.fromhex(ROOTS["RKSSSE"][alg]), raw["ef05"]["card_identification"][:6], atr
    )
    challenge = bytes.fromhex(ok(c, "0084000008"))
    original = os.urandom(8)
    cryptogram = authentication_data(algorithm, key, challenge, original)
    return sw(c, "0082000A10" + (cryptogram + original).hex())


def enter_ssse(c: SocialSecurityCard) -> None:
    assert sw(c, SELECT_SSSE) in ("9000", "611E")  # the FCI, announced on T=0


def with_content(tmp_path, base: str = "gen2", **files: bytes) -> SocialSecurityCard:
    """A card of `base` whose persona gives EF07/EF08 content as hex."""
    text = (PERSONA_DIR / f"{base}.toml").read_text("utf-8")
    text += "\n[transparent]\n" + "".join(f'{k} = "{v.hex()}"\n' for k, v in files.items())
    path = tmp_path / f"{base}-files.toml"
    path.write_text(text, "utf-8")
    return SocialSecurityCard.from_persona(path)


def read_all(c: SocialSecurityCard, size: int, chunk: int) -> bytes:
    """READ BINARY of the current EF in chunks of `chunk` (1..256) bytes up to `size`."""
    out = b""
    while len(out) < size:
        n = min(chunk, size - len(out))
        out += bytes.fromhex(ok(c, f"00B0{len(out):04X}{n % 256:02X}"))
    return out


def expected(given: bytes, spec_file: dict) -> bytes:
    return given + bytes(spec_file["size"] - len(given))  # padded with 00 to the file size


# --- access ----------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["gen2", "gen3"])
@pytest.mark.parametrize("spec_file", [EF07, EF08], ids=["ef07", "ef08"])
def test_locked_until_external_authenticate(persona, spec_file):
    assert spec_file["read_access"][f"gen{persona[-1]}"] == "RKSSSE"
    c = card(persona)
    enter_ssse(c)
    assert sw(c, "00A4020002" + spec_file["fid"]) == "9000"
    assert sw(c, "00B0000010") == "6982"
    assert sw(c, f"00B0{0x80 | spec_file['sfi']:02X}0010") == "6982"
    assert external_authenticate(c, persona) == "9000"
    assert len(bytes.fromhex(ok(c, "00B0000010"))) == 16


def test_wrong_cryptogram_opens_nothing():
    c = card("gen2")
    enter_ssse(c)
    ok(c, "0084000008")
    assert sw(c, "0082000A10" + "00" * 16) == "63C2"
    ok(c, "00A4020002EF07")
    assert sw(c, "00B0000010") == "6982"


@pytest.mark.parametrize("persona,chunk", [("gen2", 0x80), ("gen3", 0xFF), ("gen2-t0", 0xF0)])
def test_content_read_in_chunks_after_authentication(tmp_path, persona, chunk):
    c = with_content(tmp_path, persona, ef07=FINGERPRINT, ef08=PHOTO)
    enter_ssse(c)
    assert external_authenticate(c, persona) == "9000"
    ok(c, "00A4020002EF07")
    assert read_all(c, EF07["size"], chunk) == expected(FINGERPRINT, EF07)
    ok(c, "00A4000002EF08")  # P1 00 works as P1 02 does
    assert read_all(c, EF08["size"], chunk) == expected(PHOTO, EF08)
    assert sw(c, "00B2010400") == "6981"  # READ RECORD of a transparent file


def test_le_00_reads_256_bytes(tmp_path):
    c = with_content(tmp_path, ef08=PHOTO)
    enter_ssse(c)
    external_authenticate(c, "gen2")
    ok(c, "00A4020002EF08")
    assert ok(c, "00B0000000") == expected(PHOTO, EF08)[:256].hex().upper()


def test_sfi_form_reads_and_selects(tmp_path):
    c = with_content(tmp_path, ef07=FINGERPRINT)
    enter_ssse(c)
    external_authenticate(c, "gen2")
    assert ok(c, "00B0870204") == FINGERPRINT[2:6].hex().upper()  # SFI 7, offset 2
    assert ok(c, "00B0010003") == FINGERPRINT[0x100:0x103].hex().upper()  # EF07 is now current
    assert sw(c, "00B0890004") == "6A82"  # SFI 9: no such file
    assert sw(c, "00B0A70004") == "6A86"  # P1 = 101x xxxx is no SFI form
    assert sw(c, "00B0850004") == "6981"  # SFI 5 is EF05, a record file
    assert sw(c, "00B2013C00") == "6981"  # READ RECORD by SFI 7


def test_default_content_is_synthetic_and_deterministic():
    def contents(persona):
        c = card(persona)
        enter_ssse(c)
        external_authenticate(c, persona)
        ok(c, "00A4020002EF07")
        fingerprint = read_all(c, EF07["size"], 0x100)
        ok(c, "00A4020002EF08")
        return fingerprint, read_all(c, EF08["size"], 0x100)

    fingerprint, photo = contents("gen2")
    assert b"synthetic" in fingerprint[:100] and b"gen2" in fingerprint[:100]
    assert photo[:4] == b"\xff\xd8\xff\xe0" and b"synthetic" in photo[:200]  # JPEG SOI, APP0
    assert b"\xff\xd9" in photo
    assert contents("gen2") == (fingerprint, photo)
    other = contents("gen3")
    assert other[0] != fingerprint and other[1] != photo
    assert len(set(fingerprint[0x100:0x200])) > 64  # not a constant pattern past the header


# --- security state ------------------------------------------------------------------------------


def opened(tmp_path) -> SocialSecurityCard:
    c = with_content(tmp_path, ef07=FINGERPRINT, ef08=PHOTO)
    enter_ssse(c)
    assert external_authenticate(c, "gen2") == "9000"
    ok(c, "00A4020002EF08")
    assert ok(c, "00B0000004") == PHOTO[:4].hex().upper()
    return c


def test_power_off_drops_the_security_state(tmp_path):
    c = opened(tmp_path)
    c.power_down()
    enter_ssse(c)
    ok(c, "00A4020002EF08")
    assert sw(c, "00B0000004") == "6982"


@pytest.mark.parametrize("select", ["00A40000023F00", SELECT_SSSE])
def test_selecting_a_df_drops_the_security_state(tmp_path, select):
    c = opened(tmp_path)
    assert sw(c, select) == "9000"
    enter_ssse(c)
    assert sw(c, "00B0880004") == "6982"


def test_selecting_another_ef_keeps_it(tmp_path):
    c = opened(tmp_path)
    ok(c, "00A4020002EF05")
    ok(c, "00A4020002EF07")
    assert ok(c, "00B0000002") == FINGERPRINT[:2].hex().upper()


# --- offsets, Le --------------------------------------------------------------------------------


def test_offsets_and_le(tmp_path):
    c = opened(tmp_path)
    size = EF08["size"]
    last = expected(PHOTO, EF08)[-4:].hex().upper()
    assert ok(c, f"00B0{size - 4:04X}04") == last
    assert tx(c, f"00B0{size - 4:04X}10") == ("", "6C04")  # Le past the end: what is left
    assert ok(c, f"00B0{size - 4:04X}04") == last
    assert sw(c, f"00B0{size:04X}01") == "6B00"
    assert sw(c, "00B07FFF01") == "6B00"
    assert sw(c, "00B0000001AA") == "6700"  # data field
    assert sw(c, "00B00000") == "6700"  # no Le


def test_strict_le_00_gets_6cxx_near_the_end(tmp_path):
    c = with_content(tmp_path, "gen2-t0", ef07=FINGERPRINT)  # le_zero = "6Cxx", T=0
    enter_ssse(c)
    assert external_authenticate(c, "gen2-t0") == "9000"
    ok(c, "00A4020002EF07")
    assert len(ok(c, "00B0000000")) == 512  # Le 00 = 256 bytes, and more are left
    assert len(ok(c, "00B0020000")) == 512  # 0x300 - 0x200: exactly 256 left
    assert tx(c, "00B0028000") == ("", "6C80")  # 128 left: Le 00 is wrong on this card
    assert ok(c, "00B0028080") == expected(FINGERPRINT, EF07)[0x280:].hex().upper()


def test_no_current_ef():
    c = card("gen2")
    enter_ssse(c)
    assert sw(c, "00B0000004") == "6986"
    ok(c, "00A4020002EF06")
    assert sw(c, "00B0000004") == "6981"  # READ BINARY of a record file


# --- generations, layouts -----------------------------------------------------------------------


def test_generation_1_has_a_free_ef07_and_no_ef08(tmp_path):
    assert EF07["read_access"]["gen1"] == "free" and 1 not in EF08["generations"]
    c = with_content(tmp_path, "gen1", ef07=FINGERPRINT)
    enter_ssse(c)
    assert sw(c, "00A4020002EF08") == "6A82"
    assert sw(c, "00B0880004") == "6A82"
    ok(c, "00A4020002EF07")
    assert read_all(c, EF07["size"], 0xC0) == expected(FINGERPRINT, EF07)


def test_mf_layout_holds_no_transparent_files():
    c = card("shanghai")
    assert sw(c, "00A4020002EF07") == "6A82"
    assert sw(c, "00A4020002EF08") == "6A82"


# --- persona validation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "base,table,message",
    [
        ("gen1", 'ef08 = "FFD8"', "not transparent files"),
        ("gen2", 'ef06 = "00"', "not transparent files"),
        ("gen2", 'ef07 = "0"', "not hex"),
        ("gen2", "ef07 = 5", "wrong type"),
        ("gen2", f'ef07 = "{"AB" * 0x301}"', "at most 768 bytes"),
        ("shanghai", 'ef07 = "00"', "not transparent files"),
    ],
)
def test_persona_content_is_validated(tmp_path, base, table, message):
    text = (PERSONA_DIR / f"{base}.toml").read_text("utf-8") + f"\n[transparent]\n{table}\n"
    path = tmp_path / "bad.toml"
    path.write_text(text, "utf-8")
    with pytest.raises(errors.SpecError, match=message) as raised:
        SocialSecurityCard.from_persona(path)
    assert "ABAB" not in str(raised.value)  # content is never quoted

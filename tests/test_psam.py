"""The PSAM key source and the software PSAM, in process.

Oracles: the PSAM's cryptograms are checked against SoftwareKeys on the same root keys and
against a second computation on `cryptography`'s primitives (test_crypto); identities against
the persona files; the terminal number against the emulator's psam.toml read as plain TOML.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from pathlib import Path

import pytest
from crypto_oracle import second_auth, second_derivation
from helpers import TODAY, FaultyTransport, persona_toml

from sscard import errors, ireadcardbas
from sscard.auth.keysource import AuthContext, load_keys
from sscard.auth.psam import PsamKeys, open_psam_emulator
from sscard.card import Card
from sscard.cli.main import run
from sscard.crypto import Algorithm
from sscard.emulator import SocialSecurityCard, psam_card
from sscard.emulator.card_keys import TEST_KEYS
from sscard.emulator.psam_card import PsamCard, load_profile
from sscard.transport.emulated import EmulatorTransport

ROOT = Path(__file__).resolve().parents[1]
PSAM_TOML = tomllib.loads((ROOT / "sscard" / "emulator" / "psam.toml").read_text("utf-8"))
ROOTS = tomllib.loads(Path(TEST_KEYS).read_text("utf-8"))["keys"]
SPEC_TOML = tomllib.loads((ROOT / "apdu_specs" / "psam.toml").read_text("utf-8"))
SM4_ENV = bytes.fromhex("7378332E73682EC9E7BBE1B1A3D5CF")
DES_ENV = bytes.fromhex("D15600000590")
GEN3_ATR = bytes.fromhex("3B6D0000" + persona_toml("gen3")["atr_historical"])


def apdu(card, text: str) -> bytes:
    return card.execute(bytes.fromhex(text.replace(" ", "")))


def fetch(card, response: bytes) -> bytes:
    """Follow 61xx with GET RESPONSE, as a terminal does; data + SW."""
    assert response[0] == 0x61, response.hex()
    return apdu(card, f"00C00000{response[1]:02X}")


def psam_keys(**profile) -> tuple[PsamCard, FaultyTransport, PsamKeys]:
    card = PsamCard.from_file(**profile)
    transport = FaultyTransport(EmulatorTransport(card, "psam"), lambda *a: None)
    return card, transport, PsamKeys(transport)


def gen3_card(**overrides):
    emulated = SocialSecurityCard.from_persona("gen3", **overrides)
    return emulated, FaultyTransport(EmulatorTransport(emulated, "gen3"), lambda *a: None)


def sent_ins(transport, ins: int) -> int:
    return sum(1 for a in transport.sent if a[1] == ins)


# --- the software PSAM --------------------------------------------------------------------------


def test_psam_answers_select_terminal_number_and_errors():
    card = PsamCard.from_file()
    assert card.atr == bytes.fromhex(PSAM_TOML["atr"])
    assert apdu(card, "00A4000002 3F00") == b"\x90\x00"
    expected = bytes.fromhex(PSAM_TOML["terminal_number"]) + b"\x90\x00"
    assert apdu(card, "00B0960006") == expected  # by SFI 16h, as PBOC PSAMs are read
    assert apdu(card, "00A4000002 0016") == b"\x90\x00"
    assert apdu(card, "00B0000206") == b"\x6c\x04"  # offset 2: four bytes are left
    assert apdu(card, "00B0000204") == expected[2:]
    answer = fetch(card, apdu(card, "00A404000F" + SM4_ENV.hex() + "00"))
    assert answer == bytes((0x6F, 17, 0x84, 15)) + SM4_ENV + b"\x90\x00"
    assert apdu(card, "00B0960006") == b"\x6a\x82"  # EF 0016 lives under the MF
    assert apdu(card, "00A4040005A000000003") == b"\x6a\x82"
    assert apdu(card, "80FA0000080102030405060708") == b"\x69\x85"  # no session key yet
    assert apdu(card, "BFDE670928" + "00" * 40) == b"\x94\x03"  # no key 09
    assert apdu(card, "BFDE470A28" + "00" * 40) == b"\x69\x85"  # RKSSSE is not a 2-level key
    assert apdu(card, "BFDE670A20" + "00" * 32) == b"\x67\x00"  # SM4: 3 × 8 + 16 bytes
    assert apdu(card, "BFDF670A28" + "00" * 40) == b"\x6d\x00"


@pytest.mark.parametrize("code,name,env", [("03", "SM4", SM4_ENV), ("01", "DES", DES_ENV)])
@pytest.mark.parametrize("region", ["510100", "330106"])  # 33: the Zhejiang city factor
def test_psam_cryptogram_matches_a_second_computation(code, name, env, region):
    """DELIVERY SESSION KEY + CIPHER DATA, driven by hand, against cryptography's ciphers."""
    card = PsamCard.from_file()
    block = 16 if name == "SM4" else 8
    atr, random, original = os.urandom(17), os.urandom(8), os.urandom(8)
    factors = (
        atr[-8:]
        + (region[:4].encode() + b"00sx" if region.startswith("33") else region.encode() + b"sx")
        + region[:2].encode()
        + b"0000sh"
    )
    apdu(card, f"00A40400{len(env):02X}{env.hex()}00")
    data = factors + random.ljust(block, b"\x00")
    assert apdu(card, f"BFDE670A{len(data):02X}{data.hex()}") == b"\x90\x00"
    out = fetch(card, apdu(card, f"80FA0000{block:02X}{original.ljust(block, bytes(1)).hex()}"))
    assert out[-2:] == b"\x90\x00" and len(out) == block + 2
    got = out[:8] if block == 8 else bytes(a ^ b for a, b in zip(out[:8], out[8:16], strict=True))
    card_key = second_derivation(name, bytes.fromhex(ROOTS["RKSSSE"][code]), region, atr)
    assert got == second_auth(name, card_key, random, original)


def test_t1_psam_answers_cipher_data_directly():
    card = PsamCard.from_file(t0=False)
    apdu(card, "00A4040006D1560000059000")
    assert apdu(card, "BFDE6708 20" + "11" * 32) == b"\x90\x00"
    answer = apdu(card, "80FA0000080102030405060708")
    assert len(answer) == 10 and answer[-2:] == b"\x90\x00"


def test_session_key_is_gone_after_a_reset_or_another_selection():
    card = PsamCard.from_file()
    apdu(card, "00A4040006D1560000059000")
    assert apdu(card, "BFDE6708 20" + "11" * 32) == b"\x90\x00"
    card.reset()
    apdu(card, "00A4040006D1560000059000")
    assert apdu(card, "80FA0000080102030405060708") == b"\x69\x85"


# --- PsamKeys against SoftwareKeys --------------------------------------------------------------


@pytest.mark.parametrize("algorithm", [Algorithm.SM4, Algorithm.DES3])
@pytest.mark.parametrize("region", ["510100", "110105", "330102", "440300"])
def test_psam_keys_give_the_cryptograms_of_software_keys(algorithm, region):
    software = load_keys("test")
    _, _, psam = psam_keys()
    for _ in range(5):
        card = AuthContext(algorithm, region, bytes.fromhex("3B6D0000") + os.urandom(13))
        random, original = os.urandom(8), os.urandom(8)
        assert psam.external_cryptogram(card, random, original) == software.external_cryptogram(
            card, random, original
        )
        assert psam.internal_expected(card, random, original) == software.internal_expected(
            card, random, original
        )


def test_environment_selected_once_and_again_for_another_algorithm():
    _, transport, psam = psam_keys()
    card = AuthContext(Algorithm.SM4, "510100", GEN3_ATR)
    for _ in range(3):
        psam.external_cryptogram(card, os.urandom(8), os.urandom(8))
    psam.internal_expected(card._replace(algorithm=Algorithm.DES3), os.urandom(8), os.urandom(8))
    selects = [a[5 : 5 + a[4]] for a in transport.sent if a[:2] == b"\x00\xa4" and a[2] == 4]
    assert selects == [SM4_ENV, DES_ENV]


def test_terminal_number_and_defaults():
    _, _, psam = psam_keys()
    assert psam.terminal_number == PSAM_TOML["terminal_number"]
    assert psam.rk_reference == int(SPEC_TOML["key"][1]["card_reference"], 16)
    _, _, other = psam_keys(terminal_number="123456789012")
    assert other.terminal_number == "123456789012"


# --- a generation-3 read through the PSAM -------------------------------------------------------


def test_gen3_read_through_the_psam_equals_the_test_keys_read():
    with open_psam_emulator() as psam:
        emulated, transport = gen3_card()
        with Card(transport) as card:
            through_psam = card.read_identity(today=TODAY, keys=psam)
    with Card(EmulatorTransport(SocialSecurityCard.from_persona("gen3"))) as card:
        with_keys = card.read_identity(today=TODAY, keys=load_keys("test"))
    raw = persona_toml("gen3")["ef06"]
    assert through_psam.complete and through_psam.authentic == "yes"
    assert through_psam.holder.social_security_number == raw["social_security_number"]
    assert through_psam.holder.name == raw["name"]
    assert through_psam.holder.birth_date == raw["birth_date"]
    assert through_psam == with_keys
    assert sent_ins(transport, 0x82) == 1 and emulated.auth_tries_left == 3


def test_gen2_card_is_checked_with_the_psam_des_keys():
    with open_psam_emulator() as psam:
        with Card(EmulatorTransport(SocialSecurityCard.from_persona("gen2"))) as card:
            identity = card.read_identity(today=TODAY, keys=psam)
    assert identity.authentic == "yes" and identity.complete


def test_psam_without_the_read_key_spends_no_card_try():
    _, _, psam = psam_keys(keys=("IRK",))
    emulated, transport = gen3_card()
    with Card(transport) as card, pytest.raises(errors.PsamKeyMissing) as caught:
        card.read_identity(today=TODAY, keys=psam)
    assert caught.value.key == "RKSSSE" and caught.value.exit_code == errors.ExitCode.PSAM
    assert ireadcardbas.code_for(caught.value) == (-2203, "PSAM无RKSSSE")
    assert sent_ins(transport, 0x88) == 1  # the card proved itself with the PSAM's IRK
    assert sent_ins(transport, 0x82) == 0 and emulated.auth_tries_left == 3


def test_psam_without_the_cards_algorithm_sends_no_authentication():
    _, psam_transport, psam = psam_keys(environments=("des",))
    emulated, transport = gen3_card()
    with Card(transport) as card, pytest.raises(errors.PsamAlgorithmUnsupported) as caught:
        card.read_identity(today=TODAY, keys=psam)
    assert ireadcardbas.code_for(caught.value) == (-2202, "PSAM算法不支持")
    assert sent_ins(transport, 0x82) == 0 and emulated.auth_tries_left == 3
    assert sent_ins(psam_transport, 0xDE) == 0


def test_psam_key_of_another_usage_is_a_typed_error():
    psam = PsamKeys(EmulatorTransport(PsamCard.from_file()), usages={"IRK": 0x47})
    with pytest.raises(errors.PsamKeyUsage) as caught:
        psam.internal_expected(AuthContext(Algorithm.SM4, "510100", GEN3_ATR), bytes(8), bytes(8))
    assert ireadcardbas.code_for(caught.value)[0] == -24 and caught.value.sw == 0x6985


def test_a_user_card_is_not_a_psam():
    psam = PsamKeys(EmulatorTransport(SocialSecurityCard.from_persona("gen2")))
    assert psam.terminal_number is None
    with pytest.raises(errors.PsamMissing, match="not a social security PSAM"):
        psam.internal_expected(AuthContext(Algorithm.SM4, "510100", GEN3_ATR), bytes(8), bytes(8))


def test_psam_removed_or_reset_by_another_program():
    card = AuthContext(Algorithm.SM4, "510100", GEN3_ATR)
    resets = []

    def reset_once(index, apdu, response):
        if apdu[:2] == b"\xbf\xde" and not resets:
            resets.append(index)
            raise errors.CardReset()

    emulated = PsamCard.from_file()
    transport = FaultyTransport(EmulatorTransport(emulated, "psam"), reset_once)
    psam = PsamKeys(transport)
    random, original = os.urandom(8), os.urandom(8)
    assert psam.external_cryptogram(card, random, original) == load_keys(
        "test"
    ).external_cryptogram(card, random, original)
    assert resets and transport.recovered == 1
    psam.close()
    with pytest.raises(errors.PsamMissing, match="removed"):
        psam.external_cryptogram(card, random, original)


def test_trace_hides_the_psam_key_material_and_cryptograms():
    lines = []
    software = load_keys("test")
    card = AuthContext(Algorithm.SM4, "510100", GEN3_ATR)
    random, original = os.urandom(8), os.urandom(8)
    with open_psam_emulator(trace=lines.append) as psam:
        cryptogram = psam.external_cryptogram(card, random, original)
    text = "\n".join(lines)
    assert cryptogram == software.external_cryptogram(card, random, original)
    assert "PSAM > BFDE670A 28 [40 bytes hidden]" in text
    assert "PSAM > 80FA0000 10 [16 bytes hidden]" in text
    assert "[16 bytes hidden] 9000" in text
    assert random.hex().upper() not in text and cryptogram.hex().upper() not in text


# --- the CLI --------------------------------------------------------------------------------------


def test_cli_ireadcardbas_with_the_psam_carries_its_terminal_number(capsys):
    assert (
        run(
            [
                "read",
                "--emulator",
                "gen3",
                "--psam",
                "emulator",
                "--format",
                "ireadcardbas",
                "--reveal",
            ]
        )
        == 0
    )
    fields = capsys.readouterr().out.rstrip("\n").split("|")
    raw = persona_toml("gen3")
    assert fields[1] == raw["ef06"]["social_security_number"]
    assert fields[4] == raw["ef06"]["name"] + raw["ef06"]["name_extension"]
    assert fields[9] == PSAM_TOML["terminal_number"] and fields[11] == ""


def test_cli_json_with_the_psam(capsys):
    import json

    assert run(["read", "--emulator", "gen3", "--psam", "emulator", "--json", "--reveal"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["complete"] and document["card"]["authentic"] == "yes"
    assert document["source"]["psam"]["terminal_number"] == PSAM_TOML["terminal_number"]
    assert document["holder"]["name"] == persona_toml("gen3")["ef06"]["name"]


def test_cli_psam_errors(capsys, monkeypatch):
    assert run(["read", "--emulator", "gen3", "--psam", "emulator", "--keys", "test"]) == 2
    assert "two key sources" in capsys.readouterr().err
    original = psam_card.PsamCard.from_file.__func__

    def without_rk(cls, path=psam_card.PSAM_FILE, **overrides):
        return original(cls, path, **{"keys": ("IRK",), **overrides})

    monkeypatch.setattr(psam_card.PsamCard, "from_file", classmethod(without_rk))
    code = run(["read", "--emulator", "gen3", "--psam", "emulator", "--format", "ireadcardbas"])
    captured = capsys.readouterr()
    assert code == errors.ExitCode.PSAM
    assert captured.out == "-2203|PSAM无RKSSSE|\n"
    assert "PSAM" in captured.err and captured.err.count("\n") == 1


def test_profile_file_is_strict(tmp_path):
    bad = tmp_path / "psam.toml"
    bad.write_text(
        (ROOT / "sscard" / "emulator" / "psam.toml").read_text("utf-8") + "extra = 1\n",
        encoding="utf-8",
    )
    with pytest.raises(errors.SpecError, match="extra"):
        load_profile(bad)
    with pytest.raises(errors.SpecError, match="12 digits"):
        dataclasses.replace(load_profile(), terminal_number="12345")
    with pytest.raises(errors.SpecError, match="environment"):
        PsamCard.from_file(environments=("aes",))

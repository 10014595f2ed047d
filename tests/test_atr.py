"""The ATR is parsed (ISO/IEC 7816-3), never sliced: historical bytes from T0's K, the card
factor from historical bytes T6…TD, TCK excluded and checked.  Contact T=0, contact T=1 and
contactless (PC/SC part 3) ATRs of the same card give the same historical bytes and keys."""

from __future__ import annotations

import json

import pytest
from helpers import PERSONA_DIR, TODAY, FaultyTransport, persona_toml
from hypothesis import given, settings
from hypothesis import strategies as st

from sscard import errors, ireadcardbas
from sscard.auth.keysource import load_keys
from sscard.card import Card
from sscard.cli.main import run
from sscard.codec.atr import parse_atr, with_tck
from sscard.crypto import card_factor, derive_card_key
from sscard.crypto.ciphers import Algorithm
from sscard.emulator import SocialSecurityCard
from sscard.errors import ExitCode
from sscard.ssse.results import HolderStatus
from sscard.transport.emulated import EmulatorTransport

GEN3 = persona_toml("gen3")
HIST = bytes.fromhex(GEN3["atr_historical"])
T0 = bytes.fromhex("3B6D0000") + HIST  # the persona's own ATR
T1 = with_tck(bytes.fromhex("3BED00008131FE45") + HIST)
CONTACTLESS = with_tck(bytes.fromhex("3B8D8001") + HIST)
SAME_CARD = {"t0": T0, "t1": T1, "contactless": CONTACTLESS}


# --- the codec ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SAME_CARD)
def test_every_form_gives_the_same_historical_bytes_and_factor(name):
    atr = parse_atr(SAME_CARD[name])
    assert atr.historical == HIST
    assert (atr.tck is None) == (name == "t0")
    assert card_factor(SAME_CARD[name]) == HIST[5:13]  # T6…TD, never the TCK


def test_interface_bytes_are_walked():
    atr = parse_atr(T1)
    assert atr.interface == (
        ("TB1", 0),
        ("TC1", 0),
        ("TD1", 0x81),
        ("TD2", 0x31),
        ("TA3", 0xFE),
        ("TB3", 0x45),
    )
    assert atr.protocols == (1, 1) and atr.interface_byte("TA3") == 0xFE
    assert parse_atr(T0).protocols == (0,) and parse_atr(T0).offers_only_t0
    # TA1 TB1 TC1 TD1 all present, T=0 then T=15 (global bytes): T=15 makes TCK mandatory
    both = with_tck(bytes.fromhex("3BF2961100800F") + b"AB")
    parsed = parse_atr(both)
    assert parsed.protocols == (0, 15) and parsed.historical == b"AB"
    assert parsed.interface_byte("TA1") == 0x96
    assert parse_atr(bytes.fromhex("3F6D0000") + HIST).convention == "inverse"


@pytest.mark.parametrize(
    "raw,offset,message",
    [
        ("3B", 0, "at least TS and T0"),
        ("3A6D0000", 0, "TS 3A"),
        ("3B6D0000" + "00" * 12, 16, "cut after 12"),
        ("3B6D0000" + "00" * 14, 17, "1 bytes after"),
        ("3BED0000", 4, "cut before TD1"),
        ("3B8D8001" + HIST.hex(), 17, "no TCK"),
        (CONTACTLESS[:-1].hex() + f"{CONTACTLESS[-1] ^ 1:02X}", 17, "wrong TCK"),
        ("3B" + "00" * 33, 33, "at most 33"),
    ],
)
def test_malformed_atrs_are_decode_errors_with_offsets(raw, offset, message):
    with pytest.raises(errors.DecodeError, match=message) as info:
        parse_atr(bytes.fromhex(raw))
    assert info.value.offset == offset


def test_an_atr_without_the_factor_bytes_has_no_card_factor():
    short = with_tck(bytes.fromhex("3B888001") + bytes(8))  # a type-B card: 8 historical bytes
    with pytest.raises(errors.DecodeError, match="card factor"):
        card_factor(short)


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(st.binary(max_size=40))
def test_random_atrs_only_decode_error(raw):
    try:
        atr = parse_atr(raw)
    except errors.DecodeError as e:
        assert e.offset is None or 0 <= e.offset <= len(raw)
        return
    assert atr.raw == raw and len(atr.historical) == raw[1] & 0x0F


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(
    st.lists(st.tuples(st.integers(0, 7), st.integers(0, 15)), max_size=4),
    st.binary(max_size=15),
    st.sampled_from([0x3B, 0x3F]),
)
def test_built_atrs_parse_back(groups, historical, ts):
    """An ATR built from random groups of interface bytes parses back to its parts."""
    body, protocols, presence = bytearray(), [], None
    t0_presence = 0
    for n, (bits, protocol) in enumerate(groups):
        last = n == len(groups) - 1
        y = bits | (0 if last else 0x8)  # TD present except in the last group
        if n == 0:
            t0_presence = y
        else:
            body[presence] |= y << 4
        for bit in range(3):
            if y & (1 << bit):
                body.append(0x11 * (bit + 1))
        if not last:
            presence = len(body)
            body.append(protocol & 0x0F)
            protocols.append(protocol)
    raw = bytes((ts, (t0_presence << 4) | len(historical))) + bytes(body) + historical
    if any(t != 0 for t in protocols):
        raw = with_tck(raw)
    if len(raw) > 33:
        return
    atr = parse_atr(raw)
    assert atr.historical == historical and list(atr.protocols) == (protocols or [0])


# --- a genuine generation-3 card whose ATR announces T=1 ----------------------------------------


class OtherAtr(FaultyTransport):
    """The gen3 card as a reader shows it when it speaks T=1 or is read without contact:
    same chip, same keys (diversified from T6…TD), another ATR around the same historical bytes."""

    def __init__(self, inner, atr: bytes):
        super().__init__(inner, lambda *a: None)
        self._atr = atr

    @property
    def atr(self):
        return self._atr


def _gen3_as(name: str):
    emulated = SocialSecurityCard.from_persona("gen3")
    assert emulated.atr == T0  # its keys come from the T=0 ATR, whose last 8 bytes are T6…TD
    return emulated, OtherAtr(EmulatorTransport(emulated, "gen3"), SAME_CARD[name])


@pytest.mark.parametrize("name", SAME_CARD)
def test_a_gen3_card_authenticates_whatever_its_atr_announces(name):
    emulated, transport = _gen3_as(name)
    with Card(transport) as card:
        identity = card.read_identity(today=TODAY, keys=load_keys("test"))
    assert identity.authentic == "yes" and identity.holder_status is HolderStatus.READ
    assert identity.holder.social_security_number == GEN3["ef06"]["social_security_number"]
    assert identity.atr == SAME_CARD[name].hex().upper()
    assert identity.historical_bytes == HIST.hex().upper()
    assert emulated.auth_tries_left == 3  # nothing spent
    line = ireadcardbas.format_identity(identity)
    assert line.split("|")[5] == HIST.hex().upper()  # 卡复位信息: the historical bytes only


@pytest.mark.parametrize("name", SAME_CARD)
def test_a_psam_derives_the_same_card_key_whatever_the_atr(name):
    """The PSAM gets the card factor from the reader (DELIVERY SESSION KEY): T6…TD, never
    the TCK, so the card proves itself and EF06 opens."""
    from sscard.auth.psam import PsamKeys
    from sscard.emulator.psam_card import PsamCard

    emulated, transport = _gen3_as(name)
    psam = PsamKeys(EmulatorTransport(PsamCard.from_file(), "psam"))
    with Card(transport) as card:
        identity = card.read_identity(today=TODAY, keys=psam)
    assert identity.authentic == "yes" and identity.holder_status is HolderStatus.READ
    assert emulated.auth_tries_left == 3


@pytest.mark.parametrize("name", SAME_CARD)
def test_hsm_step1_gives_the_historical_bytes(name):
    _, transport = _gen3_as(name)
    with Card(transport) as card:
        step1 = card.hsm_step1(today=TODAY)
    assert step1.to_string().split("|")[1] == HIST.hex().upper()


def test_emulated_t1_and_contactless_personas_are_the_same_card(tmp_path):
    """A persona may give its whole ATR; the card's keys then come from its T6…TD."""
    text = (PERSONA_DIR / "gen3.toml").read_text(encoding="utf-8")
    for name in ("t1", "contactless"):
        path = tmp_path / f"gen3-{name}.toml"
        path.write_text(
            text.replace(
                f'atr_historical = "{GEN3["atr_historical"]}"',
                f'atr = "{SAME_CARD[name].hex().upper()}"',
            ),
            encoding="utf-8",
        )
        emulated = SocialSecurityCard.from_persona(str(path))
        assert emulated.atr == SAME_CARD[name]
        reference = SocialSecurityCard.from_persona("gen3")
        assert emulated.keys == reference.keys  # keys depend on T6…TD, not on the protocol
        with Card(EmulatorTransport(emulated, name)) as card:
            identity = card.read_identity(today=TODAY, keys=load_keys("test"))
        assert identity.authentic == "yes" and identity.complete


def test_the_card_key_is_diversified_from_t6_to_td():
    """Independent oracle: the level-3 factor of SPEC-P9 §7.3.3 written out by hand."""
    root = bytes(range(16))
    by_hand = derive_card_key(Algorithm.SM4, root, "510100", bytes.fromhex("3B6D0000") + HIST)
    for raw in SAME_CARD.values():
        assert derive_card_key(Algorithm.SM4, root, "510100", raw) == by_hand


def test_persona_atr_must_parse(tmp_path):
    text = (PERSONA_DIR / "gen3.toml").read_text(encoding="utf-8")
    path = tmp_path / "bad.toml"
    path.write_text(
        text.replace(
            f'atr_historical = "{GEN3["atr_historical"]}"', f'atr = "{CONTACTLESS[:-1].hex()}00"'
        ),
        encoding="utf-8",
    )
    with pytest.raises(errors.SpecError, match="TCK"):
        SocialSecurityCard.from_persona(str(path))


def test_builtin_contactless_persona_reads_with_keys(capsys):
    assert run(["read", "--emulator", "gen3-contactless", "--keys", "test", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    raw = persona_toml("gen3-contactless")
    assert parse_atr(bytes.fromhex(raw["atr"])).tck is not None
    assert doc["card"]["authentic"] == "yes" and doc["complete"]
    assert doc["card"]["historical_bytes"] == raw["atr"][8:-2]


# --- an ATR that does not parse ------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["3B6D0000", "3B8D8001" + HIST.hex() + "00", "FF"])
def test_a_malformed_atr_is_reported_and_no_key_is_derived(bad):
    emulated = SocialSecurityCard.from_persona("gen3")
    transport = OtherAtr(EmulatorTransport(emulated, "gen3"), bytes.fromhex(bad))
    with Card(transport) as card:
        identity = card.read_identity(today=TODAY, keys=load_keys("test"))
    codes = [f.code for f in identity.findings]
    assert "atr_malformed" in codes and "auth_not_checked" in codes
    assert identity.historical_bytes is None and identity.issuer.card_number is not None
    assert identity.holder_status is HolderStatus.LOCKED
    assert not [a for a in transport.sent if a[1] in (0x82, 0x88)]  # no authentication at all
    gen2 = SocialSecurityCard.from_persona("gen2")
    with Card(OtherAtr(EmulatorTransport(gen2, "gen2"), bytes.fromhex(bad))) as card:
        identity = card.read_identity(today=TODAY)
    assert identity.complete and identity.historical_bytes is None
    with pytest.raises(errors.DecodeError, match="ATR"):
        ireadcardbas.format_identity(identity)  # no 卡复位信息 to give
    with Card(
        OtherAtr(
            EmulatorTransport(SocialSecurityCard.from_persona("gen3"), "gen3"), bytes.fromhex(bad)
        )
    ) as card:
        with pytest.raises(errors.DecodeError, match=r"ATR|TCK"):
            card.hsm_step1(today=TODAY)


def test_cli_on_a_card_with_a_malformed_atr(monkeypatch, capsys):
    monkeypatch.setattr(EmulatorTransport, "atr", property(lambda self: bytes.fromhex("3B6D00")))
    assert run(["read", "--emulator", "gen2", "--json"]) == ExitCode.OK
    doc = json.loads(capsys.readouterr().out)
    assert doc["card"]["historical_bytes"] is None
    assert "atr_malformed" in [f["code"] for f in doc["findings"]]
    assert run(["read", "--emulator", "gen2", "--format", "ireadcardbas"]) == ExitCode.COMMUNICATION
    out = capsys.readouterr().out
    assert out == "-4|卡无应答|\n"

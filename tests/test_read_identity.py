"""Reading identity through the in-process emulator (the mock reader)."""

from __future__ import annotations

import datetime as _dt

import pytest
from helpers import FaultyTransport, emulator, persona_toml, read

from sscard import errors
from sscard.ssse.results import HolderStatus

GEN2_EF05 = [
    "card_identification",
    "card_type",
    "spec_version",
    "initialising_institution",
    "issue_date",
    "expiry_date",
    "card_number",
]


def _sent(session_or_transport):
    return [a.hex().upper() for a in session_or_transport.sent]


def test_gen2_full_identity_matches_persona():
    identity, session = read(emulator("gen2"))
    holder = identity.holder
    assert identity.complete and identity.holder_status is HolderStatus.READ
    assert identity.generation == 2 and identity.layout == "ssse"
    assert identity.algorithm.code == "01" and identity.algorithm.en == "DES/3DES"
    assert holder.social_security_number == "110101199003071233"
    assert holder.name == "测试甲"
    assert holder.sex.code == "1" and holder.sex.zh == "男"
    assert holder.ethnicity.code == "01" and holder.ethnicity.zh == "汉族"
    assert holder.birthplace == "110101"
    assert holder.birth_date == _dt.date(1990, 3, 7)
    raw = persona_toml("gen2")["ef05"]
    issuer = identity.issuer
    assert issuer.card_identification.hex == raw["card_identification"].upper()
    assert issuer.card_identification.rid == "D156000005"
    assert issuer.card_identification.region == raw["card_identification"][:6]
    assert issuer.card_type.code == raw["card_type"] and issuer.card_type.en
    assert issuer.spec_version == raw["spec_version"] == "2.00"
    assert issuer.initialising_institution == raw["initialising_institution"].upper()
    assert issuer.issue_date == raw["issue_date"] and issuer.expiry_date == raw["expiry_date"]
    assert issuer.card_number == raw["card_number"] and issuer.card_number_check is True
    assert identity.atr.startswith("3B6D0000") and len(identity.historical_bytes) == 26
    assert identity.atr.endswith(identity.historical_bytes)
    assert identity.findings == ()


def test_gen2_read_sequence_is_three_apdus():
    # SELECT SSSE, then each file whole: READ RECORD P1 = 1, P2 = SFI<<3 | 101 (records 1 to
    # the last), Le = the file's size in the spec (EF05 0x40, EF06 0x5B)
    transport = FaultyTransport(emulator("gen2"), lambda *a: None)
    identity, session = read(transport)
    assert _sent(transport) == [
        "00A404000F7378312E73682EC9E7BBE1B1A3D5CF00",
        "00B2012D40",
        "00B201355B",
    ]
    assert identity.complete and session.record_ranges
    # nothing read differently: the same card read item by item gives the same identity
    per_item, _ = read(emulator("gen2", read_record_forms=frozenset({"number", "identifier"})))
    assert identity == per_item


def test_gen1_reads_its_six_holder_records_in_one_range():
    transport = FaultyTransport(emulator("gen1"), lambda *a: None)
    identity, _ = read(transport)
    assert _sent(transport)[1:] == ["00B2012D40", "00B2013545"]  # no 4E: 69 bytes
    assert identity.complete


def test_card_refusing_ranges_reads_the_documented_sequence():
    transport = FaultyTransport(emulator("gen2-no-range"), lambda *a: None)
    read(transport)
    assert _sent(transport) == [
        "00A404000F7378312E73682EC9E7BBE1B1A3D5CF00",
        "00B2012D40",  # refused (6A86): the only APDU spent on the range form
        "00A4020002EF05",
        "00B2010012",
        "00B2020003",
        "00B2030006",
        "00B204000E",
        "00B2050006",
        "00B2060006",
        "00B207000B",
        "00A4020002EF06",
        "00B2080014",
        "00B2090020",
        "00B24E0016",
        "00B20A0003",
        "00B20B0003",
        "00B20C0005",
        "00B20D0006",
    ]


def test_gen1_has_no_name_extension_and_reads_by_tag():
    transport = FaultyTransport(emulator("gen1"), lambda *a: None)
    identity, _ = read(transport)
    assert identity.generation == 1 and identity.complete
    assert identity.holder.name_extension is None
    assert not any(a.startswith("00B24E") for a in _sent(transport))
    assert identity.holder.name == persona_toml("gen1")["ef06"]["name"]


def test_long_name_is_name_plus_extension():
    identity, _ = read(emulator("gen2-long-name"))
    raw = persona_toml("gen2-long-name")["ef06"]
    assert raw["name_extension"], "the persona must exercise the extension"
    assert identity.holder.name == raw["name"] + raw["name_extension"]
    assert identity.holder.name_record == raw["name"]
    assert len(raw["name"].encode("gbk")) + len(raw["name_extension"].encode("gbk")) > 30


def test_gen3_without_keys_returns_ef05_and_marks_holder_locked():
    transport = FaultyTransport(emulator("gen3"), lambda *a: None)
    identity, _ = read(transport)
    assert identity.holder_status is HolderStatus.LOCKED and identity.holder is None
    assert identity.holder_locked_by == "RKSSSE"
    assert not identity.complete
    assert identity.generation == 3 and identity.algorithm.code == "03"
    assert identity.algorithm.en == "SM4"
    assert identity.issuer.card_number == persona_toml("gen3")["ef05"]["card_number"]
    # no EF06 access is attempted: it could only answer 6982
    assert _sent(transport) == ["00A404000F7378312E73682EC9E7BBE1B1A3D5CF00", "00B2012D40"]


def test_t0_card_with_strict_le_gives_the_same_identity():
    strict, strict_session = read(emulator("gen2-t0"))
    raw = persona_toml("gen2-t0")
    assert strict.complete
    assert strict.holder.social_security_number == raw["ef06"]["social_security_number"]
    assert strict.algorithm.code == raw["algorithm"]
    # SELECT answers 61xx, fetched with one GET RESPONSE; then the two range reads
    assert strict_session.apdu_count == 4


def test_shanghai_layout_reads_ef05_under_the_mf():
    transport = FaultyTransport(emulator("shanghai"), lambda *a: None)
    identity, _ = read(transport)
    assert identity.layout == "mf"
    assert identity.holder_status is HolderStatus.ABSENT and identity.holder is None
    assert identity.issuer.card_number == persona_toml("shanghai")["ef05"]["card_number"]
    sent = _sent(transport)
    assert sent[:2] == ["00A404000F7378312E73682EC9E7BBE1B1A3D5CF00", "00A4020002EF05"]
    assert sent.count("00A4020002EF05") == 1  # EF05 is not selected twice


def test_expired_card_is_a_finding_not_an_error():
    identity, _ = read(emulator("gen2-expired"))
    assert identity.complete
    assert [f.code for f in identity.findings] == ["card_expired"]
    assert identity.findings[0].zh and identity.findings[0].en


@pytest.mark.parametrize(
    "persona,error",
    [
        ("ssse-blocked", errors.ApplicationBlocked),
        ("card-blocked", errors.CardBlocked),
    ],
)
def test_blocked_cards_raise_typed_errors(persona, error):
    with pytest.raises(error) as info:
        read(emulator(persona))
    assert info.value.sw in (0x9303, 0x6A81)
    assert info.value.exit_code == errors.ExitCode.CARD_BLOCKED


def test_every_persona_reads_consistently():
    from sscard.emulator.persona import list_personas

    for name in list_personas():
        raw = persona_toml(name)
        try:
            identity, _ = read(emulator(name))
        except (errors.ApplicationBlocked, errors.CardBlocked):
            assert raw.get("state") in ("ssse_blocked", "card_blocked"), name
            continue
        for key in GEN2_EF05:
            value = getattr(identity.issuer, key)
            value = value.hex if key == "card_identification" else value
            value = value.code if hasattr(value, "code") else value
            expected = raw["ef05"][key]
            expected = (
                expected.upper()
                if key in ("card_identification", "initialising_institution")
                else expected
            )
            assert value == (expected or None), (name, key)
        if identity.holder is not None:
            assert identity.holder.social_security_number == raw["ef06"]["social_security_number"]
            assert identity.holder.birth_date == raw["ef06"]["birth_date"]
            assert identity.holder.sex.code == raw["ef06"]["sex"]

"""Bank-application parsers on public hex vectors (docs/card-facts.md), the DOL rules of
JR/T 0025.4 §5.3 computed by hand, and random bytes (only sscard errors may come out)."""

from __future__ import annotations

import datetime as _dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sscard import errors
from sscard.bank import afl, dol, fci, gpo, records
from sscard.bank.reader import blank
from sscard.spec import load_spec

PBOC = load_spec().pboc
DEBIT = bytes.fromhex("A000000333010101")


# --- PSE / directory (docs/card-facts.md#pse-and-ppse; vector derived from perso-debit
# DGI 9102 + 0101)


def test_pse_fci_names_directory_sfi():
    assert (
        fci.parse_pse_fci(
            bytes.fromhex("6F1E840E315041592E5359532E4444463031A50C8801015F2D027A689F110101")
        )
        == 1
    )


def test_directory_record():
    (entry,) = fci.parse_directory_record(
        bytes.fromhex("701B61194F08A000000333010101500A50424F43204445424954870101"), PBOC
    )
    assert entry == fci.DirectoryEntry(DEBIT, "PBOC DEBIT", None, 1)


def test_directory_ignores_entries_without_aid_and_foreign_tags():
    # a 61 without 4F (a DDF entry) and a stray 9F01 outside 61 are ignored (JR/T 0025.3)
    record = bytes.fromhex("701361039D01019F01010061084F06A00000033301")
    assert [e.aid.hex().upper() for e in fci.parse_directory_record(record, PBOC)] == [
        "A00000033301"
    ]


def test_ppse_directory_inline():
    inner = bytes.fromhex("61174F08A000000333010102500B5549435320435245444954")
    bf0c = bytes.fromhex("BF0C") + bytes((len(inner),)) + inner
    a5 = b"\xa5" + bytes((len(bf0c),)) + bf0c
    body = bytes.fromhex("840E325041592E5359532E4444463031") + a5
    entries = fci.parse_ppse_fci(b"\x6f" + bytes((len(body),)) + body, PBOC)
    assert entries == (
        fci.DirectoryEntry(bytes.fromhex("A000000333010102"), "UICS CREDIT", None, None),
    )


def test_adf_fci_with_pdol_and_log_entries():
    # contact FCI of perso-debit (docs/card-facts.md#bank-fci):
    # PDOL 9F7A01 9F0206 5F2A02, BF0C { 9F4D 0B0A }
    a5 = bytes.fromhex(
        "500A50424F432044454249548701019F38099F7A019F02065F2A025F2D027A68BF0C0A9F4D020B0ADF4D020C0A"
    )
    body = bytes.fromhex("8408A000000333010101") + b"\xa5" + bytes((len(a5),)) + a5
    parsed = fci.parse_adf_fci(b"\x6f" + bytes((len(body),)) + body, PBOC)
    assert parsed.aid == DEBIT and parsed.label == "PBOC DEBIT" and parsed.priority == 1
    assert parsed.pdol == ((0x9F7A, 1), (0x9F02, 6), (0x5F2A, 2))
    assert parsed.language == "zh"
    assert parsed.log == (11, 10) and parsed.load_log == (12, 10)


# what each malformed FCI is refused for
MALFORMED_FCI = {
    "no A5": r"no proprietary template \(A5\)",
    "no 84": r"no DF name \(84\)",
    "value past the end": "tag 6F .* runs past the end",
    "truncated inner": "tag 9F4D .* runs past the end",
    "BF0C inner cut": "tag 9F4D .* runs past the end",
    "log entry SFI 0": r"log entry \(9F4D\) names SFI 0",
    "87 cut": "tag 6F .* runs past the end",
}


@pytest.mark.parametrize(
    "hex_fci,where",
    [
        ("6F03840100", "no A5"),
        ("6F0AA5088701019F4D020B0A", "no 84"),
        ("6F0C8408A000000333010101", "value past the end"),
        ("6F108408A000000333010101A5049F4D020B", "truncated inner"),
        ("6F128408A000000333010101A506BF0C039F4D01", "BF0C inner cut"),
        ("6F148408A000000333010101A508BF0C059F4D020000", "log entry SFI 0"),
        ("6F0F8408A000000333010101A5038702", "87 cut"),
    ],
)
def test_malformed_fci_is_a_decode_error(hex_fci, where):
    with pytest.raises(errors.DecodeError, match=MALFORMED_FCI[where]):
        fci.parse_adf_fci(bytes.fromhex(hex_fci), PBOC)


# --- GPO and AFL (docs/card-facts.md#other-applications-on-the-chip, #afl-and-records) ---


def test_gpo_format1_z390():
    answer = gpo.parse_response(bytes.fromhex("80127C0008010200100104001801030020010100"))
    assert answer.aip == bytes.fromhex("7C00")
    assert answer.afl == ((1, 1, 2, 0), (2, 1, 4, 0), (3, 1, 3, 0), (4, 1, 1, 0))


def test_gpo_format2_z390():
    answer = gpo.parse_response(bytes.fromhex("770E82021C0094080801010010010301"))
    assert answer.aip == bytes.fromhex("1C00")
    assert answer.afl == ((1, 1, 1, 0), (2, 1, 3, 1))


def test_afl_perso_debit():
    assert afl.parse_afl(bytes.fromhex("08010100100103011801030020010100")) == (
        (1, 1, 1, 0),
        (2, 1, 3, 1),
        (3, 1, 3, 0),
        (4, 1, 1, 0),
    )


@pytest.mark.parametrize(
    "hex_afl",
    [
        "080101",  # not a multiple of 4
        "00010100",  # SFI 0
        "09010100",  # low bits set
        "F8010100",  # SFI 31
        "08000100",  # record 0
        "08030100",  # last before first
        "08010203",  # 3 ODA records in a range of 2
        "08 01 FF 00 10 01 FF 00".replace(" ", ""),  # 510 records
    ],
)
def test_impossible_afl(hex_afl):
    with pytest.raises(errors.DecodeError, match=IMPOSSIBLE_AFL[hex_afl]):
        afl.parse_afl(bytes.fromhex(hex_afl))


IMPOSSIBLE_AFL = {
    "080101": "not a multiple of 4",
    "00010100": r"impossible SFI \(byte 00\)",
    "09010100": r"impossible SFI \(byte 09\)",
    "F8010100": r"impossible SFI \(byte F8\)",
    "08000100": "impossible record range 0–1",
    "08030100": "impossible record range 3–1",
    "08010203": "counts 3 authentication records in a range of 2",
    "0801FF001001FF00": "more than 64 records",
}


def test_gpo_response_errors():
    for bad, reason in (
        ("8001", "tag 80 .* runs past the end"),
        ("7704820100", "tag 77 .* runs past the end"),
        ("6F00", "template 6F is neither 80 nor 77"),
        ("80027C0000", r"invalid tag 00 \(padding"),
        ("770494020801", r"no valid AIP \(82\)"),
    ):
        with pytest.raises(errors.DecodeError, match=reason):
            gpo.parse_response(bytes.fromhex(bad))


# --- DOL rules (JR/T 0025.4 §5.3) ----------------------------------------------------------


def test_dol_fit_rules():
    assert dol.fit(bytes.fromhex("000000001234"), 4, "amount") == bytes.fromhex("00001234")
    assert dol.fit(bytes.fromhex("1234"), 4, "n") == bytes.fromhex("00001234")
    assert dol.fit(bytes.fromhex("1234"), 4, "cn") == bytes.fromhex("1234FFFF")
    assert dol.fit(b"AB", 4, "text") == b"AB\x00\x00"
    assert dol.fit(bytes.fromhex("11223344"), 2, "b") == bytes.fromhex("1122")
    assert dol.fit(bytes.fromhex("11223344"), 2, "n") == bytes.fromhex("3344")


def test_contact_gpo_of_chinese_banks():
    """Z390 (docs/card-facts.md#other-applications-on-the-chip): GPO data
    83 09 00 000000000000 0156 for PDOL 9F7A01 9F0206 5F2A02."""
    pdol = dol.parse_dol(bytes.fromhex("9F7A019F02065F2A02"))
    data = gpo.command_data(pdol, PBOC, DEBIT, _dt.date(2026, 11, 30))
    assert data == bytes.fromhex("8309000000000000000156")


def test_contact_gpo_with_sm_indicator_and_unknown_tag():
    # BOC/BoCom PDOL + an unknown tag DF7F (zeros) + a constructed tag (zeros)
    pdol = dol.parse_dol(bytes.fromhex("9F7A019F02065F2A02DF6901DF7F02BF0101"))
    data = gpo.command_data(pdol, PBOC, DEBIT, _dt.date(2026, 11, 30))
    assert data == bytes.fromhex("830D00000000000000015600000000")


def test_contactless_pdol_layout():
    pdol = dol.parse_dol(bytes.fromhex("9F66049F02069F03069F1A0295055F2A029A039C019F3704"))
    data = gpo.command_data(pdol, PBOC, DEBIT, _dt.date(2026, 11, 30), bytes.fromhex("11223344"))
    assert len(data) == 2 + 33
    assert data[2 + 4 :] == bytes.fromhex(
        "0000000000000000000000000156000000000001562611300011223344"
    )


def test_unionpay_terminal_tags_are_zero_for_another_scheme():
    visa = bytes.fromhex("A0000000031010")
    pdol = dol.parse_dol(bytes.fromhex("9F7A01DF69015F2A02"))
    pboc_value = PBOC.tag(0x9F7A).reader_value
    assert gpo.command_data(pdol, PBOC, visa, _dt.date(2026, 1, 1)) == bytes.fromhex("830400000156")
    assert pboc_value == b"\x00"  # 9F7A = 00: no e-cash path (docs/card-facts.md#pdol-values)


MALFORMED_DOL = {
    "9F": "tag cut off by the end of data",
    "9F02": "tag 9F02 has no length",
    "9F0281": "length 81 of tag 9F02 is not a one-byte length",
    "00": r"invalid tag 00 \(padding",
    "FF01": "invalid tag byte FF",
    "9F8F8F0101": "tag longer than 3 bytes",
}


@pytest.mark.parametrize("hex_dol", ["9F", "9F02", "9F0281", "00", "FF01", "9F8F8F0101"])
def test_malformed_dol(hex_dol):
    with pytest.raises(errors.DecodeError, match=MALFORMED_DOL[hex_dol]):
        dol.parse_dol(bytes.fromhex(hex_dol))


def test_dol_too_long_for_gpo():
    with pytest.raises(errors.DecodeError, match="asks for 254 bytes, more than 252"):
        dol.build_dol_data(
            (dol.DolEntry(0x9F4E, 127), dol.DolEntry(0xDF01, 127)), {}, lambda t: None
        )


# --- records ---------------------------------------------------------------------------------


def test_records_merge_first_wins_and_reports_duplicates():
    r1 = records.parse_record(bytes.fromhex("70075A05621234567F"), 1, 1)
    r2 = records.parse_record(bytes.fromhex("700D5A0599999999995F2403301231"), 1, 2)
    merged = records.merge([r1, r2])
    assert merged.get(0x5A).value == bytes.fromhex("621234567F")
    assert merged.get(0x5F24).record == 2 and merged.duplicates == (0x5A,)


def test_record_must_be_a_70_template():
    with pytest.raises(errors.DecodeError, match="record 1 of SFI 1 is not one 70 template"):
        records.parse_record(bytes.fromhex("5A0462123456"), 1, 1)


@pytest.mark.parametrize(
    "raw,expected",
    [
        ("2020202020202020", True),
        ("0000", True),
        ("202F", True),
        ("FFFF", True),
        ("D5C5C8FD", False),
        ("4C49", False),
    ],
)
def test_blank_names(raw, expected):
    assert blank(bytes.fromhex(raw)) is expected


def test_gbk_merchant_name_pboc_vector():
    # docs/card-facts.md#pboc-value-formats (nfsee): 9F4E GBK with 00 padding
    value = bytes.fromhex("B1B1BEA9B4F3D1A7BFDAC7BBD2BDD1A7D4BA0000")
    assert PBOC.decode_dol_value(0x9F4E, value) == "北京大学口腔医学院"


# --- random bytes: only sscard errors ------------------------------------------------------------


def _only_sscard_errors(fn, data):
    try:
        fn(data)
    except errors.SscardError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=80))
def test_fuzz_parsers(data):
    _only_sscard_errors(lambda d: fci.parse_adf_fci(d, PBOC), data)
    _only_sscard_errors(fci.parse_pse_fci, data)
    _only_sscard_errors(lambda d: fci.parse_ppse_fci(d, PBOC), data)
    _only_sscard_errors(lambda d: fci.parse_directory_record(d, PBOC), data)
    _only_sscard_errors(afl.parse_afl, data)
    _only_sscard_errors(dol.parse_dol, data)
    _only_sscard_errors(gpo.parse_response, data)
    _only_sscard_errors(lambda d: records.parse_record(d, 1, 1), data)
    _only_sscard_errors(lambda d: PBOC.log("transaction").decode_record(d), data)
    _only_sscard_errors(lambda d: PBOC.log("load").decode_record(d), data)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(
                [0x9F7A, 0x9F02, 0x5F2A, 0xDF69, 0x9A, 0x9F37, 0x9F66, 0x9F4E, 0x5A, 0xDF7F, 0x95]
            ),
            st.integers(0, 40),
        ),
        max_size=8,
    )
)
def test_fuzz_pdol_build(entries):
    """Any PDOL: the data is exactly as long as the DOL asks, or a DecodeError."""
    pdol = tuple(dol.DolEntry(t, n) for t, n in entries)
    try:
        data = gpo.command_data(pdol, PBOC, DEBIT, _dt.date(2026, 11, 30))
    except errors.SscardError:
        assert dol.data_length(pdol) > dol.MAX_DOL_DATA
        return
    assert len(data) >= 2 and data[0] == 0x83
    assert len(data) - (2 if dol.data_length(pdol) < 0x80 else 3) == dol.data_length(pdol)


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=2, max_size=6), st.binary(max_size=40))
def test_fuzz_fci_around_valid_parts(prefix, tail):
    """A valid FCI with random bytes spliced in: parsed or a DecodeError."""
    body = (
        bytes.fromhex("8408A000000333010101")
        + b"\xa5"
        + bytes((len(prefix + tail),))
        + prefix
        + tail
    )
    _only_sscard_errors(lambda d: fci.parse_adf_fci(d, PBOC), b"\x6f" + bytes((len(body),)) + body)


# --- 00 padding (EMV Book 3 Annex B): bank templates only ---------------------------------------

PADDED_RECORD = "70 14 00 5A08 6212340000000012 00 5F2403 310331 00 00"


def test_padded_bank_record_reads():
    elements = records.parse_record(bytes.fromhex(PADDED_RECORD.replace(" ", "")), 2, 1)
    assert [(e.tag, e.value.hex().upper()) for e in elements] == [
        (0x5A, "6212340000000012"),
        (0x5F24, "310331"),
    ]
    assert elements[1].offset == 17  # 70 14 00 5A 08 <8> 00 5F24 03 → value at byte 17


def test_padded_fci_reads():
    plain = "6F1E840E315041592E5359532E4444463031A50C8801015F2D027A689F110101"
    padded = "6F22840E315041592E5359532E4444463031A51000880101005F2D027A689F1101010000"
    assert fci.parse_pse_fci(bytes.fromhex(padded)) == fci.parse_pse_fci(bytes.fromhex(plain))


def test_padding_stays_rejected_by_default():
    from sscard.codec.tlv import parse_ber

    with pytest.raises(errors.DecodeError, match=r"invalid tag 00 \(padding"):
        parse_ber(bytes.fromhex(PADDED_RECORD.replace(" ", "")))

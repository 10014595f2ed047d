"""Codecs: strict decoding with offsets, round trips, and random bytes that only ever
produce DecodeError (never IndexError, ValueError or UnicodeDecodeError)."""

from __future__ import annotations

import datetime as _dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sscard.codec import bcd, card_id, card_number, dol, fields, gb11643, pboc_formats, tlv
from sscard.errors import DecodeError

REAL_FCI = bytes.fromhex("6F1C840F7378312E73682EC9E7BBE1B1A3D5CFA50988011E9F0C03860103")


# --- TLV ------------------------------------------------------------------------------------


def test_real_fci_parses_with_nesting_and_offsets():
    (fci,) = tlv.parse_ber(REAL_FCI)
    assert fci.tag == 0x6F and fci.offset == 0 and len(fci.children) == 2
    a5 = fci.find(0xA5)
    assert a5.offset == 19 and a5.find(0x88).value == b"\x1e"
    issuer = a5.find(0x9F0C)
    assert issuer.children is None  # primitive, though it holds TLVs
    assert tlv.parse_ber(issuer.value)[0].value == b"\x03"
    assert fci.find_path(0xA5, 0x88).offset == 21


@pytest.mark.parametrize(
    "data,offset,message",
    [
        ("6F0584", 1, "runs past"),  # value longer than the buffer
        ("6F", 1, "length missing"),
        ("9F", 0, "tag cut off"),
        ("6F80", 1, "indefinite"),
        ("6F8401000000", 1, "not supported"),
        ("6F8201", 1, "cut off"),
        ("00", 0, "tag 00"),
        ("6F028401", 3, "runs past"),  # the inner TLV is cut
    ],
)
def test_ber_errors_carry_offsets(data, offset, message):
    with pytest.raises(DecodeError, match=message) as info:
        tlv.parse_ber(bytes.fromhex(data))
    assert info.value.offset == offset


def test_ber_long_form_and_multibyte_tags_round_trip():
    value = bytes(range(200))
    encoded = tlv.encode_ber(0x9F4F, value)
    assert encoded[:4] == bytes.fromhex("9F4F81C8")
    (parsed,) = tlv.parse_ber(encoded)
    assert parsed.tag == 0x9F4F and parsed.value == value


def test_ber_depth_is_bounded():
    deep = b"\x05\x00"
    for _ in range(20):
        deep = tlv.encode_ber(0x30, deep)
    with pytest.raises(DecodeError, match="deeper"):
        tlv.parse_ber(deep)


def test_records_back_to_back_and_their_errors():
    records = tlv.parse_record(bytes.fromhex("0304332E3030020133"))
    assert [(r.tag, r.value, r.offset) for r in records] == [(3, b"3.00", 0), (2, b"3", 6)]
    with pytest.raises(DecodeError, match="record 02 value .* runs past the end") as info:
        tlv.parse_record(bytes.fromhex("0304332E3030020533"))
    assert info.value.offset == 7
    with pytest.raises(DecodeError, match="tag 00") as info:
        tlv.parse_record(bytes.fromhex("0301000000"), base=100)
    assert info.value.offset == 103
    with pytest.raises(DecodeError, match="no length"):
        tlv.parse_record(b"\x08")


# --- value codecs ---------------------------------------------------------------------------


def test_cn_decoding_and_padding():
    assert fields.decode_cn(bytes.fromhex("110101")) == "110101"
    assert fields.decode_cn(bytes.fromhex("12FF")) == "12"
    assert fields.decode_cn(bytes.fromhex("1FFF")) == "1"
    assert fields.decode_cn(bytes.fromhex("FFFFFFFF")) is None
    with pytest.raises(DecodeError, match="invalid BCD nibble A") as info:
        fields.decode_cn(bytes.fromhex("1234A5"), base=10)
    assert info.value.offset == 12
    with pytest.raises(DecodeError, match="after F"):
        fields.decode_cn(bytes.fromhex("1F23"))
    assert fields.encode_cn("123", 3) == bytes.fromhex("123FFF")
    with pytest.raises(DecodeError, match="cn value longer than 3 bytes"):
        fields.encode_cn("1234567", 3)


def test_an_ascii_and_gbk():
    assert fields.decode_an(bytes.fromhex("322E3000")) == "2.0"
    assert fields.decode_an(bytes(5)) is None
    assert fields.decode_an("测试甲".encode("gbk") + bytes(24), "gbk") == "测试甲"
    with pytest.raises(DecodeError, match="after 00") as info:
        fields.decode_an(bytes.fromhex("41004200"))
    assert info.value.offset == 2
    with pytest.raises(DecodeError, match="GBK") as info:
        fields.decode_an(bytes.fromhex("B2E2FF00"), "gbk", base=2)
    assert info.value.offset in (4, 5)
    with pytest.raises(DecodeError, match="ASCII") as info:
        fields.decode_an(bytes.fromhex("4180"))
    assert info.value.offset == 1
    with pytest.raises(DecodeError, match="longer"):
        fields.encode_an("一二三四五六七八九十一二三四五六", 30, "gbk")
    with pytest.raises(DecodeError, match="cannot be encoded as ascii"):
        fields.encode_an("ü", 4)


def test_dates():
    assert fields.decode_date(bytes.fromhex("20290615")) == _dt.date(2029, 6, 15)
    assert fields.decode_date(bytes.fromhex("FFFFFFFF")) is None
    for bad, reason in (
        ("20291315", "invalid calendar date"),
        ("20290230", "invalid calendar date"),
        ("2029FFFF", "incomplete date"),
        ("201906", "a date has 4 bytes, not 3"),
    ):
        with pytest.raises(DecodeError, match=reason):
            fields.decode_date(bytes.fromhex(bad))
    assert fields.encode_date(_dt.date(1990, 3, 7)) == bytes.fromhex("19900307")


# --- identifiers ----------------------------------------------------------------------------


def test_gb11643():
    good = gb11643.check_id_number("110101199003071233", today=_dt.date(2026, 11, 22))
    assert good.valid and good.birth_date == _dt.date(1990, 3, 7) and good.sex == "1"
    assert good.region == "110101"
    assert gb11643.check_character("11010519491231002") == "X"
    assert gb11643.check_id_number("11010519491231002X").valid
    bad = gb11643.check_id_number("110101199003071234")
    assert bad.problems == ("check_character",)
    assert (
        "birth_date"
        in gb11643.check_id_number(
            gb11643.make_id_number("110101", _dt.date(2030, 1, 1), "001"),
            today=_dt.date(2026, 1, 1),
        ).problems
    )
    assert (
        "region"
        in gb11643.check_id_number(
            gb11643.make_id_number("990101", _dt.date(1990, 1, 1), "001")
        ).problems
    )
    assert gb11643.check_id_number("11010119900307123x").problems == ("characters",)
    assert gb11643.check_id_number("123").problems == ("length",)


@pytest.mark.parametrize(
    "number,expected",
    [
        ("HA1046924", True),
        ("B07541184", True),
        ("ET000077X", True),  # docs/card-facts.md#card-number-check-character
        ("A21472424", False),
        ("W49158758", False),  # real cards that fail the check
        ("A1234", None),
        ("a12345674", None),
    ],
)
def test_card_number_check_character(number, expected):
    assert card_number.card_number_check(number) is expected


def test_card_id_split():
    parts = card_id.split_card_id(bytes.fromhex("511300D156000005A2147242FFFFFFFF"))
    assert (parts.region, parts.rid, parts.serial, parts.auth_code) == (
        "511300",
        "D156000005",
        "A2147242",
        "FFFFFFFF",
    )
    assert card_id.rid_ok(parts)
    with pytest.raises(DecodeError, match="has 15 bytes, not 16"):
        card_id.split_card_id(bytes(15))


# --- properties -------------------------------------------------------------------------------

PROPERTY = settings(max_examples=400, deadline=None)


@PROPERTY
@given(st.binary(max_size=300), st.integers(0, 1000))
def test_random_bytes_only_decode_error(data, base):
    for parse in (
        lambda: tlv.parse_ber(data, base),
        lambda: tlv.parse_record(data, base),
        lambda: fields.decode_cn(data, base),
        lambda: fields.decode_an(data, "ascii", base),
        lambda: fields.decode_an(data, "gbk", base),
        lambda: fields.decode_date(data, base),
        lambda: card_id.split_card_id(data, base),
    ):
        try:
            parse()
        except DecodeError as e:
            assert e.offset is None or base <= e.offset <= base + len(data)


@PROPERTY
@given(st.text(max_size=30))
def test_identifier_checks_never_raise(text):
    assert isinstance(gb11643.check_id_number(text).valid, bool)
    assert card_number.card_number_check(text) in (True, False, None)


@PROPERTY
@given(st.text(alphabet="0123456789", max_size=8))
def test_cn_round_trip(digits):
    assert fields.decode_cn(fields.encode_cn(digits, 4)) == (digits or None)


@PROPERTY
@given(st.text(alphabet=st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5), max_size=15))
def test_gbk_round_trip(text):
    try:
        raw = fields.encode_an(text, 30, "gbk")
    except DecodeError:
        return  # a character GBK does not have
    assert fields.decode_an(raw, "gbk") == (text or None)


@PROPERTY
@given(st.dates(min_value=_dt.date(1, 1, 1)))
def test_date_round_trip(day):
    assert fields.decode_date(fields.encode_date(day)) == day


@PROPERTY
@given(st.lists(st.tuples(st.integers(1, 255), st.binary(max_size=40)), max_size=6))
def test_record_and_ber_round_trip(items):
    records = b"".join(tlv.encode_record(t, v) for t, v in items)
    assert [(r.tag, r.value) for r in tlv.parse_record(records)] == items
    primitive = [(t, v) for t, v in items if t & 0x1F != 0x1F and not t & 0x20]
    ber = b"".join(tlv.encode_ber(t, v) for t, v in primitive)
    assert [(r.tag, r.value) for r in tlv.parse_ber(ber)] == primitive


# --- one codec family: the BCD walker, the text padding and the DOL parser shared -------------


@pytest.mark.parametrize(
    "raw,f_padding,digits",
    [("000123", False, "000123"), ("6212FF", True, "6212"), ("FFFF", True, ""), ("", True, "")],
)
def test_bcd_walker_layouts(raw, f_padding, digits):
    assert bcd.decode_digits(bytes.fromhex(raw), f_padding=f_padding) == digits
    if raw:
        size = len(raw) // 2
        assert bcd.encode_digits(digits, size, f_padding=f_padding).hex().upper() == raw


@pytest.mark.parametrize(
    "raw,f_padding,message,offset",
    [
        ("12A4", False, "invalid BCD nibble A", 11),
        ("12F4", False, "invalid BCD nibble F", 11),
        ("1F23", True, "digit after F padding", 11),  # the byte of the digit, not of the F
        ("1F2A", True, "digit after F padding", 11),  # the first problem, walking forward
        ("FFA0", True, "invalid BCD nibble A", 11),
    ],
)
def test_bcd_walker_errors_are_the_same_in_both_families(raw, f_padding, message, offset):
    """The social security cn codec and the PBOC n / cn formats walk digits one way, so the
    same bad value gives the same error at the same offset in both."""
    decoders = [lambda: bcd.decode_digits(bytes.fromhex(raw), 10, f_padding=f_padding)]
    decoders.append(lambda: pboc_formats.decode("cn" if f_padding else "n", bytes.fromhex(raw), 10))
    if f_padding:
        decoders.append(lambda: fields.decode_cn(bytes.fromhex(raw), 10))
    for decode in decoders:
        with pytest.raises(DecodeError, match=message) as info:
            decode()
        assert info.value.offset == offset


@pytest.mark.parametrize("fmt", ["an", "ans", "text"])
def test_pboc_text_padding_is_the_social_security_rule(fmt):
    assert pboc_formats.decode(fmt, b"AB12\x00\x00") == "AB12"
    assert pboc_formats.decode(fmt, bytes(3)) == ""
    for codec in (
        lambda: pboc_formats.decode(fmt, b"AB\x00C\x00", 4),
        lambda: fields.decode_an(b"AB\x00C\x00", "ascii", 4),
    ):
        with pytest.raises(DecodeError, match="data after 00 padding") as info:
            codec()
        assert info.value.offset == 7


def test_one_dol_parser():
    entries = dol.parse_dol(bytes.fromhex("9F02065F2A02BF0101"))
    assert entries == ((0x9F02, 6), (0x5F2A, 2), (0xBF01, 1))
    assert [e.constructed for e in entries] == [False, False, True]
    assert dol.encode_dol(entries).hex().upper() == "9F02065F2A02BF0101"
    assert pboc_formats.decode("dol", bytes.fromhex("9F0206")) == [{"tag": "9F02", "length": 6}]
    from sscard.bank import dol as bank_dol

    assert bank_dol.parse_dol is dol.parse_dol and bank_dol.DolEntry is dol.DolEntry
    with pytest.raises(DecodeError, match="one-byte length") as info:
        dol.parse_dol(bytes.fromhex("9F0281"), 5)
    assert info.value.offset == 7

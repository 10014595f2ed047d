"""The card emulator driven with raw APDU hex only (no reader code).

Expected bytes are written out by hand or built here from the persona values
with plain Python (ASCII / GBK / hex), so a codec bug cannot hide in both sides.
"""

from __future__ import annotations

from helpers import ok, sw, tx

from sscard.emulator import SocialSecurityCard, load_persona

SSSE_NAME = "7378312E73682EC9E7BBE1B1A3D5CF"
SELECT_SSSE = "00A404000F" + SSSE_NAME
FCI_DES = "6F1C840F" + SSSE_NAME + "A50988011E9F0C03860101"
FCI_SM4 = "6F1C840F" + SSSE_NAME + "A50988011E9F0C03860103"
FCI_NO_ALG = "6F16840F" + SSSE_NAME + "A50388011E"


def card(name: str = "gen2", **overrides) -> SocialSecurityCard:
    return SocialSecurityCard.from_persona(name, **overrides)


def tlvs(hex_data: str) -> list[tuple[int, bytes]]:
    """Walk simple tag|len|value records (independent of sscard.codec)."""
    raw, out, i = bytes.fromhex(hex_data), [], 0
    while i < len(raw):
        tag, n = raw[i], raw[i + 1]
        out.append((tag, raw[i + 2 : i + 2 + n]))
        i += 2 + n
    assert i == len(raw)
    return out


def in_ef(c: SocialSecurityCard, fid: str) -> SocialSecurityCard:
    assert ok(c, SELECT_SSSE) != ""  # no Le: a strict card would answer Le 00 with 6C1E
    ok(c, "00A4020002" + fid)
    return c


def bcd_date(d) -> str:
    return f"{d.year:04d}{d.month:02d}{d.day:02d}"


# --- SELECT -------------------------------------------------------------------------------


def test_select_ssse_returns_the_fci():
    assert tx(card(), SELECT_SSSE + "00") == (FCI_DES, "9000")
    assert tx(card("gen3"), SELECT_SSSE + "00") == (FCI_SM4, "9000")
    assert tx(card("gen1"), SELECT_SSSE + "00") == (FCI_NO_ALG, "9000")


def test_select_ssse_without_le_and_with_p2_0c():
    assert tx(card(), SELECT_SSSE) == (FCI_DES, "9000")
    assert tx(card(), "00A4040C0F" + SSSE_NAME) == ("", "9000")


def test_select_errors_and_previous_selection_stays():
    c = in_ef(card(), "EF05")
    assert sw(c, "00A404000F7378312E73682EC9E7BBE1B1A3D5D000") == "6A82"
    assert sw(c, "00A4020002EF09") == "6A82"
    assert sw(c, "00A4000002DF01") == "6A82"
    assert sw(c, "00A4020402EF05") == "6A86"
    assert sw(c, "00A4080002EF05") == "6A86"
    # EF05 is still the current EF after the failures
    assert ok(c, "00B2010400")[:4] == "0110"


def test_select_by_fid_p1_00_and_mf():
    c = card()
    ok(c, SELECT_SSSE)
    ok(c, "00A4000002EF06")
    assert ok(c, "00B2010400")[:4] == "0812"
    ok(c, "00A40000023F00")
    # the MF of a normal card holds no EF05: that is how a reader tells the layouts apart
    assert sw(c, "00A4020002EF05") == "6A82"
    assert sw(c, "00B2010400") == "6986"
    ok(c, SELECT_SSSE)
    ok(c, "00A40000")  # P1 00 without data selects the MF too
    assert sw(c, "00A4000002EF05") == "6A82"


# --- READ RECORD ------------------------------------------------------------------------


def test_spec_read_forms_on_gen2():
    p = load_persona("gen2")
    c = in_ef(card(), "EF05")
    card_id = p.ef05["card_identification"]
    assert ok(c, "00B2010012") == "0110" + card_id
    assert ok(c, "00B2072C0B") == "0709" + p.ef05["card_number"].encode("ascii").hex().upper()
    assert ok(c, "00B2083014") == "0812" + p.ef06["social_security_number"].encode().hex().upper()
    assert ok(c, "00B24E3016") == "4E14" + "00" * 20


def test_sfi_read_needs_no_select_and_makes_the_ef_current():
    c = card()
    ok(c, SELECT_SSSE)
    assert sw(c, "00B2010400") == "6986"  # no current EF yet
    assert ok(c, "00B2032806") == "0304322E3030"  # tag 03 of SFI 5: "2.00"
    assert ok(c, "00B2010400")[:4] == "0110"  # EF05 is now current
    assert ok(c, "00B2013400")[:4] == "0812"  # record 1 of SFI 6
    assert ok(c, "00B2020400")[:4] == "091E"  # EF06 is now current
    assert sw(c, "00B2013C00") == "6981"  # SFI 7 is EF07, a transparent file
    assert sw(c, "00B2014C00") == "6A82"  # SFI 9 does not exist


def test_ef05_all_records_in_one_read():
    p = load_persona("gen2")
    c = in_ef(card(), "EF05")
    data = ok(c, "00B2010540")
    assert len(data) == 2 * 64
    records = tlvs(data)
    assert [t for t, _ in records] == [1, 2, 3, 4, 5, 6, 7]
    values = dict(records)
    assert values[1].hex().upper() == p.ef05["card_identification"]
    assert values[2] == p.ef05["card_type"].encode()
    assert values[3] == b"2.00"
    assert values[4].hex().upper() == p.ef05["initialising_institution"]
    assert values[5].hex() == bcd_date(p.ef05["issue_date"])
    assert values[6].hex() == bcd_date(p.ef05["expiry_date"])
    assert values[7] == p.ef05["card_number"].encode()


def test_ef06_all_records_match_the_persona():
    p = load_persona("gen2")
    c = in_ef(card(), "EF06")
    data = ok(c, "00B201055B")
    records = tlvs(data)
    assert [t for t, _ in records] == [0x08, 0x09, 0x4E, 0x0A, 0x0B, 0x0C, 0x0D]
    v = dict(records)
    assert v[0x08] == b"110101199003071233" == p.ef06["social_security_number"].encode()
    assert v[0x09] == "测试甲".encode("gbk").ljust(30, b"\0")
    assert v[0x4E] == bytes(20)
    assert v[0x0A] == b"1"
    assert v[0x0B] == bytes.fromhex("01")
    assert v[0x0C] == bytes.fromhex("110101")
    assert v[0x0D] == bytes.fromhex("19900307")


def test_whole_files_by_sfi_and_range_with_the_exact_le():
    c = card()
    ok(c, SELECT_SSSE)
    ef05 = ok(c, "00B2012D40")  # records 1.. of SFI 5, no SELECT EF05
    assert [t for t, _ in tlvs(ef05)] == [1, 2, 3, 4, 5, 6, 7] and len(ef05) == 2 * 0x40
    assert [t for t, _ in tlvs(ok(c, "00B201355B"))] == [0x08, 0x09, 0x4E, 0x0A, 0x0B, 0x0C, 0x0D]
    assert sw(c, "00B2012D3F") == "6C40"  # a wrong Le: the card names the file's size
    assert sw(c, "00B2013560") == "6C5B"
    assert [t for t, _ in tlvs(ok(c, "00B2013500"))] == [
        0x08,
        0x09,
        0x4E,
        0x0A,
        0x0B,
        0x0C,
        0x0D,
    ]  # Le 00: "all there is" (le_zero = data)
    strict = card("gen2-t0")
    tx(strict, SELECT_SSSE + "00")  # 611E: the FCI waits for GET RESPONSE
    assert sw(strict, "00B2012D00") == "6C40"  # le_zero = 6Cxx


def test_persona_declares_the_read_record_forms_of_its_cos():
    c = card("gen2-no-range")
    ok(c, SELECT_SSSE)
    assert sw(c, "00B2012D40") == "6A86"  # range by SFI: refused
    assert ok(c, "00B2072C0B")[:4] == "0709"  # by number, SFI 5
    assert ok(c, "00B2083014")[:4] == "0812"  # by identifier, SFI 6
    assert sw(c, "00B2010540") == "6A86"  # range on the current EF: refused too
    assert sw(c, "00B2050600") == "6A86"  # last..P1 as well
    assert ok(c, "00B2080014")[:4] == "0812"  # EF06 is current after the SFI read
    for refusal in ("6B00", "6A81", "6D00", "6E00"):
        other = card(
            "gen2",
            read_record_forms=frozenset({"number", "identifier", "range"}),
            read_record_refusal=int(refusal, 16),
        )
        ok(other, SELECT_SSSE)
        assert sw(other, "00B2012D40") == refusal  # SFI forms refused, with this SW
        assert sw(other, "00B2083000") == refusal
        ok(other, "00A4020002EF05")
        assert len(ok(other, "00B2010540")) == 2 * 0x40  # the current-EF range is taken


def test_read_record_forms_are_checked_when_the_persona_loads(tmp_path):
    from pathlib import Path

    import pytest

    from sscard.errors import SpecError

    source = Path(__file__).resolve().parents[1] / "sscard/emulator/personas/gen2-no-range.toml"
    text = source.read_text(encoding="utf-8")
    for bad in (
        'read_record = ["number", "rangee"]',
        'read_record = ["range"]',
        'read_record = ["number", "number"]',
        'read_record_refusal = "9000"',
    ):
        key = bad.split(" = ")[0]
        lines = [bad if line.startswith(key + " = ") else line for line in text.splitlines()]
        path = tmp_path / "p.toml"
        path.write_text("\n".join(lines), encoding="utf-8")
        with pytest.raises(SpecError, match="read_record"):
            load_persona(path)


def test_reverse_and_partial_ranges():
    c = in_ef(card(), "EF05")
    assert [t for t, _ in tlvs(ok(c, "00B2050600"))] == [7, 6, 5]  # 110: last..P1
    assert [t for t, _ in tlvs(ok(c, "00B2060500"))] == [6, 7]  # 101: P1..last
    assert sw(c, "00B2080500") == "6A83"


def test_record_errors():
    c = in_ef(card(), "EF05")
    assert sw(c, "00B2080400") == "6A83"  # no record 8
    assert sw(c, "00B2090000") == "6A83"  # no record with tag 09 in EF05
    assert sw(c, "00B2000400") == "6A86"  # P1 00 by number
    assert sw(c, "00B2010700") == "6A86"  # reserved mode 111
    assert sw(c, "00B201FC00") == "6A86"  # reserved SFI 31


def test_long_name_continues_in_the_extension():
    c = in_ef(card("gen2-long-name"), "EF06")
    name = tlvs(ok(c, "00B2090020"))[0][1]
    ext = tlvs(ok(c, "00B24E0016"))[0][1]
    assert len(name) == 30 and len(ext) == 20
    full = (name + ext).rstrip(b"\0").decode("gbk")
    assert full == "测试·阿卜杜热合曼·买买提明·测试长名字"


def test_gen1_numbering_has_no_name_extension():
    c = in_ef(card("gen1"), "EF06")
    assert ok(c, "00B2030400")[:2] == "0A"  # record 3 is the sex on gen 1
    assert sw(c, "00B24E0000") == "6A83"
    assert sw(c, "00B2070400") == "6A83"
    assert [t for t, _ in tlvs(ok(c, "00B2010500"))] == [0x08, 0x09, 0x0A, 0x0B, 0x0C, 0x0D]
    # gen 2 for contrast: record 3 is the name extension
    assert ok(in_ef(card(), "EF06"), "00B2030400")[:2] == "4E"


def test_gen3_ef06_needs_authentication_but_ef05_is_free():
    c = in_ef(card("gen3"), "EF06")
    assert sw(c, "00B2080014") == "6982"
    assert sw(c, "00B2010400") == "6982"
    assert sw(c, "00B2083014") == "6982"
    assert ok(c, "00B2032806") == "0304332E3030"  # "3.00"


def test_expired_persona_stores_its_expiry():
    c = in_ef(card("gen2-expired"), "EF05")
    assert ok(c, "00B2060006") == "060420210101"


def test_identifier_search_modes(tmp_path):
    # record 2 rewritten to carry identifier 01 too, so first/last/next/previous differ
    text = load_text("gen2") + '\n[raw_records]\n"ef05.02" = "0104CAFEBABE"\n'
    path = tmp_path / "dup.toml"
    path.write_text(text, encoding="utf-8")
    c = in_ef(SocialSecurityCard.from_persona(path), "EF05")
    first = ok(c, "00B2010000")
    assert first.startswith("0110")
    assert ok(c, "00B2010100") == "0104CAFEBABE"  # last with identifier 01
    assert ok(c, "00B2010300") == first  # previous before record 2
    assert sw(c, "00B2010300") == "6A83"  # nothing before record 1
    assert ok(c, "00B2010200") == "0104CAFEBABE"  # next after record 1
    assert sw(c, "00B2010200") == "6A83"
    assert sw(c, "00B2020000") == "6A83"  # no record has identifier 02 now
    assert ok(c, "00B2020400") == "0104CAFEBABE"  # by number, raw bytes as-is


def load_text(name: str) -> str:
    from sscard.emulator.persona import PERSONA_DIR

    return (PERSONA_DIR / f"{name}.toml").read_text(encoding="utf-8")


# --- Le -----------------------------------------------------------------------------------


def test_le_zero_answers_with_data_by_default():
    c = in_ef(card(), "EF05")
    assert tx(c, "00B2010400")[1] == "9000"
    assert len(ok(c, "00B2010400")) == 2 * 18


def test_le_zero_strict_mode_answers_6cxx():
    c = in_ef(card(le_zero="6Cxx"), "EF05")
    assert tx(c, "00B2010400") == ("", "6C12")
    assert tx(c, "00B2010412")[1] == "9000"
    assert tx(c, "00B2010500") == ("", "6C40")
    assert len(ok(c, "00B2010540")) == 128


def test_wrong_le_gets_6cxx_without_data():
    c = in_ef(card(), "EF05")
    assert tx(c, "00B2010410") == ("", "6C12")
    assert tx(c, "00B2070013") == ("", "6C0B")
    assert tx(c, "00B2010401") == ("", "6C12")
    assert tx(c, "00B2010500")[1] == "9000"


def test_select_with_wrong_le():
    assert tx(card(), SELECT_SSSE + "10") == ("", "6C1E")
    assert tx(card(le_zero="6Cxx"), SELECT_SSSE + "00") == ("", "6C1E")
    assert tx(card(), SELECT_SSSE + "1E") == (FCI_DES, "9000")


# --- T=0 ----------------------------------------------------------------------------------


def test_t0_select_answers_61_and_get_response():
    c = card("gen2-t0")
    assert tx(c, SELECT_SSSE + "00") == ("", "611E")
    assert tx(c, "00C000001E") == (FCI_DES, "9000")
    assert sw(c, "00C000001E") == "6985"  # nothing pending any more
    assert tx(c, SELECT_SSSE) == ("", "611E")  # same bytes on the T=0 wire


def test_t0_get_response_in_pieces_and_wrong_le():
    c = card("gen2-t0")
    assert sw(c, SELECT_SSSE + "00") == "611E"
    assert tx(c, "00C0000010") == (FCI_DES[:32], "610E")
    assert tx(c, "00C0000010") == ("", "6C0E")  # more than is left: data kept
    assert tx(c, "00C0000000") == ("", "6C0E")  # strict card: Le 00 is not "all"
    assert tx(c, "00C000000E") == (FCI_DES[32:], "9000")


def test_t0_other_command_discards_pending_data():
    c = card("gen2-t0")
    assert sw(c, SELECT_SSSE + "00") == "611E"
    ok(c, "00A4020002EF05")
    assert sw(c, "00C000001E") == "6985"
    assert sw(c, SELECT_SSSE + "00") == "611E"
    c.reset()
    assert sw(c, "00C000001E") == "6985"


def test_t0_card_reads_records_directly_and_strictly():
    c = card("gen2-t0")
    assert sw(c, SELECT_SSSE + "00") == "611E"
    ok(c, "00A4020002EF05")
    assert tx(c, "00B2010400") == ("", "6C12")
    assert len(ok(c, "00B2010412")) == 36


def test_t1_card_has_nothing_for_get_response():
    c = card()
    ok(c, SELECT_SSSE + "00")
    assert sw(c, "00C000001E") == "6985"


# --- VERIFY -------------------------------------------------------------------------------


def test_empty_verify_never_spends_a_try():
    c = card()
    for _ in range(5):
        assert sw(c, "00200000") == "63C3"
        assert sw(c, "0020000000") == "63C3"
    assert c.pin_tries_left == 3


def test_verify_counter_and_block():
    c = card()
    assert sw(c, "0020000003654321") == "63C2"
    assert sw(c, "00200000") == "63C2"
    assert sw(c, "0020000003123456") == "9000"
    assert "PIN" in c.security
    assert sw(c, "00200000") == "63C3"  # a right PIN restores the counter
    assert [sw(c, "0020000003111111") for _ in range(3)] == ["63C2", "63C1", "63C0"]
    assert "PIN" not in c.security
    assert sw(c, "00200000") == "6983"
    assert sw(c, "0020000003123456") == "6983"  # right PIN no longer helps


def test_verify_format_errors_spend_nothing():
    c = card()
    assert sw(c, "00200000031234AB") == "6A80"
    assert sw(c, "002000000112") == "6700"  # Lc 1
    assert sw(c, "0020000009123456789012345678") == "6700"  # Lc 9
    assert sw(c, "0020000003") == "6700"  # Lc 3 announced, no data
    assert sw(c, "0020000103123456") == "6A86"
    assert sw(c, "00200000") == "63C3"
    # padded with F: 12345F is the 5-digit PIN 12345, a wrong one
    assert sw(c, "002000000312345F") == "63C2"
    assert sw(c, "0020000004123456FF") == "9000"


def test_verify_pin_digits_walk_as_cn():
    """The PIN is cn: F only as trailing padding, never all padding, no A-E nibble."""
    c = card()
    for bad in ("0020000002FFFF", "00200000031F2345", "0020000003123F45", "002000000312A456"):
        assert sw(c, bad) == "6A80", bad
    assert sw(c, "0020000004123456FF") == "9000"


def test_verify_without_pin_configured():
    c = card("gen1")
    assert sw(c, "00200000") == "9000"
    assert sw(c, "0020000003123456") == "6A88"


# --- GET CHALLENGE --------------------------------------------------------------------------


def test_get_challenge():
    c = card()
    a, b = ok(c, "0084000008"), ok(c, "0084000008")
    assert len(a) == 16 and a != b
    assert c.challenge.hex().upper() == b
    assert len(ok(c, "0084000004")) == 8
    assert len(ok(c, "0084000010")) == 32
    assert sw(c, "0084000005") == "6700"
    assert sw(c, "0084000000") == "6700"
    assert sw(c, "00840000") == "6700"
    c.power_down()
    assert c.challenge == b""


# --- card states, classes, instructions ---------------------------------------------------------


def test_ssse_blocked():
    c = card("ssse-blocked")
    assert sw(c, SELECT_SSSE + "00") == "9303"
    assert sw(c, "00A4020002EF05") == "6A82"


def test_card_blocked_refuses_everything():
    c = card("card-blocked")
    for apdu in (
        SELECT_SSSE + "00",
        "00A40000023F00",
        "0084000008",
        "00200000",
        "00B2010400",
        "FFFFFFFF",
        "00",
    ):
        assert tx(c, apdu) == ("", "6A81"), apdu


def test_unknown_instruction_and_class():
    c = card()
    assert sw(c, "00D6000001FF") == "6D00"  # UPDATE BINARY is not emulated
    assert sw(c, "00CA9F7900") == "6D00"  # GET DATA: no such instruction on the SSSE side
    assert sw(c, "A0A40000023F00") == "6E00"
    assert sw(c, "FFB2010400") == "6E00"
    assert sw(c, "80B2010400") == "6986"  # CLA 80 is accepted


def test_malformed_apdu_is_6700():
    c = card()
    assert sw(c, "00A4") == "6700"
    assert sw(c, "00A404000F7378") == "6700"  # Lc larger than the data
    assert sw(c, "00A4040002AABBCCDD") == "6700"  # trailing bytes


def test_internal_errors_become_6f00():
    c = card()

    def boom(apdu):
        raise RuntimeError("emulator bug")

    c.handlers[0x84] = boom
    assert sw(c, "0084000008") == "6F00"


def test_apdu_count():
    c = card()
    for apdu in (SELECT_SSSE, "FF", "00B0000010"):
        c.execute(bytes.fromhex(apdu))
    assert c.apdu_count == 3


# --- Shanghai layout ----------------------------------------------------------------------


def test_shanghai_layout():
    p = load_persona("shanghai")
    c = card("shanghai")
    assert sw(c, SELECT_SSSE + "00") == "6A82"
    ok(c, "00A4020002EF05")
    assert ok(c, "00B2070000") == "0709" + p.ef05["card_number"].encode().hex().upper()
    assert sw(c, "00A4020002EF06") == "6A82"
    c.reset()
    assert ok(c, "00B2072C0B")[:4] == "0709"  # SFI read straight from the MF
    assert sw(c, "00B2013400") == "6A82"


# --- power -----------------------------------------------------------------------------------


def test_atr():
    p = load_persona("gen2")
    c = card()
    assert c.atr == bytes.fromhex("3B6D0000") + p.atr_historical
    assert len(c.atr) == 17
    assert c.reset() == c.atr
    assert c.power_up() == c.atr


def test_power_down_clears_selection_not_pin_counter():
    c = in_ef(card(), "EF05")
    assert sw(c, "0020000003000000") == "63C2"
    c.power_down()
    assert not c.powered
    assert sw(c, "00B2010400") == "6986"  # implicitly powered up, nothing selected
    assert c.powered
    assert sw(c, "00200000") == "63C2"


def test_reset_clears_security_state():
    c = card()
    ok(c, "0020000003123456")
    assert "PIN" in c.security
    c.reset()
    assert c.security == set()
    assert c.pin_tries_left == 3

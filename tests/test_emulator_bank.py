"""The emulator's UnionPay PBOC application driven with raw APDU hex only.

Oracles: the persona TOML read with tomllib (not the persona loader), the examples of
apdu_specs/pboc.toml, and values encoded here with plain Python (BCD, ASCII, GBK).  A
small BER walker below parses the answers, so no sscard codec sits on both sides.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import tomllib
from pathlib import Path

import helpers
import pytest
from helpers import ok, tx

from sscard.emulator import SocialSecurityCard, load_persona
from sscard.errors import SpecError
from sscard.spec import load_spec

PERSONAS = Path(__file__).resolve().parents[1] / "sscard" / "emulator" / "personas"
SPEC_FILE = Path(__file__).resolve().parents[1] / "apdu_specs" / "pboc.toml"
with open(SPEC_FILE, "rb") as _f:
    PBOC_TOML = tomllib.load(_f)

PSE = b"1PAY.SYS.DDF01".hex().upper()
PPSE = b"2PAY.SYS.DDF01".hex().upper()
DEBIT = "A000000333010101"
ECASH = "A000000333010106"
SELECT = "00A40400"
SELECT_NEXT = "00A40402"
SSSE_NAME = "7378312E73682EC9E7BBE1B1A3D5CF"


def spec_example(tag: str, n: int = 0) -> str:
    return next(t for t in PBOC_TOML["tag"] if t["tag"] == tag)["examples"][n]["hex"]


def aid_label(aid: str) -> str:
    return next(a for a in PBOC_TOML["aid"] if a["aid"] == aid)["label"]


def typical_pdol(interface: str) -> str:
    return next(i for i in PBOC_TOML["interface"] if i["key"] == interface)["typical_pdol"]


def toml(name: str) -> dict:
    with open(PERSONAS / f"{name}.toml", "rb") as f:
        return tomllib.load(f)


# --- plain helpers, independent of sscard.codec -----------------------------------------------


def card(name: str = "gen2", bank: dict | None = None, **overrides) -> SocialSecurityCard:
    if bank:
        overrides["bank"] = dataclasses.replace(load_persona(name).bank, **bank)
    return SocialSecurityCard.from_persona(name, **overrides)


def sw(c: SocialSecurityCard, apdu: str) -> str:
    """The status word; data only with 9000, or with 6283 (a blocked application's FCI)."""
    return helpers.sw(c, apdu, data_with=("9000", "6283"))


def select(name_hex: str, p2: str = "00") -> str:
    return f"00A404{p2}{len(name_hex) // 2:02X}{name_hex}00"


def gpo(data_hex: str) -> str:
    body = "83" + f"{len(data_hex) // 2:02X}" + data_hex
    return f"80A80000{len(body) // 2:02X}{body}00"


def read(rec: int, sfi: int, le: str = "00") -> str:
    return f"00B2{rec:02X}{(sfi << 3) | 4:02X}{le}"


def get_data(tag: str) -> str:
    return f"80CA{tag}00"


def ber(hex_data: str) -> list[tuple[str, str]]:
    """[(tag hex, value hex)] of one BER level (1-2 byte tags, short and 81 lengths)."""
    raw, out, i = bytes.fromhex(hex_data), [], 0
    while i < len(raw):
        start = i
        i += 1
        if raw[start] & 0x1F == 0x1F:
            i += 1
        tag = raw[start:i].hex().upper()
        n = raw[i]
        i += 1
        if n == 0x81:
            n, i = raw[i], i + 1
        out.append((tag, raw[i : i + n].hex().upper()))
        i += n
    assert i == len(raw), "trailing bytes"
    return out


def find(hex_data: str, *path: str) -> str | None:
    for tag in path:
        found = [v for t, v in ber(hex_data) if t == tag]
        if not found:
            return None
        hex_data = found[0]
    return hex_data


def tlv(tag: str, value_hex: str) -> str:
    return tag + f"{len(value_hex) // 2:02X}" + value_hex


def bcd(digits: str, size: int) -> str:
    return digits.rjust(2 * size, "0")


def yymmdd(d: _dt.date) -> str:
    return d.strftime("%y%m%d")


def pan_cn(pan: str) -> str:
    return pan + "F" * (len(pan) % 2)


def afl_entries(afl: str) -> list[tuple[int, int, int, int]]:
    raw = bytes.fromhex(afl)
    assert raw and len(raw) % 4 == 0
    return [(raw[i] >> 3, raw[i + 1], raw[i + 2], raw[i + 3]) for i in range(0, len(raw), 4)]


def all_records(c: SocialSecurityCard, afl: str) -> dict[str, str]:
    """Every AFL record merged: {tag: value}; each record must be one 70 template."""
    merged: dict[str, str] = {}
    for sfi, first, last, _ in afl_entries(afl):
        for n in range(first, last + 1):
            (outer,) = ber(ok(c, read(n, sfi)))
            assert outer[0] == "70"
            for tag, value in ber(outer[1]):
                merged.setdefault(tag, value)
        assert sw(c, read(last + 1, sfi)) == "6A83"
    return merged


def contact_gpo_data() -> str:
    # 9F7A 00, 9F02 zero amount, 5F2A 0156: the contact PDOL of apdu_specs/pboc.toml
    assert typical_pdol("contact") == "9F7A019F02065F2A02"
    return "00" + "000000000000" + "0156"


# --- selection ------------------------------------------------------------------------------------


def test_pse_fci_is_the_spec_example_and_lists_the_application():
    c = card("gen2")
    assert ok(c, select(PSE)) == spec_example("6F")
    record = ok(c, read(1, 1))
    assert [t for t, _ in ber(record)] == ["70"]
    entry = find(record, "70", "61")
    assert find(entry, "4F") == DEBIT
    assert bytes.fromhex(find(entry, "50")).decode("ascii") == aid_label(DEBIT)
    assert find(entry, "87") == "01"
    assert sw(c, read(2, 1)) == "6A83"
    assert sw(c, read(1, 2)) == "6A82"  # the PSE holds SFI 1 only


def test_pse_lists_every_application_in_persona_order():
    c = card("bank-used")
    ok(c, select(PSE))
    entries = [v for t, v in ber(find(ok(c, read(1, 1)), "70")) if t == "61"]
    persona = toml("bank-used")["bank"]
    assert [find(e, "4F") for e in entries] == [persona["aid"], persona["extra_app"][0]["aid"]]
    assert [find(e, "87") for e in entries] == [
        persona["priority"],
        persona["extra_app"][0]["priority"],
    ]
    assert bytes.fromhex(find(entries[0], "9F12")).decode("gbk") == persona["preferred_name"]


def test_ppse_carries_the_directory_inline():
    c = card("gen3")
    fci = ok(c, select(PPSE))
    assert find(fci, "6F", "84") == PPSE
    entry = find(fci, "6F", "A5", "BF0C", "61")
    assert find(entry, "4F") == DEBIT and find(entry, "87") == "01"
    assert sw(c, read(1, 1)) == "6A82"  # no records behind the PPSE


def test_contact_only_card_has_no_ppse_and_contactless_has_no_pse():
    assert sw(card("gen2"), select(PPSE)) == "6A82"
    c = card("gen3", bank={"interface": "contactless", "directories": ("ppse",)})
    assert sw(c, select(PSE)) == "6A82"
    assert sw(c, select(PPSE)) == "9000"


def test_card_without_bank_application():
    c = card("gen1")
    for name in (PSE, PPSE, DEBIT, "A0000003330101"):
        assert sw(c, select(name)) == "6A82"
    assert sw(c, select("A0000003330101", "02")) == "6A82"
    assert sw(c, gpo(contact_gpo_data())) == "6D00"
    assert sw(c, get_data("9F36")) == "6D00"
    assert ok(c, "00A404000F" + SSSE_NAME + "00")  # the SSSE is there


def test_contact_fci_by_aid():
    c = card("gen2")
    fci = ok(c, select(DEBIT))
    assert find(fci, "6F", "84") == DEBIT
    prop = find(fci, "6F", "A5")
    assert bytes.fromhex(find(prop, "50")).decode("ascii") == aid_label(DEBIT)
    assert find(prop, "9F38") == typical_pdol("contact")
    # the log entry of the spec's recommendation: SFI 11, 10 records
    assert find(prop, "BF0C") == spec_example("BF0C")[6:]
    assert [t for t, _ in ber(fci)] == ["6F"] and [t for t, _ in ber(find(fci, "6F"))] == [
        "84",
        "A5",
    ]


def test_packaged_contactless_persona():
    c = card("bank-contactless")
    assert sw(c, select(PSE)) == "6A82"
    entry = find(ok(c, select(PPSE)), "6F", "A5", "BF0C", "61")
    assert find(entry, "4F") == DEBIT
    assert find(ok(c, select(DEBIT)), "6F", "A5", "9F38") == typical_pdol("contactless")


def test_blank_and_absent_identity_values(tmp_path):
    blank = " " * 26
    path = _write(tmp_path, GOOD + f'cardholder_name = "{blank}"\nid_number = ""\nid_type = ""\n')
    c = SocialSecurityCard.from_persona(path)
    ok(c, select(DEBIT))
    records = all_records(c, afl_of(c))
    assert records["5F20"] == "20" * 26
    assert "9F61" not in records and "9F62" not in records


def test_contactless_fci_asks_for_ttq_and_hides_the_log():
    c = card("gen3", bank={"interface": "contactless", "directories": ("ppse",)})
    prop = find(ok(c, select(DEBIT)), "6F", "A5")
    assert find(prop, "9F38") == typical_pdol("contactless")
    assert find(prop, "9F38").startswith("9F6604")
    assert find(prop, "BF0C") is None


def test_partial_aid_enumerates_with_next_occurrence():
    c = card("bank-used")
    assert find(ok(c, select("A0000003330101")), "6F", "84") == DEBIT
    assert find(ok(c, select("A0000003330101", "02")), "6F", "84") == ECASH
    assert sw(c, select("A0000003330101", "02")) == "6A82"
    # P2 00 starts again; an exact AID has no next occurrence
    assert find(ok(c, select("A0000003330101")), "6F", "84") == DEBIT
    assert find(ok(c, select(ECASH)), "6F", "84") == ECASH
    assert sw(c, select(ECASH, "02")) == "6A82"
    assert sw(c, select("A000000333010103")) == "6A82"  # quasi-credit is not on this card


def test_extra_application_has_its_own_label_and_counter():
    c = card("bank-used")
    prop = find(ok(c, select(ECASH)), "6F", "A5")
    assert bytes.fromhex(find(prop, "50")).decode("ascii") == aid_label(ECASH)
    assert ok(c, get_data("9F36")) == tlv("9F36", "0000")
    assert sw(c, get_data("9F4D")) == "6A88"  # no log on this one


# --- GET PROCESSING OPTIONS -----------------------------------------------------------------------


def test_gpo_format_1_and_the_afl_records_hold_the_persona_values():
    persona = toml("gen2")["bank"]
    c = card("gen2")
    ok(c, select(DEBIT))
    (template,) = ber(ok(c, gpo(contact_gpo_data())))
    assert template[0] == "80"
    aip, afl = template[1][:4], template[1][4:]
    assert len(aip) == 4
    records = all_records(c, afl)
    assert records["5A"] == pan_cn(persona["pan"])
    assert records["5F24"] == yymmdd(persona["expiry_date"])
    assert records["5F25"] == yymmdd(persona["effective_date"])
    assert bytes.fromhex(records["5F20"]).decode("ascii") == persona["cardholder_name"]
    assert bytes.fromhex(records["9F61"]).decode("ascii") == persona["id_number"]
    assert records["9F62"] == persona["id_type"]
    assert records["57"].startswith(persona["pan"] + "D" + yymmdd(persona["expiry_date"])[:4])
    assert "9F0B" not in records  # not personalised: absent, not blank


def test_gpo_format_2():
    persona = toml("bank-used")["bank"]
    c = card("bank-used")
    ok(c, select(DEBIT))
    (template,) = ber(ok(c, gpo(contact_gpo_data())))
    assert template[0] == "77"
    inner = dict(ber(template[1]))
    assert set(inner) >= {"82", "94"}
    assert inner["9F36"] == f"{persona['atc'] + 1:04X}"
    records = all_records(c, inner["94"])
    assert bytes.fromhex(records["5F20"]).decode("gbk") == persona["cardholder_name"]
    assert bytes.fromhex(records["9F61"]).decode("ascii") == persona["id_number"]


def test_atc_counts_every_gpo_and_survives_power_cycles():
    start = toml("bank-used")["bank"]["atc"]
    c = card("bank-used")
    ok(c, select(DEBIT))
    assert ok(c, get_data("9F36")) == tlv("9F36", f"{start:04X}")
    all_records(c, afl_of(c))  # one GPO; the reads spend nothing
    assert ok(c, get_data("9F36")) == tlv("9F36", f"{start + 1:04X}")
    c.power_down()
    c.power_up()
    assert sw(c, gpo(contact_gpo_data())) == "6985"  # nothing selected after power-up
    ok(c, select(DEBIT))
    ok(c, gpo(contact_gpo_data()))
    c.reset()
    ok(c, select(DEBIT))
    assert ok(c, get_data("9F36")) == tlv("9F36", f"{start + 2:04X}")
    assert ok(c, get_data("9F13")) == tlv(
        "9F13", f"{toml('bank-used')['bank']['last_online_atc']:04X}"
    )


def afl_of(c: SocialSecurityCard) -> str:
    (template,) = ber(ok(c, gpo(contact_gpo_data())))
    return template[1][4:] if template[0] == "80" else dict(ber(template[1]))["94"]


@pytest.mark.parametrize("body", ["8300", "830A" + "00" * 10, "8308" + "00" * 8])
def test_gpo_checks_the_pdol_data_length(body):
    c = card("gen2")
    ok(c, select(DEBIT))
    apdu = f"80A80000{len(body) // 2:02X}{body}00"
    assert sw(c, apdu) == "6700"
    assert ok(c, get_data("9F36")) == tlv("9F36", "0000")  # refused before the ATC moves


def test_gpo_needs_tag_83_and_a_selected_application():
    c = card("gen2")
    assert sw(c, gpo(contact_gpo_data())) == "6985"
    ok(c, select(PSE))
    assert sw(c, gpo(contact_gpo_data())) == "6985"
    ok(c, select(DEBIT))
    assert sw(c, "80A800000B" + "84" + "09" + contact_gpo_data() + "00") == "6A80"
    assert sw(c, "00A8000002830000") == "6D00"


def test_contactless_gpo_takes_the_contactless_pdol():
    c = card("gen3", bank={"interface": "contactless", "directories": ("ppse",)})
    ok(c, select(DEBIT))
    assert sw(c, gpo(contact_gpo_data())) == "6700"
    # 9F66 9F02 9F03 9F1A 95 5F2A 9A 9C 9F37 = 33 bytes
    ok(c, gpo("46000000" + "00" * 12 + "0156" + "00" * 5 + "0156" + "261130" + "00" + "11223344"))


def test_gpo_refusal_counts_the_atc_then_answers_6985():
    c = card("gen2", bank={"gpo_refusal": True})
    ok(c, select(DEBIT))
    assert sw(c, gpo(contact_gpo_data())) == "6985"
    assert ok(c, get_data("9F36")) == tlv("9F36", "0001")


def test_records_before_gpo_can_be_refused():
    c = card("gen2", bank={"records_before_gpo": False})
    ok(c, select(DEBIT))
    assert sw(c, read(1, 1)) == "6985"
    afl = afl_of(c)
    assert all_records(c, afl)
    ok(c, select(DEBIT))  # a new selection: a new transaction is needed
    assert sw(c, read(1, 1)) == "6985"


def test_records_are_readable_without_gpo_by_default():
    c = card("gen2")
    ok(c, select(DEBIT))
    assert find(ok(c, read(1, 2)), "70", "5A") == pan_cn(toml("gen2")["bank"]["pan"])
    assert ok(c, get_data("9F36")) == tlv("9F36", "0000")


def test_last_atc_blocks_the_application_for_good():
    p = load_persona("gen2")
    values = dict(p.bank.apps[0].values, atc=0xFFFE)
    c = card("gen2", bank={"apps": (dataclasses.replace(p.bank.apps[0], values=values),)})
    ok(c, select(DEBIT))
    ok(c, gpo(contact_gpo_data()))
    data, status = tx(c, select(DEBIT))
    assert status == "6283" and find(data, "6F", "84") == DEBIT
    assert sw(c, gpo(contact_gpo_data())) == "6985"
    assert ok(c, get_data("9F36")) == tlv("9F36", "FFFF")


# --- states ---------------------------------------------------------------------------------------


def test_blocked_application_answers_6283_with_its_fci():
    c = card("bank-blocked")
    data, status = tx(c, select(DEBIT))
    assert status == "6283"
    assert find(data, "6F", "84") == DEBIT and find(data, "6F", "A5", "9F38") == typical_pdol(
        "contact"
    )
    assert sw(c, gpo(contact_gpo_data())) == "6985"
    # still listed, still readable: records, log and counters (JR/T 0025.5 §18.1)
    assert find(ok(c, read(1, 2)), "70", "5A") == pan_cn(toml("bank-blocked")["bank"]["pan"])
    assert ok(c, read(1, 11))
    assert ok(c, get_data("9F17")) == tlv("9F17", "00")
    ok(c, select(PSE))
    assert find(ok(c, read(1, 1)), "70", "61", "4F") == DEBIT


@pytest.mark.parametrize("le_zero", ["data", "6Cxx"])
def test_blocked_application_on_t0_is_the_case_4_warning_exchange(le_zero):
    c = card("bank-blocked", t0=True, le_zero=le_zero)
    fci_t1 = tx(card("bank-blocked"), select(DEBIT))[0]
    assert tx(c, select(DEBIT)) == ("", "6283")  # the warning first, no data
    data, status = tx(c, "00C0000000")
    if le_zero == "6Cxx":
        assert (data, status) == ("", f"6C{len(fci_t1) // 2:02X}")
        data, status = tx(c, f"00C00000{len(fci_t1) // 2:02X}")
    assert (data, status) == (fci_t1, "9000")


def test_card_blocked_refuses_the_bank_too():
    c = card("gen2", state="card_blocked")
    for apdu in (select(PSE), select(DEBIT), gpo(contact_gpo_data()), get_data("9F36")):
        assert sw(c, apdu) == "6A81"


def test_expired_application_still_answers():
    persona = toml("bank-expired")
    assert persona["bank"]["expiry_date"] < persona["ef05"]["issue_date"]  # expired long ago
    c = card("bank-expired")
    ok(c, select(DEBIT))
    records = all_records(c, afl_of(c))
    assert records["5F24"] == yymmdd(persona["bank"]["expiry_date"])


def test_mismatch_persona_differs_from_ef06_on_purpose():
    persona = toml("bank-mismatch")
    assert persona["bank"]["id_number"] != persona["ef06"]["social_security_number"]
    assert persona["bank"]["cardholder_name"] != persona["ef06"]["name"]
    c = card("bank-mismatch")
    ok(c, select(DEBIT))
    records = all_records(c, afl_of(c))
    assert bytes.fromhex(records["9F61"]).decode("ascii") == persona["bank"]["id_number"]
    assert bytes.fromhex(records["5F20"]).decode("gbk") == persona["bank"]["cardholder_name"]


# --- GET DATA -------------------------------------------------------------------------------------


def test_get_data_answers_the_persona_values():
    bank = toml("bank-used")["bank"]
    c = card("bank-used")
    ok(c, select(DEBIT))
    assert ok(c, get_data("9F17")) == tlv("9F17", f"{bank['pin_try_counter']:02X}")
    assert ok(c, get_data("9F79")) == tlv("9F79", bcd(str(bank["ecash_balance"]), 6))
    assert ok(c, get_data("9F77")) == tlv("9F77", bcd(str(bank["ecash_balance_limit"]), 6))
    assert ok(c, get_data("9F78")) == tlv(
        "9F78", bcd(str(bank["ecash_single_transaction_limit"]), 6)
    )
    assert ok(c, get_data("9F6D")) == "9F6D06" + "00" * 6
    assert ok(c, get_data("9F5D")) == tlv("9F5D", bcd(str(bank["available_offline_amount"]), 6))
    assert ok(c, get_data("9F4F")) == spec_example("9F4F")
    assert ok(c, get_data("DF4F")) == spec_example("DF4F")
    assert ok(c, get_data("9F4D")) == spec_example("9F4D")


@pytest.mark.parametrize("tag", ["9F99", "9F51", "9F52", "9F5D", "5A", "DF4F"])
def test_get_data_of_what_the_card_does_not_give(tag):
    c = card("gen2")
    ok(c, select(DEBIT))
    assert sw(c, get_data(tag)) == "6A88"


def test_get_data_needs_an_application_and_honours_le():
    c = card("gen2")
    assert sw(c, get_data("9F36")) == "6A88"
    ok(c, select(PSE))
    assert sw(c, get_data("9F36")) == "6A88"
    ok(c, select(DEBIT))
    assert ok(c, "80CA9F3605") == tlv("9F36", "0000")
    assert sw(c, "80CA9F3603") == "6C05"
    assert sw(c, "00CA9F3600") == "6D00"


# --- logs -----------------------------------------------------------------------------------------


def expected_transaction_record(e: dict) -> str:
    """The recommended 9F4F layout (JR/T 0025.5 table 45), written out by hand."""
    merchant = e["merchant_name"].encode("gbk").ljust(20, b"\0").hex().upper()
    return (
        yymmdd(e["transaction_date"])
        + e["transaction_time"].strftime("%H%M%S")
        + bcd(str(e["amount"]), 6)
        + bcd(str(e.get("amount_other", 0)), 6)
        + e.get("terminal_country", "0000")
        + e["transaction_currency"]
        + merchant
        + e["transaction_type"]
        + f"{e['atc']:04X}"
    )


def test_transaction_log_most_recent_first():
    entries = toml("bank-used")["bank"]["transaction_log"]
    c = card("bank-used")
    ok(c, select(DEBIT))
    sfi, count = bytes.fromhex(find(ok(c, select(DEBIT)), "6F", "A5", "BF0C", "9F4D"))
    for n, entry in enumerate(entries, 1):
        record = ok(c, read(n, sfi))
        assert record == expected_transaction_record(entry)
        assert len(record) // 2 == 45
    assert sw(c, read(len(entries) + 1, sfi)) == "6A83"
    assert sw(c, read(count + 1, sfi)) == "6A83"
    assert ok(c, read(1, sfi, "2D")) == expected_transaction_record(entries[0])
    assert sw(c, read(1, sfi, "20")) == "6C2D"
    assert "测试超市有限公司".encode("gbk").hex().upper() in ok(c, read(1, sfi))


def test_load_log():
    entries = toml("bank-used")["bank"]["load_log"]
    c = card("bank-used")
    sfi, _ = bytes.fromhex(find(ok(c, select(DEBIT)), "6F", "A5", "BF0C", "DF4D"))
    for n, e in enumerate(entries, 1):
        merchant = e["merchant_name"].encode("gbk").ljust(20, b"\0").hex().upper()
        assert ok(c, read(n, sfi)) == (
            "9F79"
            + bcd(str(e["balance_before"]), 6)
            + bcd(str(e["balance_after"]), 6)
            + yymmdd(e["transaction_date"])
            + e["transaction_time"].strftime("%H%M%S")
            + e["terminal_country"]
            + merchant
            + f"{e['atc']:04X}"
        )
    assert sw(c, read(len(entries) + 1, sfi)) == "6A83"


def test_unused_application_has_an_empty_log():
    c = card("gen2")
    ok(c, select(DEBIT))
    assert sw(c, read(1, 11)) == "6A83"
    assert sw(c, read(1, 12)) == "6A82"  # no load log on this card
    assert sw(c, read(1, 5)) == "6A82"


# --- T=0, Le and the other application on the chip ------------------------------------------------


def test_t0_select_and_gpo_announce_61xx():
    c = card("gen2", t0=True, le_zero="6Cxx")
    t1 = card("gen2")
    fci = tx(t1, select(DEBIT))[0]
    assert tx(c, select(DEBIT)) == ("", f"61{len(fci) // 2:02X}")
    assert ok(c, f"00C00000{len(fci) // 2:02X}") == fci
    ok(t1, select(DEBIT))
    answer = ok(t1, gpo(contact_gpo_data()))
    assert tx(c, gpo(contact_gpo_data())) == ("", f"61{len(answer) // 2:02X}")
    assert ok(c, f"00C00000{len(answer) // 2:02X}") == answer
    record = ok(t1, read(1, 1))
    assert tx(c, read(1, 1)) == ("", f"6C{len(record) // 2:02X}")
    assert ok(c, read(1, 1, f"{len(record) // 2:02X}")) == record


def test_bank_and_ssse_selections_replace_each_other():
    c = card("gen2")
    ok(c, select(DEBIT))
    ok(c, "00A404000F" + SSSE_NAME + "00")
    assert sw(c, gpo(contact_gpo_data())) == "6985"  # the bank application is no longer selected
    assert sw(c, read(1, 1)) == "6A82"  # SFI 1 is a bank file, not an SSSE one
    ok(c, select(DEBIT))
    assert sw(c, "00A4020002EF05") == "6A82"  # no EF05 inside the bank application
    ok(c, "00A404000F" + SSSE_NAME + "00")
    ok(c, "00A4020002EF05")
    assert ok(c, "00B2010400").startswith("01")  # EF05 record 1 (tag 01), not a bank record


# --- personas -----------------------------------------------------------------------------------


def luhn_ok(number: str) -> bool:
    digits = [int(d) for d in reversed(number)]
    return (
        sum(d if i % 2 == 0 else (2 * d - 9 if d > 4 else 2 * d) for i, d in enumerate(digits)) % 10
        == 0
    )


def test_luhn_helper_can_fail():
    assert luhn_ok("6212340000000000012") and not luhn_ok("6212340000000000013")


BANK_PERSONAS = (
    "gen2",
    "gen3",
    "bank-used",
    "bank-blocked",
    "bank-expired",
    "bank-mismatch",
    "bank-contactless",
)


@pytest.mark.parametrize("name", BANK_PERSONAS)
def test_bank_personas(name):
    persona = toml(name)
    bank = persona["bank"]
    assert bank["pan"].startswith("62") and luhn_ok(bank["pan"])
    assert bank["pan"][2:6] == "1234", "clearly a test BIN"
    if name != "bank-mismatch":
        assert bank["id_number"] == persona["ef06"]["social_security_number"]
    assert bank["effective_date"] < bank["expiry_date"]
    assert load_persona(name).bank is not None


def test_pans_differ_and_gen1_has_no_bank():
    pans = [toml(n)["bank"]["pan"] for n in BANK_PERSONAS]
    assert len(set(pans)) == len(pans)
    assert "bank" not in toml("gen1") and load_persona("gen1").bank is None


def _write(tmp_path, extra: str, base: str = "gen2") -> Path:
    text = (PERSONAS / f"{base}.toml").read_text(encoding="utf-8").split("\n[bank]", 1)[0]
    path = tmp_path / "p.toml"
    path.write_text(text + "\n[bank]\n" + extra, encoding="utf-8")
    return path


GOOD = 'pan = "6212340000000000012"\nexpiry_date = 2031-03-31\neffective_date = 2021-03-01\n'


@pytest.mark.parametrize(
    "extra,message",
    [
        (GOOD + 'colour = "red"\n', "unknown key"),
        (GOOD.replace("6212340000000000012", "62123400000000000A2"), "pan"),
        (GOOD + 'interface = "radio"\n', "interface"),
        (GOOD + 'interface = "contactless"\ndirectories = ["pse"]\n', "PSE"),
        (GOOD + "gpo_format = 3\n", "gpo_format"),
        (
            GOOD + 'id_type = "0"\nid_number = "1234567890123456789012345678901234567890X"\n',
            "id_number",
        ),
        (GOOD + 'aid = "A0000000031010"\n', "aid"),
        (GOOD + 'afl = "08010100"\n', "unknown key"),
        (GOOD + '[[bank.transaction_log]]\ncolour = "red"\n', "not a field"),
        (GOOD + "[[bank.transaction_log]]\namount = -1\n", "log format"),
        (GOOD + '[bank.records]\n"11.1" = ["pan"]\n', "SFI"),
        ("expiry_date = 2031-03-31\neffective_date = 2021-03-01\n", "missing"),
    ],
)
def test_bank_section_is_strict(tmp_path, extra, message):
    with pytest.raises(SpecError, match=message) as info:
        load_persona(_write(tmp_path, extra), load_spec())
    assert "6212340000000000012" not in str(info.value)  # never the value


def test_custom_record_layout(tmp_path):
    path = _write(
        tmp_path,
        GOOD + 'id_number = "110101199003071233"\n'
        '[bank.records]\n"1.1" = ["pan"]\n"1.2" = ["id_number", "expiry_date"]\n',
    )
    c = SocialSecurityCard.from_persona(path)
    ok(c, select(DEBIT))
    afl = afl_of(c)
    assert [(s, f, last) for s, f, last, _ in afl_entries(afl)] == [(1, 1, 2)]
    assert ok(c, read(1, 1)) == tlv("70", tlv("5A", pan_cn("6212340000000000012")))
    assert find(ok(c, read(2, 1)), "70", "9F61") == b"110101199003071233".hex().upper()

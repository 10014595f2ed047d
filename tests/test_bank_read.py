"""Reading the bank application on emulated cards whose [bank] section the tests write:
the persona TOML is the oracle (values, log entries, states), and the card itself is the
oracle for the ATC (a GPO adds exactly one, a read without records adds nothing)."""

from __future__ import annotations

import json
import tomllib

import pytest
from helpers import PERSONA_DIR, TODAY, card_of, cli

from sscard import errors
from sscard.bank.results import RecordsStatus
from sscard.errors import ExitCode
from sscard.results import AppState

# the SSSE part of gen2 (its own [bank] section, if any, is replaced by each test's)
GEN2 = (PERSONA_DIR / "gen2.toml").read_text(encoding="utf-8").split("\n[bank", 1)[0] + "\n"
GEN2_SSN = "110101199003071233"
BANK = """
[bank]
pan = "6212340000000000012"
expiry_date = 2031-03-01
effective_date = 2021-03-01
cardholder_name = "测试甲"
id_number = "110101199003071233"
id_type = "00"
atc = 7
last_online_atc = 4
ecash_balance = 1234
[[bank.transaction_log]]
transaction_date = 2026-11-30
transaction_time = 14:30:15
amount = 1000
transaction_currency = "0156"
merchant_name = "测试超市有限公司"
transaction_type = "00"
atc = 7
[[bank.transaction_log]]
transaction_date = 2026-10-01
transaction_time = 09:00:00
amount = 250
transaction_currency = "0156"
merchant_name = "北京大学口腔医学院"
transaction_type = "31"
atc = 6
"""


def persona(tmp_path, bank: str = BANK, base: str = GEN2, name: str = "bank") -> tuple[str, dict]:
    path = tmp_path / f"{name}.toml"
    path.write_text(base + bank, encoding="utf-8")
    with open(path, "rb") as f:
        return str(path), tomllib.load(f)


def gpos(transport) -> int:
    return sum(1 for a in transport.sent if a[:2] == b"\x80\xa8")


def test_used_application_without_records(tmp_path):
    path, toml = persona(tmp_path)
    card, transport, _ = card_of(path)
    bank = card.read_bank(today=TODAY)
    b = toml["bank"]
    assert bank.state is AppState.READY and bank.select_sw == "9000" and bank.unionpay
    assert bank.aid == "A000000333010101" and bank.selection == "pse"
    assert bank.counters.atc == b["atc"] and bank.counters.last_online_atc == b["last_online_atc"]
    assert bank.electronic_cash.balance == b["ecash_balance"]
    assert bank.used is True
    assert [t.amount for t in bank.transactions] == [e["amount"] for e in b["transaction_log"]]
    assert [t.merchant for t in bank.transactions] == [
        e["merchant_name"] for e in b["transaction_log"]
    ]
    assert [t.date for t in bank.transactions] == [
        e["transaction_date"] for e in b["transaction_log"]
    ]
    assert [t.time for t in bank.transactions] == [
        e["transaction_time"] for e in b["transaction_log"]
    ]
    assert [t.type.code for t in bank.transactions] == ["00", "31"]
    assert bank.transactions[1].type.zh == "余额查询"
    assert bank.records is None and bank.records_status is RecordsStatus.NOT_REQUESTED
    assert gpos(transport) == 0
    # nothing changed on the card: a second read sees the same ATC
    assert card.read_bank(today=TODAY).counters.atc == b["atc"]


def test_unused_application(tmp_path):
    path, _ = persona(
        tmp_path,
        bank="""
[bank]
pan = "6212340000000000012"
expiry_date = 2031-03-01
effective_date = 2021-03-01
atc = 0
last_online_atc = 0
""",
    )
    status = card_of(path)[0].read_status(today=TODAY)
    assert status.bank.counters.atc == 0 and status.bank.transactions == ()
    assert status.bank.used is False
    assert status.bank_verdict.code == "ready" and status.exit_code == ExitCode.OK


def test_records_match_the_persona_and_cost_one_atc(tmp_path):
    path, toml = persona(tmp_path)
    card, transport, _ = card_of(path)
    status = card.read_status(bank_records=True, today=TODAY)
    b, r = toml["bank"], status.bank.records
    assert gpos(transport) == 1 and status.bank.gpo_sent
    assert status.bank.records_status is RecordsStatus.READ
    assert r.pan == b["pan"] and r.expiry_date == b["expiry_date"]
    assert r.effective_date == b["effective_date"]
    assert r.name == b["cardholder_name"] and r.id_number == b["id_number"]
    assert r.id_type.code == "00" and r.id_type.zh == "身份证"
    assert status.bank.counters.atc == b["atc"]  # read before the GPO
    assert card.read_bank(today=TODAY).counters.atc == b["atc"] + 1
    outcomes = {c.item: c.outcome for c in status.cross_checks}
    assert outcomes == {"id_number": "match", "name": "match", "expiry": "match"}
    assert not [f for f in status.findings if f.code.startswith("bank_")]


def test_mismatches_are_findings(tmp_path):
    other = "110101198001010010"  # a valid GB 11643 number that is not the holder's
    path, _ = persona(
        tmp_path,
        bank=BANK.replace(GEN2_SSN, other)
        .replace('cardholder_name = "测试甲"', 'cardholder_name = "测试乙"')
        .replace("expiry_date = 2031-03-01", "expiry_date = 2030-12-31"),
    )
    status = card_of(path)[0].read_status(bank_records=True, today=TODAY)
    outcomes = {c.item: c.outcome for c in status.cross_checks}
    assert outcomes == {"id_number": "mismatch", "name": "mismatch", "expiry": "mismatch"}
    codes = {f.code for f in status.findings}
    assert {"bank_id_mismatch", "bank_name_mismatch", "expiry_differs"} <= codes
    assert "bank_id_invalid" not in codes


def test_invalid_bank_id_number(tmp_path):
    path, _ = persona(tmp_path, bank=BANK.replace(GEN2_SSN, "110101199003071234"))
    status = card_of(path)[0].read_status(bank_records=True, today=TODAY)
    assert {"bank_id_invalid", "bank_id_mismatch"} <= {f.code for f in status.findings}


@pytest.mark.parametrize("name", ["", "                          ", " /"])
def test_blank_name_is_not_personalised_not_a_mismatch(tmp_path, name):
    path, _ = persona(
        tmp_path, bank=BANK.replace('cardholder_name = "测试甲"', f'cardholder_name = "{name}"')
    )
    status = card_of(path)[0].read_status(bank_records=True, today=TODAY)
    check = next(c for c in status.cross_checks if c.item == "name")
    assert check.outcome == "not_done" and "not personalised" in check.en
    assert status.bank.records.name is None
    assert "bank_name_mismatch" not in {f.code for f in status.findings}


def test_blocked_application(tmp_path):
    path, toml = persona(tmp_path, bank=BANK.replace("[bank]\n", '[bank]\nstate = "blocked"\n'))
    card, transport, _ = card_of(path)
    status = card.read_status(bank_records=True, logs=True, today=TODAY)
    assert status.bank.state is AppState.APPLICATION_BLOCKED and status.bank.select_sw == "6283"
    assert gpos(transport) == 0 and status.bank.records_status is RecordsStatus.NOT_READ
    # the log stays readable after the block (JR/T 0025.5 §18.1)
    assert len(status.bank.transactions) == len(toml["bank"]["transaction_log"])
    assert status.bank_verdict.code == "application_blocked"
    assert status.exit_code == ExitCode.CARD_BLOCKED


def test_blocked_application_on_t0(tmp_path):
    path, _ = persona(tmp_path, bank=BANK.replace("[bank]\n", '[bank]\nstate = "blocked"\n'))
    status = card_of(path, t0=True)[0].read_status(today=TODAY)
    assert status.bank.state is AppState.APPLICATION_BLOCKED
    assert status.bank.aid == "A000000333010101"


def test_expired_bank_application(tmp_path):
    path, _ = persona(
        tmp_path, bank=BANK.replace("expiry_date = 2031-03-01", "expiry_date = 2025-12-31")
    )
    status = card_of(path)[0].read_status(bank_records=True, today=TODAY)
    assert status.bank_expired is True and status.bank_verdict.code == "expired"
    assert status.exit_code == ExitCode.EXPIRED
    assert "bank_expired" in {f.code for f in status.findings}


def test_bank_pin_tries_from_get_data_never_verify(tmp_path):
    path, _ = persona(tmp_path, bank=BANK.replace("atc = 7\n", "atc = 7\npin_try_counter = 0\n", 1))
    card, transport, _ = card_of(path)
    status = card.read_status(today=TODAY)
    assert status.bank.counters.pin_tries_left == 0
    assert status.bank_verdict.code == "pin_blocked" and status.exit_code == ExitCode.CARD_BLOCKED
    assert all(len(a) == 4 for a in transport.sent if a[1] == 0x20)  # only empty VERIFYs


def test_gpo_refused(tmp_path):
    path, _ = persona(tmp_path, bank=BANK.replace("[bank]\n", "[bank]\ngpo_refusal = true\n"))
    card, transport, _ = card_of(path)
    status = card.read_status(bank_records=True, today=TODAY)
    assert gpos(transport) == 1
    assert status.bank.records_status is RecordsStatus.REFUSED and status.bank.records is None
    assert "bank_gpo_refused" in {f.code for f in status.findings}
    assert status.bank.state is AppState.READY  # a refused GPO is not a blocked application


@pytest.mark.parametrize("gpo_format", [1, 2])
def test_both_gpo_formats(tmp_path, gpo_format):
    path, toml = persona(
        tmp_path, bank=BANK.replace("[bank]\n", f"[bank]\ngpo_format = {gpo_format}\n")
    )
    status = card_of(path)[0].read_status(bank_records=True, today=TODAY)
    assert status.bank.records.pan == toml["bank"]["pan"]


def test_contactless_directory_only(tmp_path):
    path, toml = persona(
        tmp_path, bank=BANK.replace("[bank]\n", '[bank]\ndirectories = ["ppse"]\n')
    )
    bank = card_of(path)[0].read_bank(today=TODAY)
    assert bank.selection == "ppse" and bank.aid == "A000000333010101"


def test_aid_list_fallback_enumerates_next_occurrences(tmp_path):
    bank_text = (
        BANK.replace("[bank]\n", "[bank]\ndirectories = []\n")
        + """
[[bank.extra_app]]
aid = "A000000333010106"
priority = "02"
"""
    )
    path, _ = persona(tmp_path, bank=bank_text)
    card, transport, _ = card_of(path)
    bank = card.read_bank(today=TODAY)
    assert bank.selection == "aid_list"
    assert {c.aid for c in bank.candidates} == {"A000000333010101", "A000000333010106"}
    assert bank.aid == "A000000333010101"  # priority 1
    assert any(a[:4] == bytes.fromhex("00A40402") for a in transport.sent)


def test_no_bank_application(tmp_path):
    path, _ = persona(tmp_path, bank="")
    card, transport, _ = card_of(path)
    bank = card.read_bank(records=True, today=TODAY)
    assert bank.state is AppState.ABSENT and bank.aid is None and bank.selection == "none"
    assert bank.records_status is RecordsStatus.NOT_READ and gpos(transport) == 0


# --- faults ---------------------------------------------------------------------------------------


def _replace(condition, answer: str):
    def fault(index, apdu, response):
        return bytes.fromhex(answer) if condition(apdu) else None

    return fault


def test_log_format_not_matching_the_records_is_a_finding(tmp_path):
    path, _ = persona(tmp_path)
    # the card now claims a 44-byte format (9F4E of 19 bytes) for 45-byte records
    fault = _replace(
        lambda a: a[:4] == bytes.fromhex("80CA9F4F"),
        "9F4F199A039F21039F02069F03069F1A025F2A029F4E139C019F36029000",
    )
    status = card_of(path, fault)[0].read_status(logs=True, today=TODAY)
    assert status.bank.transactions == ()
    assert sum(f.code == "bank_log_mismatch" for f in status.findings) == 2


def test_malformed_fci_is_a_typed_error(tmp_path):
    path, _ = persona(tmp_path)
    fault = _replace(
        lambda a: bytes.fromhex("A000000333010101") in a and a[:4] == bytes.fromhex("00A40400"),
        "6F0A8408A00000033301019000",
    )
    with pytest.raises(errors.DecodeError, match="tag 6F .* runs past the end"):
        card_of(path, fault)[0].read_status(today=TODAY)


def test_impossible_afl_is_a_typed_error(tmp_path):
    path, _ = persona(tmp_path)
    fault = _replace(lambda a: a[:2] == b"\x80\xa8", "80067C00080301009000")
    with pytest.raises(errors.DecodeError, match="impossible record range 3–1") as info:
        card_of(path, fault)[0].read_status(bank_records=True, today=TODAY)
    assert info.value.exit_code == ExitCode.COMMUNICATION and info.value.offset is not None


def test_get_data_answering_another_object_is_a_typed_error(tmp_path):
    path, _ = persona(tmp_path)
    fault = _replace(lambda a: a[:4] == bytes.fromhex("80CA9F36"), "9F130200049000")
    with pytest.raises(errors.DecodeError, match="GET DATA 9F36 answered with another object"):
        card_of(path, fault)[0].read_bank(today=TODAY)


def test_card_swapped_between_applications_never_yields_a_bank_record(tmp_path):
    path, _ = persona(tmp_path)
    fault_at = []

    def fault(index, apdu, response):
        if a_pse(apdu):
            fault_at.append(index)
            raise errors.CardRemoved("card removed")
        return None

    card, _, _ = card_of(path, fault)
    with pytest.raises(errors.CardRemoved, match="card removed"):
        card.read_status(bank_records=True, today=TODAY)
    assert fault_at


def a_pse(apdu: bytes) -> bool:
    return b"1PAY.SYS.DDF01" in apdu


# --- command line -----------------------------------------------------------------------------


def test_cli_masks_bank_data_unless_revealed(capsys, tmp_path):
    path, toml = persona(tmp_path)
    secrets = [toml["bank"]["pan"], "测试超市有限公司", GEN2_SSN, "测试甲"]
    for args in (
        ("status", "--emulator", path, "--bank-records", "--logs"),
        ("status", "--emulator", path, "--bank-records", "--logs", "--json"),
    ):
        code, out, err = cli(capsys, *args)
        assert code == ExitCode.OK, err
        assert not [s for s in secrets if s in out]
    code, out, _ = cli(
        capsys, "status", "--emulator", path, "--bank-records", "--logs", "--json", "--reveal"
    )
    doc = json.loads(out)
    assert doc["masked"] is False and doc["bank"]["records"]["pan"] == toml["bank"]["pan"]
    assert doc["bank"]["records"]["id_number"] == GEN2_SSN
    assert doc["bank"]["log"]["transactions"][0]["merchant"] == "测试超市有限公司"
    assert doc["bank"]["gpo_sent"] is True


def test_cli_json_schema(capsys, tmp_path):
    path, toml = persona(tmp_path)
    code, out, _ = cli(capsys, "status", "--emulator", path, "--json")
    doc = json.loads(out)
    assert set(doc) == {
        "schema",
        "source",
        "masked",
        "atr",
        "social_security",
        "bank",
        "cross_checks",
        "findings",
        "advice",
    }
    bank = doc["bank"]
    assert bank["state"] == "ready" and bank["verdict"]["code"] == "ready"
    assert bank["counters"] == {
        "atc": toml["bank"]["atc"],
        "last_online_atc": toml["bank"]["last_online_atc"],
        "pin_tries_left": bank["counters"]["pin_tries_left"],
    }
    assert bank["records_status"] == "not_requested" and bank["records"] is None
    assert bank["activation"]["recorded_on_chip"] is False and "bank" in bank["activation"]["en"]
    assert doc["social_security"]["pin"]["source"] == "verify"
    assert {c["item"] for c in doc["cross_checks"]} == {"id_number", "name", "expiry"}


def test_aid_list_without_partial_selection(tmp_path):
    """A card that does not match partial AIDs: the exact UnionPay AIDs are tried one by one."""
    path, _ = persona(tmp_path, bank=BANK.replace("[bank]\n", "[bank]\ndirectories = []\n"))
    partial = bytes.fromhex("07A0000003330101")
    fault = _replace(
        lambda a: a[4 : 4 + len(partial)] == partial and len(a) == 4 + len(partial) + 1, "6A82"
    )
    card, transport, _ = card_of(path, fault)
    bank = card.read_bank(today=TODAY)
    assert bank.selection == "aid_list" and bank.aid == "A000000333010101"
    assert not any(a[:4] == bytes.fromhex("00A40402") for a in transport.sent)


# --- the ATC guard: no GPO that could end the application ------------------------------------


def _with_atc(atc: int) -> str:
    return BANK.replace("atc = 7\n", f"atc = {atc}\n", 1)


@pytest.mark.parametrize("atc", [65534, 65535])
def test_no_gpo_at_the_last_atc_values(tmp_path, capsys, atc):
    path, _ = persona(tmp_path, bank=_with_atc(atc))
    card, transport, _ = card_of(path)
    status = card.read_status(bank_records=True, today=TODAY)
    assert gpos(transport) == 0 and not status.bank.gpo_sent
    assert status.bank.records_status is RecordsStatus.WITHHELD and status.bank.records is None
    withheld = [f for f in status.findings if f.code == "bank_gpo_atc_exhausted"]
    assert len(withheld) == 1 and withheld[0].zh and str(atc) in withheld[0].en
    assert {c.outcome for c in status.cross_checks} == {"not_done"}
    assert card.read_bank(today=TODAY).counters.atc == atc  # the card did not change
    code, out, _ = cli(capsys, "status", "--emulator", path, "--bank-records")
    assert "records / 记录: not read, no GPO sent" in out and "ATC" in out


def test_gpo_below_the_guard_still_reads(tmp_path):
    path, toml = persona(tmp_path, bank=_with_atc(65533))
    card, transport, _ = card_of(path)
    status = card.read_status(bank_records=True, today=TODAY)
    assert gpos(transport) == 1 and status.bank.records.pan == toml["bank"]["pan"]
    assert card.read_bank(today=TODAY).counters.atc == 65534


def test_no_gpo_when_the_atc_is_unknown(tmp_path):
    path, _ = persona(tmp_path)
    card, transport, _ = card_of(
        path, _replace(lambda a: a[:4] == bytes.fromhex("80CA9F36"), "6A88")
    )
    status = card.read_status(bank_records=True, today=TODAY)
    assert status.bank.counters.atc is None
    assert gpos(transport) == 0 and status.bank.records_status is RecordsStatus.WITHHELD
    assert "bank_gpo_atc_unknown" in {f.code for f in status.findings}


def test_atc_65535_is_unusable_for_good(tmp_path, capsys):
    path, _ = persona(tmp_path, bank=_with_atc(65535))
    status = card_of(path)[0].read_status(today=TODAY)
    assert status.bank.state is AppState.READY  # SELECT still answers 9000
    assert status.bank_verdict.code == "atc_exhausted" and "65535" in status.bank_verdict.en
    assert status.exit_code == ExitCode.CARD_BLOCKED
    code, out, _ = cli(capsys, "status", "--emulator", path)
    assert code == ExitCode.CARD_BLOCKED and "65535" in out
    assert "present and not blocked" not in out.split("bank application")[1]


def test_atc_65534_is_still_ready(tmp_path):
    path, _ = persona(tmp_path, bank=_with_atc(65534))
    status = card_of(path)[0].read_status(today=TODAY)
    assert status.bank_verdict.code == "ready" and status.exit_code == ExitCode.OK


# --- GET DATA: only "not available" answers mean absent -------------------------------------

PIN_BLOCKED = BANK.replace("atc = 7\n", "atc = 7\npin_try_counter = 0\n", 1)
GET_PIN_TRIES = bytes.fromhex("80CA9F17")


@pytest.mark.parametrize("sw", ["6F00", "6581", "6700", "6E00", "6C05"])
def test_get_data_failure_is_an_error_not_an_absent_value(tmp_path, capsys, sw):
    path, _ = persona(tmp_path, bank=PIN_BLOCKED)
    card, _, _ = card_of(path, _replace(lambda a: a[:4] == GET_PIN_TRIES, sw))
    with pytest.raises(errors.CommandError) as info:
        card.read_status(today=TODAY)
    assert info.value.sw == int(sw, 16)


@pytest.mark.parametrize("sw", ["6A88", "6A81", "6A83"])
def test_get_data_not_available_is_absent(tmp_path, sw):
    path, _ = persona(tmp_path, bank=PIN_BLOCKED)
    card, _, _ = card_of(path, _replace(lambda a: a[:4] == GET_PIN_TRIES, sw))
    status = card.read_status(today=TODAY)
    assert status.bank.counters.pin_tries_left is None and status.bank_verdict.code == "ready"


# --- expiry: 5F24 names the month's last day, EF05 a day ------------------------------------


@pytest.mark.parametrize(
    "bank_expiry,outcome",
    [
        ("2031-03-31", "match"),
        ("2031-03-01", "match"),  # EF05 of gen2: 2031-03-01
        ("2031-04-30", "mismatch"),
        ("2030-03-31", "mismatch"),
    ],
)
def test_expiry_compared_by_year_and_month(tmp_path, bank_expiry, outcome):
    path, toml = persona(
        tmp_path, bank=BANK.replace("expiry_date = 2031-03-01", f"expiry_date = {bank_expiry}")
    )
    assert tomllib.loads(GEN2)["ef05"]["expiry_date"].isoformat() == "2031-03-01"
    status = card_of(path)[0].read_status(bank_records=True, today=TODAY)
    check = next(c for c in status.cross_checks if c.item == "expiry")
    assert check.outcome == outcome
    assert ("expiry_differs" in {f.code for f in status.findings}) is (outcome == "mismatch")


# --- 00 padding inside bank record templates (EMV Book 3 Annex B) ---------------------------


def _padded_records(index, apdu, response):
    """Every AFL record comes back with 00 bytes before, between and after its objects."""
    from sscard.codec.tlv import encode_ber, parse_ber

    if apdu[:2] != b"\x00\xb2" or apdu[3] & 0x07 != 0x04 or apdu[3] >> 3 > 10:
        return None
    data, sw = response[:-2], response[-2:]
    if sw != b"\x90\x00" or not data or data[0] != 0x70:
        return None
    (template,) = parse_ber(data)
    bounds = [c.offset for c in template.children] + [len(data)]
    objects = [data[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]
    return encode_ber(0x70, b"\x00" + b"\x00".join(objects) + b"\x00\x00") + sw


def test_padded_bank_records_read(tmp_path):
    path, toml = persona(tmp_path)
    card, transport, _ = card_of(path, _padded_records)
    status = card.read_status(bank_records=True, today=TODAY)
    r, b = status.bank.records, toml["bank"]
    assert (
        r.pan == b["pan"] and r.expiry_date == b["expiry_date"] and r.name == b["cardholder_name"]
    )
    assert r.id_number == b["id_number"]


# --- nothing cut or missing silently --------------------------------------------------------


def test_pse_directory_cut_at_its_bound_is_a_finding(tmp_path):
    from sscard.bank.reader import MAX_DIRECTORY_RECORDS

    path, _ = persona(tmp_path)
    first = {}

    def endless_directory(index, apdu, response):
        # with no GPO, every READ RECORD of SFI 1 is the PSE directory: repeat record 1
        if apdu[:2] == b"\x00\xb2" and apdu[3] == (1 << 3) | 4:
            if apdu[2] == 1:
                first["record"] = response
                return None
            return first["record"]
        return None

    card, transport, _ = card_of(path, endless_directory)
    bank = card.read_bank(today=TODAY)
    directory_reads = [a for a in transport.sent if a[:2] == b"\x00\xb2" and a[3] == 0x0C]
    assert len(directory_reads) == MAX_DIRECTORY_RECORDS
    cut = [f for f in bank.findings if f.code == "bank_list_truncated"]
    assert len(cut) == 1 and str(MAX_DIRECTORY_RECORDS) in cut[0].en and cut[0].zh


def test_complete_directory_is_not_called_cut(tmp_path):
    path, _ = persona(tmp_path)
    bank = card_of(path)[0].read_bank(today=TODAY)
    assert not [f for f in bank.findings if f.code in ("bank_list_truncated", "bank_no_fci")]


def test_select_next_cut_at_its_bound_is_a_finding(tmp_path):
    from sscard.bank.reader import MAX_OCCURRENCES
    from sscard.codec.tlv import encode_ber

    path, _ = persona(tmp_path, bank=BANK.replace("[bank]\n", "[bank]\ndirectories = []\n"))
    made = []

    def endless_applications(index, apdu, response):
        if apdu[:4] != bytes.fromhex("00A40402"):
            return None
        made.append(bytes.fromhex("A0000003330101") + bytes((0x80 + len(made),)))
        fci = encode_ber(
            0x6F, encode_ber(0x84, made[-1]) + encode_ber(0xA5, encode_ber(0x50, b"X"))
        )
        return fci + b"\x90\x00"

    card, transport, _ = card_of(path, endless_applications)
    bank = card.read_bank(today=TODAY)
    cut = [f for f in bank.findings if f.code == "bank_list_truncated"]
    assert len(cut) == 1 and "A0000003330101" in cut[0].en
    # the first SELECT and MAX_OCCURRENCES - 1 next occurrences under the partial AID
    assert len(made) == MAX_OCCURRENCES - 1
    assert {c.aid for c in bank.candidates} >= {a.hex().upper() for a in made}


def test_select_without_fci_says_the_log_is_unknown(tmp_path):
    path, toml = persona(tmp_path)
    aid = bytes.fromhex("A000000333010101")
    fault = _replace(
        lambda a: a[:4] == bytes.fromhex("00A40400") and a[5 : 5 + len(aid)] == aid, "9000"
    )
    bank = card_of(path, fault)[0].read_bank(today=TODAY)
    assert toml["bank"]["transaction_log"] and bank.transactions == ()
    assert bank.state is AppState.READY and bank.log_records is None
    assert [f.field for f in bank.findings if f.code == "bank_no_fci"] == ["bank.log"]


def test_records_without_pan_or_expiry_are_findings_and_shown_absent(tmp_path):
    from sscard.cli.status_view import to_document, to_text
    from sscard.spec import load_spec

    path, _ = persona(tmp_path)
    after_gpo = []

    def empty_records(index, apdu, response):
        if apdu[:2] == b"\x80\xa8":
            after_gpo.append(True)
        elif after_gpo and apdu[:2] == b"\x00\xb2":
            return bytes.fromhex("70009000")  # a record template with nothing in it
        return None

    status = card_of(path, empty_records)[0].read_status(bank_records=True, today=TODAY)
    assert status.bank.records_status is RecordsStatus.READ
    assert status.bank.records.pan is None and status.bank.records.expiry_date is None
    missing = {f.field for f in status.findings if f.code == "bank_records_incomplete"}
    assert missing == {"bank.pan", "bank.expiry_date"}
    text = to_text(
        to_document(
            load_spec().pboc,
            status,
            reveal=False,
            source={"name": "emulator", "description": "test"},
        )
    )
    assert (
        "None" not in text and "PAN / 主账号 absent / 无 · expires / 有效期至 absent / 无" in text
    )

"""`Card.read_status()` and `sscard status` on the emulator personas.  Oracles: the persona
TOML files (state, dates, PIN) and the APDUs actually sent (no GPO unless asked)."""

from __future__ import annotations

import json

import pytest
from helpers import TODAY, card_of, cli, persona_toml

from sscard import errors
from sscard.bank.results import RecordsStatus
from sscard.cli.main import run
from sscard.emulator.persona import list_personas
from sscard.errors import ExitCode
from sscard.results import AppState

GPO = b"\x80\xa8"
PSE_NAME = b"1PAY.SYS.DDF01"


def gpos(transport) -> int:
    return sum(1 for a in transport.sent if a[:2] == GPO)


def expected_ssse_state(toml: dict) -> AppState:
    return {
        "active": AppState.READY,
        "ssse_blocked": AppState.APPLICATION_BLOCKED,
        "card_blocked": AppState.CARD_BLOCKED,
    }[toml.get("state", "active")]


def expected_bank_state(toml: dict) -> AppState:
    bank = toml.get("bank")
    if toml.get("state") == "card_blocked":
        return AppState.CARD_BLOCKED
    if bank is None:
        return AppState.ABSENT
    return AppState.APPLICATION_BLOCKED if bank.get("state") == "blocked" else AppState.READY


@pytest.mark.parametrize("persona", list_personas())
def test_every_persona_without_gpo(persona):
    toml = persona_toml(persona)
    card, transport, _ = card_of(persona)
    status = card.read_status(today=TODAY)
    assert status.ssse.state is expected_ssse_state(toml)
    assert status.bank.state is expected_bank_state(toml)
    assert gpos(transport) == 0 and not status.bank.gpo_sent
    assert (
        status.bank.records_status is RecordsStatus.NOT_REQUESTED
        or status.bank.state is not AppState.READY
    )
    expiry = toml["ef05"]["expiry_date"]
    if status.ssse.state is AppState.READY:
        assert status.ssse.expired is (expiry < TODAY)
    # every status ends in a documented exit code
    assert status.exit_code in (
        ExitCode.OK,
        ExitCode.NOT_SSC,
        ExitCode.CARD_BLOCKED,
        ExitCode.EXPIRED,
    )


@pytest.mark.parametrize("persona", list_personas())
def test_bank_records_send_exactly_one_gpo_when_ready(persona):
    toml = persona_toml(persona)
    card, transport, _ = card_of(persona)
    status = card.read_status(bank_records=True, today=TODAY)
    ready = expected_bank_state(toml) is AppState.READY
    assert gpos(transport) == (1 if ready else 0)
    assert status.bank.gpo_sent is ready


def test_ssse_pin_tries_come_from_the_persona_and_cost_nothing():
    toml = persona_toml("gen2")
    card, transport, emulated = card_of("gen2")
    before = emulated.pin_tries_left
    status = card.read_status(today=TODAY)
    assert status.ssse.pin.tries_left == toml["pin"]["tries_left"]
    assert emulated.pin_tries_left == before
    # only the empty VERIFY (4 bytes) was sent: no PIN ever
    assert all(len(a) == 4 for a in transport.sent if a[1] == 0x20)


def test_blocked_and_expired_exit_codes():
    assert card_of("ssse-blocked")[0].read_status(today=TODAY).exit_code == ExitCode.CARD_BLOCKED
    blocked = card_of("card-blocked")[0].read_status(today=TODAY)
    assert blocked.exit_code == ExitCode.CARD_BLOCKED
    assert blocked.ssse_verdict.code == "card_blocked"
    expired = card_of("gen2-expired")[0].read_status(today=TODAY)
    assert expired.ssse_verdict.code == "expired" and expired.exit_code == ExitCode.EXPIRED
    assert any(f.code == "card_expired" for f in expired.findings)


def test_not_a_social_security_card():
    """A card that knows neither the SSSE nor an MF-level EF05: exit code 5."""

    def fault(index, apdu, response):
        if apdu[:4] in (bytes.fromhex("00A40400"), bytes.fromhex("00A40200")):
            return bytes.fromhex("6A82")
        return None

    status = card_of("gen2", fault)[0].read_status(today=TODAY)
    assert status.ssse.state is AppState.ABSENT
    assert status.exit_code == ExitCode.NOT_SSC


def test_gen3_without_keys_says_cross_check_not_done():
    status = card_of("gen3")[0].read_status(bank_records=True, today=TODAY)
    assert status.ssse.identity.holder_status.value == "locked"
    # nothing of EF06 was read: no check on the holder can have an outcome
    for check in status.cross_checks:
        if check.item in ("id_number", "name"):
            assert check.outcome == "not_done"
    records = status.bank.records
    if records is not None and records.id_number is not None and records.id_type.code == "00":
        id_check = next(c for c in status.cross_checks if c.item == "id_number")
        assert "locked" in id_check.en


def test_card_removed_between_the_two_applications():
    """The card goes away after the SSSE was read: a typed error, no bank result at all."""

    def fault(index, apdu, response):
        if PSE_NAME in apdu:
            raise errors.CardRemoved("card removed")
        return None

    card, _, _ = card_of("gen2", fault)
    with pytest.raises(errors.CardRemoved, match="card removed"):
        card.read_status(today=TODAY)


def test_reset_during_the_bank_read_reruns_a_read_without_gpo():
    resets = []

    def fault(index, apdu, response):
        if PSE_NAME in apdu and not resets:
            resets.append(index)
            raise errors.CardReset("reset by another program")
        return None

    card, transport, _ = card_of("gen2", fault)
    status = card.read_status(today=TODAY)
    assert transport.recovered == 1 and status.ssse.state is AppState.READY


def test_reset_during_a_read_with_gpo_is_not_repeated():
    def fault(index, apdu, response):
        if PSE_NAME in apdu:
            raise errors.CardReset("reset by another program")
        return None

    card, transport, _ = card_of("gen2", fault)
    with pytest.raises(errors.CardReset, match="reset by another program"):
        card.read_status(bank_records=True, today=TODAY)
    assert getattr(transport, "recovered", 0) == 0 and gpos(transport) == 0


def test_blocked_bank_application_refusing_get_data_is_still_reported_blocked():
    def fault(index, apdu, response):
        return bytes.fromhex("6985") if apdu[:2] == b"\x80\xca" else None

    card, transport, _ = card_of("bank-blocked", fault)
    status = card.read_status(today=TODAY)
    assert status.bank.state is AppState.APPLICATION_BLOCKED and status.exit_code == 6
    assert status.bank.counters.atc is None  # refused, so unknown: never a made-up number


def test_gpo_answered_6cxx_is_not_sent_again():
    """6Cxx to the GPO may come after the card counted it: the GPO is never re-sent."""

    def fault(index, apdu, response):
        return bytes.fromhex("6C20") if apdu[:2] == GPO else None

    card, transport, emulated = card_of("gen2", fault)
    with pytest.raises(errors.WrongLength, match="SW 6C20") as info:
        card.read_status(bank_records=True, today=TODAY)
    assert info.value.sw == 0x6C20 and gpos(transport) == 1


@pytest.mark.parametrize("persona", list_personas())
def test_garbage_answers_to_bank_commands_are_typed_errors(persona):
    """Every bank command answered with random-looking bytes + 9000: a sscard error or a
    result, never another exception."""

    def fault(index, apdu, response):
        if apdu[:2] in (b"\x80\xca", b"\x80\xa8") or b"PAY.SYS" in apdu:
            return bytes.fromhex("6F05A5038702019000")
        return None

    card, _, _ = card_of(persona, fault)
    try:
        card.read_status(bank_records=True, today=TODAY)
    except errors.SscardError:
        pass


# --- the command line -----------------------------------------------------------------------------


def test_card_without_a_pin_is_not_reported_as_unknown_tries(capsys):
    persona = next(
        p
        for p in list_personas()
        if "pin" not in persona_toml(p)
        and persona_toml(p).get("state") == "active"
        and persona_toml(p).get("layout") == "ssse"
    )
    code, out, _ = cli(capsys, "status", "--emulator", persona, "--json")
    pin = json.loads(out)["social_security"]["pin"]
    assert pin == {"tries_left": None, "blocked": False, "required": False, "source": "verify"}
    code, out, _ = cli(capsys, "status", "--emulator", persona)
    assert "no PIN needed now" in out and "tries unknown" not in out


@pytest.mark.parametrize("persona", list_personas())
def test_cli_both_views(capsys, persona):
    code, out, err = cli(capsys, "status", "--emulator", persona)
    assert err == "" and "social security application / 社会保障应用" in out
    assert "not recorded on the chip" in out and "金融功能激活" in out
    code_json, out_json, _ = cli(capsys, "status", "--emulator", persona, "--json")
    doc = json.loads(out_json)
    assert code_json == code
    assert doc["schema"] == "sscard.status/1" and doc["masked"] is True
    assert doc["bank"]["activation"]["recorded_on_chip"] is False
    assert doc["social_security"]["enablement"]["recorded_on_chip"] is False
    assert doc["bank"]["gpo_sent"] is False


def test_cli_exit_codes(capsys):
    assert cli(capsys, "status", "--emulator", "gen2")[0] in (ExitCode.OK, ExitCode.EXPIRED)
    assert cli(capsys, "status", "--emulator", "ssse-blocked")[0] == ExitCode.CARD_BLOCKED
    assert cli(capsys, "status", "--emulator", "card-blocked")[0] == ExitCode.CARD_BLOCKED


def test_cli_help_says_gpo_changes_the_card(capsys):
    code, out, _ = cli(capsys, "status", "--help")
    assert code == 0 and "--bank-records" in out and "CHANGES THE CARD" in out and "ATC" in out


def test_cli_conflicting_options(capsys):
    code, _, err = cli(capsys, "status", "--emulator", "gen2", "--reader", "0")
    assert code == ExitCode.USAGE and "--emulator" in err


@pytest.mark.parametrize("persona", [p for p in list_personas() if "bank" in persona_toml(p)])
def test_builtin_bank_expiry_cross_check_by_year_and_month(persona):
    """5F24 is a month's last day, EF05 a day: the TOML's year and month decide."""
    toml = persona_toml(persona)
    status = card_of(persona)[0].read_status(bank_records=True, today=TODAY)
    check = next(c for c in status.cross_checks if c.item == "expiry")
    if status.bank.records is None or status.ssse.identity is None:
        assert check.outcome == "not_done"
        return
    card, bank = toml["ef05"]["expiry_date"], toml["bank"]["expiry_date"]
    same = (card.year, card.month) == (bank.year, bank.month)
    assert check.outcome == ("match" if same else "mismatch")
    assert ("expiry_differs" in {f.code for f in status.findings}) is not same


# --- what status costs on the wire -------------------------------------------------------------

SELECT_SSSE = "00A404000F7378312E73682EC9E7BBE1B1A3D5CF00"
USAGE_GET_DATA = {
    "80CA9F7900",
    "80CA9F7700",
    "80CA9F7800",
    "80CA9F6D00",
    "80CA9F4F00",
    "80CADF4F00",
}


def _sent(transport) -> list[str]:
    return [a.hex().upper() for a in transport.sent]


def test_status_of_a_used_bank_card_reads_only_what_the_verdicts_use():
    card, transport, _ = card_of("bank-used")
    status = card.read_status(today=TODAY)
    sent = _sent(transport)
    assert len(sent) <= 20
    # the identity read's selection is reused: the empty VERIFY follows it directly
    assert sent[:4] == [SELECT_SSSE, "00B2012D40", "00B201355B", "00200000"]
    get_data = [a for a in sent if a.startswith("80CA")]
    assert get_data == ["80CA9F3600", "80CA9F1300", "80CA9F1700"]  # ATC, online ATC, PIN tries
    log_sfis = {0x5C, 0x64}  # SFI 11 (transactions) and 12 (loads) of this persona
    assert not [a for a in sent if a.startswith("00B2") and int(a[6:8], 16) in log_sfis]
    assert not status.bank.usage_read and status.bank.transactions == ()
    assert status.bank.counters.atc == persona_toml("bank-used")["bank"]["atc"]
    assert status.ssse_verdict.code == "usable" and status.bank.used is True


def test_logs_are_read_when_asked_and_each_get_data_once():
    card, transport, _ = card_of("bank-used")
    status = card.read_status(logs=True, today=TODAY)
    get_data = [a for a in _sent(transport) if a.startswith("80CA")]
    assert len(get_data) == len(set(get_data)) and USAGE_GET_DATA <= set(get_data)
    toml = persona_toml("bank-used")["bank"]
    assert status.bank.usage_read
    assert len(status.bank.transactions) == len(toml["transaction_log"])
    assert len(status.bank.loads) == len(toml["load_log"])


@pytest.mark.parametrize("options", [{}, {"logs": True}, {"bank_records": True, "logs": True}])
def test_cost_per_application_adds_up_to_what_was_sent(options):
    card, transport, _ = card_of("bank-used")
    status = card.read_status(today=TODAY, **options)
    session = card.session
    assert status.ssse_cost.apdus == 4  # SELECT, two range reads, the empty VERIFY
    assert (
        status.ssse_cost.apdus + status.bank_cost.apdus == len(transport.sent) == session.apdu_count
    )
    assert (
        status.ssse_cost.bytes + status.bank_cost.bytes
        == session.bytes_sent + session.bytes_received
    )
    exchanged = sum(len(a) for a in transport.sent[:4])
    assert status.ssse_cost.bytes > exchanged  # commands and answers


def test_status_json_reports_apdus_and_bytes_per_application(capsys):
    assert run(["status", "--emulator", "bank-used", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    ssse, bank = doc["social_security"], doc["bank"]
    assert ssse["apdus"] == 4 and bank["apdus"] == 7
    assert ssse["bytes"] > 0 and bank["bytes"] > 0
    assert bank["log"]["read"] is False and bank["electronic_cash"] is None
    assert run(["status", "--emulator", "bank-used", "--json", "--logs"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["bank"]["apdus"] > 7 and doc["bank"]["log"]["read"] is True
    assert doc["bank"]["log"]["transactions"]


def test_status_text_says_the_log_was_not_read(capsys):
    assert run(["status", "--emulator", "bank-used"]) == 0
    out = capsys.readouterr().out
    assert "log not read (--logs)" in out
    assert run(["status", "--emulator", "bank-used", "--logs"]) == 0
    assert "log not read" not in capsys.readouterr().out

"""An independent EMV reader, python-emv (`emvtool`), against the emulated bank application
through the real PC/SC stack: a private pcscd, the vpcd driver, our emulator.

python-emv pins pyscard 2.0.0 and click 7, so it lives in its own venv (.ci/emvtool-venv.sh).
What python-emv 1.0.14 sends (emv/card.py, emv/command/client.py, emv/transmission.py):

- every command: connects with T=0 only (asserts it; our ATR offers only T=0).  6Cxx: re-sends
  the command with byte 4 set to SW2 (for a case-4 command that byte is Lc).  61xx: GET
  RESPONSE `00 C0 00 00 SW2` in a loop, joined as `data[:-2] + more` (loses two bytes per
  link once data came with a 61).  62xx/63xx are warnings whose data is used as if 9000; any
  other SW raises ErrorResponse.  A warning to a case-4 command on T=0 (EMV Book 1 annex A
  case 4 with a warning) is not followed by GET RESPONSE: the response has no data.
- listapps: SELECT `1PAY.SYS.DDF01`, READ RECORD 1, 2, ... of the SFI in FCI tag 88 until an
  error SW.  If SELECT PSE raises, SELECT of three fixed AIDs (Amex A00000002501, Visa
  A0000000031010, Mastercard A0000000041010); no UnionPay AID, no PPSE.
- info: listapps' exchange; SELECT PSE, READ RECORD SFI 1-30 x record 1-15 (next SFI on an
  error SW or a record without template 70); the same for `2PAY.SYS.DDF01`; for each listed
  application SELECT AID and the same sweep, without GPO; then GET DATA 9F17 (PIN tries),
  9F36 (ATC), 9F13 (last online ATC) of the application selected last.
- appdata N: listapps, SELECT AID, GPO `80 A8 00 00 02 83 00 00` (an empty PDOL whatever
  the card's PDOL asks), READ RECORD over the AFL.

Two python-emv bugs meet our card, and are worked around here, not in the emulator:
- the PAN (5A) is rendered as a decimal number: an odd-length PAN padded with F (every
  19-digit UnionPay PAN) raises ValueError.  We run `info --redact`, which is also what we
  want in test output; the PAN is checked through python-emv's library instead.
- every record is parsed as BER-TLV; transaction/load log records (SFI 11-30) are plain
  values (JR/T 0025.5 §18.1, EMV Book 3 annex D) and may crash the parser.  `info` runs
  through a wrapper that skips a log record python-emv cannot parse and says so.

This module never makes a PC/SC call in the pytest process (pcsc_stack.own_pcscd and
run_in_child say why).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import re
import subprocess
import tomllib
from pathlib import Path

import pytest
from helpers import persona_toml
from pcsc_stack import READERS, PrivatePcscd, own_pcscd, require_stack, wait_state_in_child

from sscard.emulator import SocialSecurityCard
from sscard.emulator.persona import list_personas
from sscard.emulator.vpcd import VpcdLink

ROOT = Path(__file__).resolve().parents[2]
VENV = ROOT / ".venv-emvtool"
EMVTOOL = VENV / "bin" / "emvtool"
EMV_PYTHON = VENV / "bin" / "python"
SLOT0 = READERS[0]

SELECT_PSE = bytes.fromhex("00A404000E315041592E5359532E444446303100")
SELECT_PPSE = bytes.fromhex("00A404000E325041592E5359532E444446303100")
STATIC_AIDS = ("A00000002501", "A0000000031010", "A0000000041010")  # python-emv's fallback
EMPTY_PDOL_GPO = bytes.fromhex("80A8000002830000")
DEBIT_AID = "A000000333010101"
LOG_SFIS = range(11, 31)
# defaults of a persona's [bank] section where it says nothing (bank_persona.py docstring)
BANK_DEFAULTS = {"atc": 0, "last_online_atc": 0, "pin_try_counter": 3}


def _pinned_version() -> str:
    text = (ROOT / ".ci" / "emvtool-venv.sh").read_text()
    return re.search(r"^EMV_VERSION=(\S+)$", text, re.M).group(1)


def _label_of(aid: str) -> str:
    """The application label the spec gives this AID (apdu_specs/pboc.toml, read as TOML)."""
    with open(ROOT / "apdu_specs" / "pboc.toml", "rb") as f:
        spec = tomllib.load(f)
    return next(a["label"] for a in spec["aid"] if a["aid"] == aid)


BANK_PERSONAS = [p for p in list_personas() if "bank" in persona_toml(p)]
NO_BANK_PERSONA = "gen1"  # an active card without [bank]


# --- python-emv in its venv, a private pcscd, cards in vpcd ----------------------------------


@pytest.fixture(scope="module")
def stack():
    if not EMVTOOL.exists():
        if os.environ.get("CI"):
            pytest.fail("CI must install python-emv into .venv-emvtool (.ci/emvtool-venv.sh)")
        pytest.skip("python-emv is not installed: bash .ci/emvtool-venv.sh")
    require_stack()
    version = subprocess.run([EMVTOOL, "version"], capture_output=True, text=True, timeout=60)
    assert version.stdout.strip() == _pinned_version(), version.stderr
    assert "bank" not in persona_toml(NO_BANK_PERSONA)
    yield from own_pcscd()


class Inserted:
    """An emulated card in slot 0 and every (command, response) it exchanged."""

    def __init__(self, card: SocialSecurityCard) -> None:
        self.card = card
        self.exchanges: list[tuple[bytes, bytes]] = []
        execute = card.execute

        def recorded(apdu: bytes) -> bytes:
            response = execute(apdu)
            self.exchanges.append((bytes(apdu), response))
            return response

        card.execute = recorded

    def sent(self, ins: int) -> list[tuple[bytes, bytes]]:
        return [(c, r) for c, r in self.exchanges if len(c) > 1 and c[1] == ins]

    def atc(self, index: int = 0) -> int:
        return self.card.bank.apps[index].atc


@contextlib.contextmanager
def inserted(stack: PrivatePcscd, persona: str, **overrides):
    slot = Inserted(SocialSecurityCard.from_persona(persona, **overrides))
    link = VpcdLink(slot.card, port=stack.port).insert()
    counter = None
    try:
        counter = wait_state_in_child(stack, SLOT0, True)
        yield slot
    finally:
        link.remove()
        if counter is not None:  # the next card must not be taken for this one
            wait_state_in_child(stack, SLOT0, False, after=counter)


# Run emvtool's own entry point, skipping log records python-emv cannot parse (see above).
_TOLERANT_LOGS = r"""
import sys
from emv.card import Card
from emv.protocol.response import ErrorResponse
from emv.protocol.structures import TLV

_read_record = Card.read_record

class _Skipped:
    data = TLV()

def read_record(self, record_number, sfi=None):
    try:
        return _read_record(self, record_number, sfi)
    except ErrorResponse:
        raise
    except Exception as e:
        if sfi is None or not 11 <= sfi <= 30:
            raise
        print("[harness] SFI %d record %d is not BER-TLV (a log record): %s, skipped"
              % (sfi, record_number, type(e).__name__))
        return _Skipped()

Card.read_record = read_record
from emv.command.client import run
sys.argv[0] = "emvtool"
run()
"""


def _env(stack: PrivatePcscd) -> dict:
    return dict(stack.client_env(), PYTHONIOENCODING="utf-8")


def emvtool(stack: PrivatePcscd, *args: str, tolerant_logs: bool = False):
    command = [EMV_PYTHON, "-c", _TOLERANT_LOGS] if tolerant_logs else [EMVTOOL]
    return subprocess.run(
        [*command, "-r", "0", *args],
        env=_env(stack),
        capture_output=True,
        encoding="utf-8",
        timeout=120,
    )


# python-emv's library (not its CLI) with a GPO that carries the data the card's PDOL asks for:
# terminal country and currency 0156, every other PDOL field zero (amount 0, 9F7A 00 = no
# e-cash).  Prints JSON: select SW, GPO SW, AIP, AFL, the AFL records' plain values, metadata.
_LIBRARY_GPO = r"""
import json, sys
import smartcard.System
from emv.card import Card
from emv.protocol.command import GetProcessingOptions
from emv.protocol.data import Tag
from emv.protocol.response import ErrorResponse

def hexs(value):
    return bytes(value).hex().upper()

card = Card(smartcard.System.readers()[0].createConnection())
selected = card.select_application(list(bytes.fromhex(sys.argv[1])))
out = {"select_sw": "%02X%02X" % (selected.sw1, selected.sw2)}
pdol = selected.data[Tag.FCI][Tag.FCI_PROP].get(Tag.PDOL)
terminal = {(0x9F, 0x1A): [0x01, 0x56], (0x5F, 0x2A): [0x01, 0x56]}
data = pdol.serialise(terminal) if pdol else []
try:
    res = card.tp.exchange(GetProcessingOptions([0x83, len(data)] + data))
    out["gpo_sw"] = "9000"
    if Tag.RMTF1 in res.data:
        aip, afl = res.data[Tag.RMTF1][:2], res.data[Tag.RMTF1][2:]
    else:
        aip, afl = res.data[Tag.RMTF2][0x82], res.data[Tag.RMTF2][0x94]
    out["aip"], out["afl"] = hexs(aip), hexs(afl)
    records = card.get_application_data(afl)
    # plain values, not DOL objects
    out["records"] = {"%X" % (t.id if isinstance(t.id, int) else int(hexs(t.id), 16)): hexs(v)
                      for t, v in records.items() if type(v) is list}
except ErrorResponse as e:
    out["gpo_sw"] = "%02X%02X" % (e.sw1, e.sw2)
out["metadata"] = card.get_metadata()
print(json.dumps(out))
"""


def library_gpo(stack: PrivatePcscd, aid: str) -> dict:
    done = subprocess.run(
        [EMV_PYTHON, "-c", _LIBRARY_GPO, aid],
        env=_env(stack),
        capture_output=True,
        encoding="utf-8",
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


# --- emvtool's output ---------------------------------------------------------------------------
# terminaltables draws with the DEC line-drawing set: "\x1b(0" ... "\x1b(B" around frame chars

_CELL = "\x1b(0x\x1b(B"
_TITLE = re.compile(r"^\x1b\(0l\x1b\(B(.*?)\x1b\(0")


def tables(out: str) -> list[tuple[str, list[list[str]]]]:
    """[(title, rows)]; a row continued on the next line (empty first cell) is joined."""
    found: list[tuple[str, list[list[str]]]] = []
    for line in out.split("\n"):  # not splitlines(): a Latin-1 rendered GBK byte may be \x85
        title = _TITLE.match(line)
        if title or line.startswith("\x1b(0l"):
            found.append((title.group(1) if title else "", []))
        elif line.startswith(_CELL) and found:
            cells = [c.strip(" ") for c in line.split(_CELL)[1:-1]]
            rows = found[-1][1]
            if rows and not cells[0] and len(rows[-1]) == len(cells):
                rows[-1] = [f"{a} {b}".strip() for a, b in zip(rows[-1], cells, strict=True)]
            else:
                rows.append(cells)
    return found


def table(out: str, title: str) -> list[list[str]]:
    matches = [rows for t, rows in tables(out) if t == title]
    assert len(matches) == 1, f"{len(matches)} tables titled {title!r}"
    return matches[0]


def spaced(hex_text: str) -> str:
    """python-emv's rendering of bytes: '[A0 00 03]'."""
    return "[" + " ".join(hex_text[i : i + 2] for i in range(0, len(hex_text), 2)).upper() + "]"


# --- the oracle: the persona files ---------------------------------------------------------------


def bank_apps(persona: str) -> list[dict]:
    """The applications of the persona's [bank] section, primary first, then extra_app."""
    bank = persona_toml(persona)["bank"]
    primary = {
        "aid": bank.get("aid", DEBIT_AID),
        "priority": int(bank.get("priority", "01"), 16),
        "atc": bank.get("atc", BANK_DEFAULTS["atc"]),
        "last_online_atc": bank.get("last_online_atc", BANK_DEFAULTS["last_online_atc"]),
        "pin_try_counter": bank.get("pin_try_counter", BANK_DEFAULTS["pin_try_counter"]),
    }
    apps = [primary]
    for extra in bank.get("extra_app", []):  # own counters, the holder's PIN
        apps.append(
            {
                "aid": extra["aid"],
                "priority": int(extra.get("priority", "01"), 16),
                "atc": extra.get("atc", BANK_DEFAULTS["atc"]),
                "last_online_atc": extra.get("last_online_atc", BANK_DEFAULTS["last_online_atc"]),
                "pin_try_counter": extra.get("pin_try_counter", primary["pin_try_counter"]),
            }
        )
    for app in apps:
        app["label"] = _label_of(app["aid"])
    return apps


def has_pse(persona: str) -> bool:
    bank = persona_toml(persona)["bank"]
    interface = bank.get("interface", "contact")
    return "pse" in bank.get("directories", ["pse", "ppse"] if interface == "contact" else ["ppse"])


def pan_bcd(pan: str) -> str:
    return pan + "F" * (len(pan) % 2)


def yymmdd(day: _dt.date) -> str:
    return day.strftime("%y%m%d")


# --- listapps -----------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", BANK_PERSONAS)
def test_listapps_lists_the_bank_applications(stack, persona):
    apps = bank_apps(persona)
    with inserted(stack, persona) as slot:
        done = emvtool(stack, "listapps")
        atcs = [slot.atc(i) for i in range(len(apps))]
    assert done.returncode == 0, done.stderr
    rows = table(done.stdout, "Applications")
    assert rows[0] == ["Index", "Label", "ADF"]
    expected = [[str(i), f'"{a["label"]}"', spaced(a["aid"])] for i, a in enumerate(apps)]
    assert rows[1:] == (expected if has_pse(persona) else [])
    commands = [c for c, _ in slot.exchanges]
    assert commands[0] == SELECT_PSE
    assert not slot.sent(0xA8)  # listapps starts no transaction
    assert atcs == [a["atc"] for a in apps]


def test_listapps_without_a_bank_application(stack):
    with inserted(stack, NO_BANK_PERSONA) as slot:
        done = emvtool(stack, "listapps")
    assert done.returncode == 0, done.stderr
    assert table(done.stdout, "Applications") == [["Index", "Label", "ADF"]]
    # PSE absent, then python-emv's three fixed AIDs, each absent too
    expected = [SELECT_PSE] + [
        bytes.fromhex(f"00A40400{len(a) // 2:02X}{a}00") for a in STATIC_AIDS
    ]
    assert slot.exchanges == [(c, bytes.fromhex("6A82")) for c in expected]


# --- info ---------------------------------------------------------------------------------------


def _check_records(out: str, bank: dict) -> None:
    """The AFL records as emvtool --redact shows them, against the persona."""
    shown = {}
    for title, rows in tables(out):
        if title.startswith("File: ") and int(title[6:].split(",")[0]) not in LOG_SFIS:
            shown.update({r[0]: r[2] for r in rows[1:]})
    assert shown["[5A]"] == "[REDACTED]" and shown["[57]"] == "[REDACTED]"
    assert shown["[5F 24]"] == bank["expiry_date"].strftime("%y/%m/%d")
    assert shown["[5F 25]"] == bank["effective_date"].strftime("%y/%m/%d")
    assert shown["[9F 61]"] == spaced(bank["id_number"].encode("ascii").hex())
    assert shown["[9F 62]"] == spaced(bank["id_type"])
    # python-emv shows 5F20 as one character per byte: a GBK name comes out as Latin-1
    assert shown["[5F 20]"] == '"' + bank["cardholder_name"].encode("gbk").decode("latin-1") + '"'


@pytest.mark.parametrize("persona", BANK_PERSONAS)
def test_info_reads_the_bank_application(stack, persona):
    bank = persona_toml(persona)["bank"]
    apps = bank_apps(persona)
    with inserted(stack, persona) as slot:
        done = emvtool(stack, "--redact", "info", tolerant_logs=True)
        atcs = [slot.atc(i) for i in range(len(apps))]
    assert done.returncode == 0, done.stderr
    out = done.stdout
    listed = apps if has_pse(persona) else []
    for app in listed:
        assert f'Application "{app["label"]}", DF Name: {spaced(app["aid"])}' in out
    if listed:
        _check_records(out, bank)
    # privacy: --redact leaves no trace of the PAN (digits, or bytes as python-emv prints them)
    pan = bank["pan"]
    assert pan not in out and spaced(pan_bcd(pan))[1:-1] not in out
    # info never starts a transaction: no GPO, the ATC stays
    assert not slot.sent(0xA8)
    assert atcs == [a["atc"] for a in apps]
    # GET DATA answers of the application selected last (apps in listed order)
    metadata = {r[0]: r[1] for r in table(out, "")}
    if listed:
        last = listed[-1]
        assert metadata == {
            "pin_retries": str(last["pin_try_counter"]),
            "atc": str(last["atc"]),
            "last_online_atc": str(last["last_online_atc"]),
        }


def test_plain_info_completes_on_an_unused_card(stack):
    """emvtool itself, unwrapped: an empty transaction log leaves nothing to trip over."""
    bank = persona_toml("gen2")["bank"]
    assert not bank.get("transaction_log")
    with inserted(stack, "gen2") as slot:
        done = emvtool(stack, "--redact", "info")
    assert done.returncode == 0, done.stderr
    assert f'Application "{_label_of(DEBIT_AID)}", DF Name: {spaced(DEBIT_AID)}' in done.stdout
    _check_records(done.stdout, bank)
    # in the application, the log SFI was swept: record 1 of the empty log is "not found"
    select = max(
        i for i, (c, _) in enumerate(slot.exchanges) if c[5:13] == bytes.fromhex(DEBIT_AID)
    )
    log_reads = [r for c, r in slot.exchanges[select:] if c[1] == 0xB2 and c[3] >> 3 == 11]
    assert log_reads == [bytes.fromhex("6A83")]


def test_python_emv_cannot_parse_log_records(stack):
    """Records a real PBOC log holds are plain values; python-emv parses them as BER-TLV and
    (for these bytes) crashes.  Pinned here so that a python-emv that learns better shows up."""
    with inserted(stack, "bank-used"):
        plain = emvtool(stack, "--redact", "info")
        wrapped = emvtool(stack, "--redact", "info", tolerant_logs=True)
    assert plain.returncode != 0 and "IndexError" in plain.stderr, (
        "python-emv now copes with bank-used's log record 1: "
        "is the log-record wrapper still needed?"
    )
    assert wrapped.returncode == 0, wrapped.stderr
    assert "[harness] SFI 11 record 1 is not BER-TLV" in wrapped.stdout


def test_info_without_a_bank_application(stack):
    with inserted(stack, NO_BANK_PERSONA) as slot:
        done = emvtool(stack, "info")
    assert done.returncode == 0, done.stderr
    assert "1PAY.SYS.DDF01 not available" in done.stdout
    assert "2PAY.SYS.DDF01 not available" in done.stdout
    assert "\nApplication " not in done.stdout
    assert table(done.stdout, "") == []  # no metadata
    # GET DATA is not an instruction of a card without a bank application
    assert [r for _, r in slot.sent(0xCA)] == [bytes.fromhex("6D00")] * 3


# --- transactions: GPO ------------------------------------------------------------------------


@pytest.mark.parametrize("persona", BANK_PERSONAS)
def test_gpo_with_the_pdol_through_python_emv(stack, persona):
    """emvtool's own GPO ignores the PDOL (below); python-emv's library can fill it."""
    bank = persona_toml(persona)["bank"]
    app = bank_apps(persona)[0]
    blocked = bank.get("state", "active") == "blocked"
    refused = bank.get("gpo_refusal", False)
    with inserted(stack, persona) as slot:
        result = library_gpo(stack, app["aid"])
        atc = slot.atc(0)
    gpos = slot.sent(0xA8)
    assert len(gpos) == 1
    assert result["select_sw"] == ("6283" if blocked else "9000")
    if blocked:  # a blocked application refuses the transaction and its ATC stays
        assert result["gpo_sw"] == "6985" and atc == app["atc"]
        return
    if refused:  # the transaction started (ATC + 1), then the card declined it
        assert result["gpo_sw"] == "6985" and atc == app["atc"] + 1
        return
    assert result["gpo_sw"] == "9000"
    assert atc == app["atc"] + 1  # exactly one transaction started
    assert result["metadata"]["atc"] == app["atc"] + 1  # and GET DATA says so
    records = result["records"]
    assert records["5A"] == pan_bcd(bank["pan"])
    assert records["5F24"] == yymmdd(bank["expiry_date"])
    assert records["5F25"] == yymmdd(bank["effective_date"])
    assert records["9F61"] == bank["id_number"].encode("ascii").hex().upper()
    assert records["5F20"] == bank["cardholder_name"].encode("gbk").hex().upper()
    # track 2 starts with the PAN, then the separator D and the expiry YYMM
    assert records["57"].startswith(bank["pan"] + "D" + bank["expiry_date"].strftime("%y%m"))


def test_appdata_sends_an_empty_pdol(stack):
    """`emvtool appdata` always sends GPO with 83 00; the card's PDOL asks for data, so the
    card refuses with 6700 before the transaction starts and emvtool stops with a traceback."""
    app = bank_apps("gen2")[0]
    with inserted(stack, "gen2") as slot:
        done = emvtool(stack, "appdata", "0")
        atc = slot.atc(0)
    assert slot.sent(0xA8) == [(EMPTY_PDOL_GPO, bytes.fromhex("6700"))]
    assert done.returncode != 0 and "67 00" in done.stderr
    assert atc == app["atc"]


# --- blocked application, T=0 -----------------------------------------------------------------


def test_blocked_application_is_shown_as_if_active(stack):
    """SELECT answers 6283 with the FCI; python-emv takes 62xx as a warning and shows the
    application like any other: nothing in its output says "blocked"."""
    with inserted(stack, "bank-blocked") as slot:
        done = emvtool(stack, "--redact", "info", tolerant_logs=True)
    assert done.returncode == 0, done.stderr
    selects = [r for c, r in slot.sent(0xA4) if c[5:13] == bytes.fromhex(DEBIT_AID)]
    assert selects and all(r[-2:] == bytes.fromhex("6283") and r[0] == 0x6F for r in selects)
    assert f'Application "{_label_of(DEBIT_AID)}"' in done.stdout
    assert "blocked" not in done.stdout.lower() and "6283" not in done.stdout


def test_t0_card_get_response_and_6cxx(stack):
    """A T=0 card that answers case 4 with 61xx and a wrong Le with 6Cxx: python-emv's
    transport handles both (GET RESPONSE, re-send with the right Le)."""
    bank = persona_toml("gen2")["bank"]
    with inserted(stack, "gen2", t0=True, le_zero="6Cxx") as slot:
        listed = emvtool(stack, "listapps")
        info = emvtool(stack, "--redact", "info", tolerant_logs=True)
    assert listed.returncode == 0, listed.stderr
    assert table(listed.stdout, "Applications")[1:] == [
        ["0", f'"{_label_of(DEBIT_AID)}"', spaced(DEBIT_AID)]
    ]
    assert info.returncode == 0, info.stderr
    _check_records(info.stdout, bank)
    responses = [r for _, r in slot.exchanges]
    assert any(r[0] == 0x61 and len(r) == 2 for r in responses)
    assert any(r[0] == 0x6C and len(r) == 2 for r in responses)
    assert slot.sent(0xC0)  # GET RESPONSE


def test_t0_blocked_application_trips_python_emv(stack):
    """On T=0 a blocked application answers SELECT with a bare 6283; the FCI waits for GET
    RESPONSE (EMV Book 1 annex A, case 4 with a warning).  python-emv sends none, gets no FCI
    and crashes in `info`; listapps, which reads only the PSE, still works."""
    with inserted(stack, "bank-blocked", t0=True) as slot:
        listed = emvtool(stack, "listapps")
        info = emvtool(stack, "--redact", "info", tolerant_logs=True)
    assert listed.returncode == 0, listed.stderr
    assert len(table(listed.stdout, "Applications")) == 2
    aid_selects = [
        i for i, (c, _) in enumerate(slot.exchanges) if c[5:13] == bytes.fromhex(DEBIT_AID)
    ]
    assert len(aid_selects) == 1 and slot.exchanges[aid_selects[0]][1] == bytes.fromhex("6283")
    # that SELECT was the last exchange: no GET RESPONSE for the FCI, and emvtool gave up
    assert aid_selects[0] == len(slot.exchanges) - 1
    assert info.returncode != 0 and "TypeError" in info.stderr

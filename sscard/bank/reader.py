"""Reading the bank (UnionPay PBOC) application of a social security card.

Discovery (docs/card-facts.md#pse-and-ppse): PSE `1PAY.SYS.DDF01` and its directory records,
else PPSE `2PAY.SYS.DDF01`, else the UnionPay AID list with SELECT next occurrence (P2 02)
until 6A82.  Then SELECT of the chosen application (6283: blocked, its FCI still read), GET
DATA of the counters and PIN try counter, and unless `usage=False` the e-cash amounts, the
log formats and the transaction and load logs (readable even when the application is
blocked).  Each GET DATA object is asked for once.

Only with `records=True`: one GET PROCESSING OPTIONS, which CHANGES THE CARD (ATC + 1), and
the records its AFL names (PAN, dates, name, ID number).  Never sent to a blocked
application, never twice in one read, never when the ATC is unknown or at 65534 or more
(the GPO that takes it to 65535 is the application's last: JR/T 0025.5 §7).
"""

from __future__ import annotations

import datetime as _dt
from typing import TYPE_CHECKING

from sscard import errors
from sscard.bank import fci as fci_codec
from sscard.bank import gpo as gpo_codec
from sscard.bank import records as records_codec
from sscard.bank.dol import DolEntry, parse_dol
from sscard.bank.fci import AdfFci, DirectoryEntry, LogLocation, by_priority
from sscard.bank.results import (
    BankCandidate,
    BankReading,
    BankRecords,
    Counters,
    ElectronicCash,
    Load,
    RecordsStatus,
    Selection,
    Transaction,
)
from sscard.codec.tlv import parse_ber
from sscard.findings import finding
from sscard.results import AppState, Coded, Finding
from sscard.session import CardSession

if TYPE_CHECKING:
    pass

MAX_DIRECTORY_RECORDS = 16
MAX_OCCURRENCES = 8  # SELECT next occurrence: a card keeps answering → stop, bounded
SW_OK, SW_BLOCKED, SW_CARD_BLOCKED, SW_NOT_FOUND = 0x9000, 0x6283, 0x6A81, 0x6A82
SW_NO_RECORD, SW_GPO_REFUSED = 0x6A83, 0x6985
# GET DATA answers meaning "the card does not give this object" (docs/card-facts.md#get-data:
# 6A88 per JR/T 0025.5 §B.7, 6A81 "not supported" seen on cards, 6A83 "no such data", 6985 "not in
# these conditions", which a blocked application may answer: its state is known already from
# the 6283 of its SELECT); any other failure is an error, never an absent value
SW_NOT_AVAILABLE = frozenset({0x6A88, 0x6A81, 0x6A83, 0x6985})
ATC_MAX = 0xFFFF  # at this ATC the application is dead for good (docs/card-facts.md#gpo)

T_ATC, T_LAST_ONLINE_ATC, T_PIN_TRY_COUNTER = 0x9F36, 0x9F13, 0x9F17
T_EC = (0x9F79, 0x9F77, 0x9F78, 0x9F6D)
T_PAN, T_TRACK2, T_PAN_SEQUENCE, T_EXPIRY, T_EFFECTIVE = 0x5A, 0x57, 0x5F34, 0x5F24, 0x5F25
T_NAME, T_NAME_EXTENDED, T_ID_NUMBER, T_ID_TYPE = 0x5F20, 0x9F0B, 0x9F61, 0x9F62
T_APP_CURRENCY = 0x9F42

CMD_SELECT_NEXT = "select_next_by_name"
CMD_GET_DATA = "get_data"
CMD_GPO = "get_processing_options"


def read_bank(
    session: CardSession,
    *,
    records: bool = False,
    usage: bool = True,
    today: _dt.date | None = None,
) -> BankReading:
    today = today or _dt.date.today()
    pboc = session.spec.pboc
    findings: list[Finding] = []
    selection, entries, card_blocked = _discover(session, pboc, findings)
    candidates = tuple(
        BankCandidate(e.aid.hex().upper(), e.label, e.preferred_name, e.priority, selection)
        for e in entries
    )
    skipped = RecordsStatus.NOT_READ if records else RecordsStatus.NOT_REQUESTED
    chosen = None if card_blocked else _choose(pboc, entries)
    if chosen is None:  # nothing to select: the card is blocked, or holds no application
        return BankReading(
            AppState.CARD_BLOCKED if card_blocked else AppState.ABSENT,
            f"{SW_CARD_BLOCKED:04X}" if card_blocked else None,
            selection,
            candidates,
            None,
            False,
            records_status=skipped,
            findings=tuple(findings),
        )

    response = session.send("select_by_name", data=chosen.aid, le=0)
    sw = response.sw
    aid_hex = chosen.aid.hex().upper()
    if sw in (SW_CARD_BLOCKED, SW_NOT_FOUND):  # the chosen application cannot be selected
        state = AppState.CARD_BLOCKED if sw == SW_CARD_BLOCKED else AppState.ABSENT
        if state is AppState.ABSENT:
            findings.append(finding("bank_not_selectable", "bank.aid", aid_hex))
        return BankReading(
            state,
            f"{sw:04X}",
            selection,
            candidates,
            aid_hex,
            pboc.scheme.owns(chosen.aid),
            records_status=skipped,
            findings=tuple(findings),
        )
    if sw not in (SW_OK, SW_BLOCKED):
        raise session.error_for(response, "SELECT bank application")
    state = AppState.READY if sw == SW_OK else AppState.APPLICATION_BLOCKED
    # a blocked application still returns its FCI, except on T=0 readers that do not run
    # the case-4-with-warning exchange (docs/card-facts.md#t0-transport): then only the SW is known
    adf = fci_codec.parse_adf_fci(response.data, pboc) if response.data else None
    if adf is None:
        findings.append(finding("bank_no_fci", "bank.log", f"SELECT answered {sw:04X}"))
    aid = adf.aid if adf is not None else chosen.aid
    unionpay = pboc.scheme.owns(aid)

    counters = Counters(
        *(
            _get_counter(session, pboc, aid, t)
            for t in (T_ATC, T_LAST_ONLINE_ATC, T_PIN_TRY_COUNTER)
        )
    )
    ec = (
        ElectronicCash(*(_get_data(session, pboc, aid, t) for t in T_EC))
        if unionpay and usage
        else None
    )

    log_format = transactions = None
    if usage and adf is not None and adf.log is not None:
        log_format = _get_data(session, pboc, aid, pboc.log("transaction").format_tag)
        transactions = _read_log(session, pboc, "transaction", adf.log, log_format, findings)
    loads = None
    if usage and adf is not None and adf.load_log is not None and unionpay:
        load_format = _get_data(session, pboc, aid, pboc.log("load").format_tag)
        loads = _read_log(session, pboc, "load", adf.load_log, load_format, findings)

    records_status, bank_records, gpo_sent = skipped, None, False
    if records and state is AppState.READY:
        if counters.atc is None:
            records_status = RecordsStatus.WITHHELD
            findings.append(finding("bank_gpo_atc_unknown", "bank.records"))
        elif counters.atc >= ATC_MAX - 1:
            records_status = RecordsStatus.WITHHELD
            findings.append(
                finding(
                    "bank_gpo_atc_exhausted", "bank.records", f"ATC {counters.atc} of {ATC_MAX}"
                )
            )
        else:
            gpo_sent = True
            records_status, bank_records = _read_records(session, pboc, aid, adf, today, findings)

    return BankReading(
        state=state,
        select_sw=f"{sw:04X}",
        selection=selection,
        candidates=candidates,
        aid=aid.hex().upper(),
        unionpay=unionpay,
        label=adf.label if adf else chosen.label,
        preferred_name=adf.preferred_name if adf else chosen.preferred_name,
        language=adf.language if adf else None,
        pdol=_dol_hex(adf.pdol) if adf and adf.pdol is not None else None,
        counters=counters,
        electronic_cash=ec,
        currency=bank_records.currency if bank_records is not None else None,
        log_format=_dol_hex(log_format) if log_format is not None else None,
        transactions=tuple(t for t in transactions or () if isinstance(t, Transaction)),
        log_records=adf.log.records if adf is not None and adf.log is not None else None,
        loads=tuple(loads or ()),
        records_status=records_status,
        records=bank_records,
        gpo_sent=gpo_sent,
        findings=tuple(findings),
        usage_read=usage,
    )


# --- discovery ------------------------------------------------------------------------------


def _discover(
    session: CardSession, pboc, findings: list[Finding]
) -> tuple[Selection, tuple[DirectoryEntry, ...], bool]:
    """(how, applications, card blocked)."""
    response = session.send("select_by_name", data=pboc.pse.name, le=0)
    if response.sw == SW_CARD_BLOCKED:
        return Selection.PSE, (), True
    if response.sw == SW_OK:
        sfi = fci_codec.parse_pse_fci(response.data)
        entries: list[DirectoryEntry] = []
        for number in range(1, MAX_DIRECTORY_RECORDS + 1):
            record = session.send("read_record_by_number", p1=number, sfi=sfi, le=0)
            if record.sw in (SW_NO_RECORD, SW_NOT_FOUND):
                break
            entries += fci_codec.parse_directory_record(
                session.check(record, "READ RECORD PSE"), pboc
            )
        else:  # every record answered: there may be more than the bound lets us read
            findings.append(
                finding(
                    "bank_list_truncated",
                    "bank.candidates",
                    f"PSE directory 目录, {MAX_DIRECTORY_RECORDS} records 条记录",
                )
            )
        if entries:
            return Selection.PSE, tuple(entries), False
    # 6A82 no PSE, 6283 PSE blocked, or an empty directory: the contactless directory next
    response = session.send("select_by_name", data=pboc.ppse.name, le=0)
    if response.sw == SW_CARD_BLOCKED:
        return Selection.PPSE, (), True
    if response.sw == SW_OK:
        listed = fci_codec.parse_ppse_fci(response.data, pboc)
        if listed:
            return Selection.PPSE, listed, False
    return _aid_list(session, pboc, findings)


def _aid_list(
    session: CardSession, pboc, findings: list[Finding]
) -> tuple[Selection, tuple[DirectoryEntry, ...], bool]:
    """Every card application under each list AID: SELECT first, then next occurrence."""
    found: list[DirectoryEntry] = []
    enumerated: list[bytes] = []  # partial AIDs the card answered: their range is done
    for listed in sorted(pboc.aids, key=lambda a: not a.partial):  # partial AIDs first
        if not listed.partial and any(listed.aid.startswith(p) for p in enumerated):
            continue  # covered by the enumeration of a partial AID
        if any(e.aid == listed.aid for e in found):
            continue
        command = "select_by_name"
        for _ in range(MAX_OCCURRENCES):
            response = session.send(command, data=listed.aid, le=0)
            if response.sw == SW_CARD_BLOCKED:
                return Selection.AID_LIST, tuple(found), True
            if response.sw not in (SW_OK, SW_BLOCKED):
                break
            adf = fci_codec.parse_adf_fci(response.data, pboc) if response.data else None
            entry = DirectoryEntry(
                adf.aid if adf else listed.aid,
                adf.label if adf else None,
                adf.preferred_name if adf else None,
                adf.priority if adf else None,
            )
            if any(e.aid == entry.aid for e in found):
                break  # the card answers the same application again: the list is done
            found.append(entry)
            if not listed.partial:
                break
            if listed.aid not in enumerated:
                enumerated.append(listed.aid)
            command = CMD_SELECT_NEXT
        else:  # the card still answered a new application at the bound
            findings.append(
                finding(
                    "bank_list_truncated",
                    "bank.candidates",
                    f"{listed.aid.hex().upper()}, {MAX_OCCURRENCES} occurrences 个应用",
                )
            )
    return (Selection.AID_LIST if found else Selection.NONE), tuple(found), False


def _choose(pboc, entries) -> DirectoryEntry | None:
    """A UnionPay application first (by priority), else the first other one."""
    ordered = by_priority(entries)
    return next((e for e in ordered if pboc.scheme.owns(e.aid)), ordered[0] if ordered else None)


# --- GET DATA --------------------------------------------------------------------------------


def _get_value(session: CardSession, tag: int):
    """The object of a GET DATA answer (the full TLV, checked); None when the card does not
    give it (6A88 and the like — 6A81 here means "not supported", docs/card-facts.md#get-data).
    Any other failure is a typed error: a 6F00 to 9F17 must not read as "no PIN counter"."""
    response = session.send(CMD_GET_DATA, p1=tag >> 8, p2=tag & 0xFF, le=0)
    if response.sw in SW_NOT_AVAILABLE:
        return None
    if response.sw != SW_OK:
        raise session.error_for(response, f"GET DATA {tag:X}")
    tlvs = parse_ber(response.data)
    if len(tlvs) != 1 or tlvs[0].tag != tag:
        raise errors.DecodeError(f"GET DATA {tag:X} answered with another object", offset=0)
    return tlvs[0]


def _get_data(session: CardSession, pboc, aid: bytes, tag: int):
    node = _get_value(session, tag)
    if node is None:
        return None
    offset = fci_codec.value_offset(node)
    obj = pboc.tag(tag, aid=aid)
    if obj is not None and obj.format == "dol":
        return parse_dol(node.value, offset)
    return pboc.decode(tag, node.value, offset) if obj is not None else node.value.hex().upper()


def _get_counter(session: CardSession, pboc, aid: bytes, tag: int) -> int | None:
    value = _get_data(session, pboc, aid, tag)
    if value is not None and not isinstance(value, int):
        raise errors.DecodeError(f"GET DATA {tag:X} is not a counter", offset=0)
    return value


# --- logs -------------------------------------------------------------------------------------


def _read_log(
    session: CardSession,
    pboc,
    key: str,
    where: LogLocation,
    dol: tuple[DolEntry, ...] | None,
    findings: list[Finding],
) -> list:
    if dol is None:
        findings.append(
            finding("bank_log_mismatch", f"bank.{key}_log", f"the card gives no {key} log format")
        )
        return []
    spec_log = pboc.log(key)
    pairs = tuple((e.tag, e.length) for e in dol)
    out = []
    for number in range(1, where.records + 1):
        response = session.send("read_record_by_number", p1=number, sfi=where.sfi, le=0)
        if response.sw in (SW_NO_RECORD, SW_NOT_FOUND):
            break
        raw = session.check(response, f"READ RECORD {key} log")
        if not raw or all(b == 0 for b in raw) or all(b == 0xFF for b in raw):
            continue  # an unused slot
        try:
            values = spec_log.decode_record(raw, pairs)
        except errors.DecodeError as e:
            findings.append(
                finding("bank_log_mismatch", f"bank.{key}_log", f"record {number}: {e.message}")
            )
            continue
        out.append(
            _transaction(pboc, number, values, pairs)
            if key == "transaction"
            else _load(number, values, pairs)
        )
    return out


def _fields(values: dict, dol) -> tuple[tuple[str, object], ...]:
    return tuple((f"{tag:X}", values[f"{tag:X}"]) for tag, _ in dol)


def _transaction(pboc, number: int, values: dict, dol) -> Transaction:
    g = values.get
    entry = pboc.code_table("transaction_type").get(g("9C"))
    kind = Coded(g("9C"), entry.en, entry.zh) if entry else Coded(g("9C"))
    return Transaction(
        number,
        g("9A"),
        g("9F21"),
        g("9F02"),
        g("9F03"),
        g("5F2A"),
        g("9F1A"),
        g("9F4E") or None,
        kind,
        g("9F36"),
        _fields(values, dol),
    )


def _load(number: int, values: dict, dol) -> Load:
    g = values.get
    return Load(
        number,
        g("9A"),
        g("9F21"),
        values["balance_before"],  # the load log's prefix: in every record
        values["balance_after"],
        f"{g('put_data_p1')}{g('put_data_p2')}",
        g("9F4E") or None,
        g("9F36"),
        _fields(values, dol),
    )


# --- GPO and records --------------------------------------------------------------------------


def _read_records(
    session: CardSession,
    pboc,
    aid: bytes,
    adf: AdfFci | None,
    today: _dt.date,
    findings: list[Finding],
) -> tuple[RecordsStatus, BankRecords | None]:
    data = gpo_codec.command_data(adf.pdol if adf else None, pboc, aid, today)
    response = session.send(CMD_GPO, data=data, le=0)
    if response.sw == SW_GPO_REFUSED:
        findings.append(finding("bank_gpo_refused", "bank.records"))
        return RecordsStatus.REFUSED, None
    answer = gpo_codec.parse_response(session.check(response, "GET PROCESSING OPTIONS"))
    if not answer.afl:
        findings.append(finding("bank_no_afl", "bank.records"))
    read = []
    for entry in answer.afl:
        if entry.sfi > records_codec.TLV_SFI_MAX:
            continue  # proprietary records, not TLV
        for number in entry.records():
            record = session.send("read_record_by_number", p1=number, sfi=entry.sfi, le=0)
            if record.sw == SW_NO_RECORD:
                findings.append(
                    finding("record_missing", "bank.records", f"SFI {entry.sfi} record {number}")
                )
                continue
            read.append(
                records_codec.parse_record(session.check(record, "READ RECORD"), entry.sfi, number)
            )
    merged = records_codec.merge(read)
    for tag in merged.duplicates:
        findings.append(finding("bank_duplicate_tag", "bank.records", f"{tag:X}"))
    result = _bank_records(pboc, aid, merged, answer)
    if result.pan is None:
        findings.append(finding("bank_records_incomplete", "bank.pan", "PAN 主账号 (5A / 57)"))
    if result.expiry_date is None:
        findings.append(
            finding("bank_records_incomplete", "bank.expiry_date", "expiry date 有效期 (5F24)")
        )
    return RecordsStatus.READ, result


def blank(raw: bytes) -> bool:
    """Spaces, zeros, FF, or the recommended " /": a field the issuer did not personalise."""
    stripped = bytes(raw).strip(b"\x00\x20\xff")
    return stripped in (b"", b"/")


def _bank_records(
    pboc, aid: bytes, merged: records_codec.RecordSet, answer: gpo_codec.GpoResponse
) -> BankRecords:
    def value(tag: int, *, text: bool = False):
        element = merged.get(tag)
        if element is None or pboc.tag(tag, aid=aid) is None:
            return None  # absent, or a tag this scheme gives another meaning
        if text and blank(element.value):
            return None
        decoded = pboc.decode(tag, element.value, element.offset)
        return decoded.strip() if isinstance(decoded, str) and text else decoded

    pan = value(T_PAN)
    if pan is None and value(T_TRACK2) is not None:
        pan = value(T_TRACK2)["pan"]
    id_type = value(T_ID_TYPE)
    entry = pboc.code_table("id_type").get(id_type) if id_type is not None else None
    return BankRecords(
        pan=pan,
        pan_sequence=value(T_PAN_SEQUENCE),
        expiry_date=value(T_EXPIRY),
        effective_date=value(T_EFFECTIVE),
        name=value(T_NAME, text=True),
        name_extended=value(T_NAME_EXTENDED, text=True),
        id_number=value(T_ID_NUMBER, text=True),
        id_type=Coded(id_type, entry.en, entry.zh) if entry else Coded(id_type),
        aip=answer.aip.hex().upper(),
        afl=tuple((e.sfi, e.first, e.last, e.oda) for e in answer.afl),
        tags=tuple(f"{e.tag:X}" for e in merged.elements),
        currency=value(T_APP_CURRENCY),
    )


def _dol_hex(dol: tuple[DolEntry, ...]) -> str:
    return "".join(f"{e.tag:X}{e.length:02X}" for e in dol)

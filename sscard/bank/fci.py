"""File control information of the payment system environment (PSE / PPSE) and of a
bank application (ADF), and the PSE directory records (docs/card-facts.md#pse-and-ppse, #bank-fci).

Structure errors (bad TLV, no 6F, a 6F without 84 or A5, a PSE without its directory
SFI) are DecodeErrors with the byte offset; unknown tags are ignored as JR/T 0025.5
§B.13.4 requires; 00 padding bytes around objects are skipped (EMV Book 3 Annex B).
Text (label, preferred name) is decoded as ASCII or GBK, or as
Latin-1 when the issuer code table index 9F11 says 01.
"""

from __future__ import annotations

from typing import NamedTuple

from sscard.bank.dol import DolEntry, parse_dol
from sscard.codec.tlv import Tlv, parse_ber
from sscard.errors import DecodeError

T_FCI, T_DF_NAME, T_PROPRIETARY = 0x6F, 0x84, 0xA5
T_SFI, T_LABEL, T_PRIORITY, T_PDOL = 0x88, 0x50, 0x87, 0x9F38
T_LANGUAGE, T_CODE_TABLE, T_PREFERRED, T_DISCRETIONARY = 0x5F2D, 0x9F11, 0x9F12, 0xBF0C
T_LOG_ENTRY, T_LOAD_LOG_ENTRY = 0x9F4D, 0xDF4D
T_RECORD, T_APP_TEMPLATE, T_AID = 0x70, 0x61, 0x4F


class LogLocation(NamedTuple):
    """Where a log lives: SFI 11–30 and the number of records (9F4D / DF4D)."""

    sfi: int
    records: int  # (not `count`, which would hide tuple.count)


class DirectoryEntry(NamedTuple):
    aid: bytes
    label: str | None
    preferred_name: str | None
    priority: int | None  # low nibble of 87: 1 is the highest; None when absent


class AdfFci(NamedTuple):
    aid: bytes  # 84
    label: str | None
    preferred_name: str | None
    priority: int | None
    pdol: tuple[DolEntry, ...] | None  # None: the card has no PDOL
    language: str | None  # 5F2D, e.g. "zh" or "zhenfrde"
    code_table: int | None  # 9F11
    log: LogLocation | None  # 9F4D in BF0C
    load_log: LogLocation | None  # DF4D in BF0C


class _Fci(NamedTuple):
    template: Tlv  # 6F
    df_name: Tlv  # 84
    proprietary: Tlv  # A5, a template


def _fci_template(data: bytes) -> _Fci:
    tlvs = parse_ber(data, padding=True)
    if len(tlvs) != 1 or tlvs[0].tag != T_FCI:
        raise DecodeError("FCI is not one 6F template", offset=0)
    fci = tlvs[0]
    df_name = fci.find(T_DF_NAME)
    if df_name is None:
        raise DecodeError("FCI has no DF name (84)", offset=fci.offset)
    a5 = fci.find(T_PROPRIETARY)
    if a5 is None or a5.children is None:
        raise DecodeError("FCI has no proprietary template (A5)", offset=fci.offset)
    return _Fci(fci, df_name, a5)


def _text(pboc, node: Tlv | None) -> str | None:
    if node is None:
        return None
    text = pboc.decode(node.tag, node.value, value_offset(node))
    return text.rstrip(" ") or None


def value_offset(node: Tlv) -> int:
    """Absolute offset of the value bytes of `node` (for error offsets)."""
    tag_len = (node.tag.bit_length() + 7) // 8
    n = len(node.value)
    return node.offset + tag_len + (1 if n < 0x80 else 1 + (n.bit_length() + 7) // 8)


def _priority(node: Tlv | None) -> int | None:
    if node is None:
        return None
    if len(node.value) != 1:
        raise DecodeError(
            f"priority indicator (87) has {len(node.value)} bytes, not 1", offset=node.offset
        )
    return node.value[0] & 0x0F or None  # 0: no priority given


def _log_location(node: Tlv | None, name: str) -> LogLocation | None:
    if node is None:
        return None
    if len(node.value) != 2:
        raise DecodeError(f"{name} has {len(node.value)} bytes, not 2", offset=node.offset)
    sfi, count = node.value
    if not 11 <= sfi <= 30 or count == 0:
        raise DecodeError(
            f"{name} names SFI {sfi} with {count} records (SFI 11–30 and at "
            "least one record expected)",
            offset=node.offset,
        )
    return LogLocation(sfi, count)


def parse_adf_fci(data: bytes, pboc) -> AdfFci:
    fci, df_name, a5 = _fci_template(data)
    aid = df_name.value
    if not 5 <= len(aid) <= 16:
        raise DecodeError(f"DF name of {len(aid)} bytes (5–16 expected)", offset=fci.offset)
    table_node = a5.find(T_CODE_TABLE)
    code_table = (
        int(pboc.decode(T_CODE_TABLE, table_node.value, value_offset(table_node)))
        if table_node
        else None
    )
    pdol_node = a5.find(T_PDOL)
    pdol = parse_dol(pdol_node.value, value_offset(pdol_node)) if pdol_node else None
    bf0c = a5.find(T_DISCRETIONARY)
    if bf0c is not None and bf0c.children is None:
        raise DecodeError("BF0C is not a template", offset=bf0c.offset)
    language = a5.find(T_LANGUAGE)
    return AdfFci(
        aid=aid,
        label=_text(pboc, a5.find(T_LABEL)),
        preferred_name=_text(pboc, a5.find(T_PREFERRED)),
        priority=_priority(a5.find(T_PRIORITY)),
        pdol=pdol,
        language=_text(pboc, language),
        code_table=code_table,
        log=_log_location(bf0c.find(T_LOG_ENTRY) if bf0c else None, "log entry (9F4D)"),
        load_log=_log_location(
            bf0c.find(T_LOAD_LOG_ENTRY) if bf0c else None, "load log entry (DF4D)"
        ),
    )


def parse_pse_fci(data: bytes) -> int:
    """The SFI of the PSE directory (88)."""
    fci, _, a5 = _fci_template(data)
    node = a5.find(T_SFI)
    if node is None or len(node.value) != 1 or not 1 <= node.value[0] <= 10:
        raise DecodeError("PSE FCI has no valid directory SFI (88, 1–10)", offset=fci.offset)
    return node.value[0]


def _entries(templates, pboc) -> tuple[DirectoryEntry, ...]:
    out = []
    for t in templates:
        if t.tag != T_APP_TEMPLATE:
            continue  # anything outside 61 is to be ignored (JR/T 0025.3 tables 44–45)
        if t.children is None:
            raise DecodeError("application template (61) is not constructed", offset=t.offset)
        aid = t.find(T_AID)
        if aid is None:
            continue  # a DDF entry (9D), not an application
        if not 5 <= len(aid.value) <= 16:
            raise DecodeError(f"AID of {len(aid.value)} bytes (5–16 expected)", offset=aid.offset)
        out.append(
            DirectoryEntry(
                aid.value,
                _text(pboc, t.find(T_LABEL)),
                _text(pboc, t.find(T_PREFERRED)),
                _priority(t.find(T_PRIORITY)),
            )
        )
    return tuple(out)


def parse_directory_record(data: bytes, pboc) -> tuple[DirectoryEntry, ...]:
    """One PSE directory record: 70 { 61 {4F, 50, 9F12, 87, 73} … }."""
    tlvs = parse_ber(data, padding=True)
    if len(tlvs) != 1 or tlvs[0].tag != T_RECORD or tlvs[0].children is None:
        raise DecodeError("directory record is not one 70 template", offset=0)
    return _entries(tlvs[0].children, pboc)


def parse_ppse_fci(data: bytes, pboc) -> tuple[DirectoryEntry, ...]:
    """The PPSE FCI: 6F { 84, A5 { BF0C { 61 … } } }."""
    _, _, a5 = _fci_template(data)
    bf0c = a5.find(T_DISCRETIONARY)
    if bf0c is None:
        return ()
    if bf0c.children is None:
        raise DecodeError("BF0C is not a template", offset=bf0c.offset)
    return _entries(bf0c.children, pboc)


def by_priority(entries) -> list:
    """Highest priority first (1 is highest; no priority last), directory order kept."""
    return sorted(entries, key=lambda e: 16 if e.priority is None else e.priority)

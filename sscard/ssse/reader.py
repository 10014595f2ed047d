"""Reading identity from the social security application
(docs/card-facts.md#identity-read-sequence).

SELECT SSSE (parse the FCI: algorithm) → EF05 → generation from the spec version →
unless EF06 needs a key this read does not have, EF06.  On a real card the wire, not
the host, decides the time (9600 bit/s, 5–30 ms per APDU), so each file is read with
one READ RECORD of all its records by SFI (P2 = SFI<<3 | 101, Le = the file's size in
the spec): three APDUs for a whole identity.  The answer is used only when it is
exactly the file the spec describes (every item once, in order, each decoding);
anything else — a refusal of that P2, another size (6Cxx), fewer or other records —
makes the read fall back to SELECT EF + READ RECORD of each item by its tag with the
exact Le, as the vendors' readers do, and the session remembers it, so a card costs
at most one wasted APDU.  Every value is decoded strictly: a malformed record fails
the read, so a half-read card is never returned as complete.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Set
from dataclasses import MISSING, dataclass, field
from dataclasses import fields as dataclass_fields
from typing import TYPE_CHECKING, Any

from sscard import errors
from sscard.codec import tlv
from sscard.codec.card_id import split_card_id
from sscard.findings import finding
from sscard.results import Coded, Finding
from sscard.session import CardSession
from sscard.spec.model import DataItem, ElementaryFile
from sscard.ssse.checks import card_number_check, check_holder, check_issuer
from sscard.ssse.completeness import missing_required
from sscard.ssse.results import (
    Authenticity,
    CardIdentification,
    HolderInfo,
    HolderStatus,
    Identity,
    IssuerInfo,
    Layout,
)
from sscard.ssse.select import select_application

if TYPE_CHECKING:  # a plain read needs no key machinery: imported where authentication starts
    from sscard.auth.keysource import KeySource

P1_REFUSED = (0x6A86, 0x6B00)  # "wrong P1/P2": the only answers that justify a second SELECT form
SW_SECURITY = 0x6982  # access condition not met: the file's answer, whatever the read form


@dataclass(frozen=True)
class IssuerPart:
    """The first half of an identity read: what the card shows without any key."""

    layout: Layout
    algorithm_code: str | None  # FCI 9F0C/86 as read; None when absent
    algorithm: Coded
    generation: int | None
    issuer: IssuerInfo
    findings: tuple[Finding, ...]
    historical_bytes: str | None = None  # 卡复位信息, from the parsed ATR; None: it does not parse
    card_factor: bytes | None = field(default=None, repr=False)  # None: no key can be derived


def read_identity(
    session: CardSession, *, today: _dt.date | None = None, keys: KeySource | None = None
) -> Identity:
    """Read EF05 and, when readable, EF06.  With a key source the card is authenticated:
    it proves itself (INTERNAL AUTHENTICATE) before one EXTERNAL AUTHENTICATE try (never
    repeated) opens EF06 on a generation-3 card."""
    today = today or _dt.date.today()
    part = read_issuer(session, today)
    findings = list(part.findings)
    authentic, opened = Authenticity.NOT_CHECKED, set[str]()
    if keys is not None:
        from sscard.auth.flow import authenticate  # a plain read needs no key machinery

        authentic, opened = authenticate(session, part, keys, findings)
    return finish_identity(session, part, findings, today, authentic, opened)


def read_issuer(session: CardSession, today: _dt.date) -> IssuerPart:
    """SELECT SSSE (algorithm from the FCI), then every EF05 item; nothing needs a key."""
    spec = session.spec
    ssse = spec.ssse
    findings: list[Finding] = []

    layout, fci = select_application(session)
    algorithm_code = None
    if fci:
        code = next(i for i in ssse.fci if i.key == "algorithm").extract(fci)
        algorithm_code = code if isinstance(code, str) else None  # an "an" item: text or None
    if layout is Layout.SSSE and algorithm_code is None:
        findings.append(finding("algorithm_absent"))
    algorithm = _coded(spec, "algorithm", algorithm_code, findings, "algorithm")

    ef05 = ssse.file("ef05")
    values = _read_range(session, ef05, ef05.items) if layout is Layout.SSSE else None
    if values is None:
        if layout is Layout.SSSE:  # the MF-level fallback has already selected EF05
            _select_ef(session, ef05, required=True)
        values = _read_items(session, ef05, ef05.items, findings)
    generation = generation_of(values.get("spec_version"))
    if generation is None:
        findings.append(finding("unknown_version", "spec_version"))

    issuer = _issuer(spec, values, findings)
    findings += check_issuer(issuer, today)
    historical, factor = _atr_parts(session, findings)
    return IssuerPart(
        layout, algorithm_code, algorithm, generation, issuer, tuple(findings), historical, factor
    )


def _atr_parts(session: CardSession, findings: list[Finding]) -> tuple[str | None, bytes | None]:
    """The historical bytes and the card factor of the parsed ATR (apdu_specs/atr.toml).  An
    ATR that does not parse, or has too few historical bytes for the factor, is a finding,
    not a failed read: the card's data does not depend on it, only its keys and the
    卡复位信息 field do."""
    layout = session.spec.atr
    try:
        atr = layout.parse(session.atr)
    except errors.DecodeError as e:
        findings.append(finding("atr_malformed", "atr", e.message))
        return None, None
    if len(atr.historical) != layout.historical_bytes:
        findings.append(
            finding(
                "atr_historical_bytes", "atr", f"{len(atr.historical)} / {layout.historical_bytes}"
            )
        )
    try:
        factor = layout.card_factor(session.atr)
    except errors.DecodeError:
        factor = None  # the count finding above says why
    return atr.historical.hex().upper(), factor


def finish_identity(
    session: CardSession,
    part: IssuerPart,
    findings: list[Finding],
    today: _dt.date,
    authentic: Authenticity = Authenticity.NOT_CHECKED,
    opened: Set[str] = frozenset(),
) -> Identity:
    """The second half: EF06 when it is free or was opened, then the typed result."""
    holder, status, locked_by = _read_holder(
        session, part.layout, part.generation, findings, today, opened
    )
    missing = missing_required(session.spec, part.layout, part.generation, part.issuer, holder)
    findings += [finding("required_missing", key) for key in missing]
    return Identity(
        atr=session.atr.hex().upper(),
        historical_bytes=part.historical_bytes,
        layout=part.layout,
        algorithm=part.algorithm,
        generation=part.generation,
        issuer=part.issuer,
        holder=holder,
        holder_status=status,
        holder_locked_by=locked_by,
        findings=tuple(findings),
        authentic=authentic,
        missing=missing,
    )


def holder_needs_key(session: CardSession, generation: int | None) -> bool:
    """Whether EF06 must be opened by EXTERNAL AUTHENTICATE (an unknown generation: as gen 3)."""
    return not session.spec.ssse.file("ef06").free_to_read(generation or 3)


def generation_of(version: str | None) -> int | None:
    """SC-RW §10.2: the first character of the spec version decides; empty means 1.0."""
    if not version:
        return 1
    return {"1": 1, "2": 2, "3": 3}.get(version[0])


def _select_ef(session: CardSession, ef: ElementaryFile, *, required: bool) -> bool:
    fid = ef.fid.to_bytes(2, "big")
    response = session.send("select_child_ef", data=fid)
    if response.sw in P1_REFUSED:  # cards that only know SELECT with P1 = 00
        response = session.send("select_by_fid", data=fid)
    if response.ok:
        return True
    if response.sw == 0x6A82 and not required:
        return False
    raise session.error_for(response, f"SELECT {ef.key.upper()}")


def _read_range(
    session: CardSession, ef: ElementaryFile, items: tuple[DataItem, ...]
) -> dict | None:
    """All of `items` with one READ RECORD of the records from the first to the last, by
    SFI (no SELECT EF): their values, or None when the per-item read must run instead.

    The SFI and the range codings of P2 are each in the card specification (LD/T 32.5
    Table 32) and each seen on real cards (docs/card-facts.md#read-record); a card that does not
    take them together costs this one APDU, once: the session remembers the refusal and
    never tries again.  Only the file exactly as the spec lays it out is used; the per-item
    read then gives the same values, findings and errors it always gave."""
    if not session.record_ranges:
        return None
    expected = sum(item.record_length for item in items)
    # not re-sent on 6Cxx: a card naming another size holds another file than the spec's,
    # whose answer would not be used anyway (the per-item read tells what differs)
    response = session.send("read_records_from", p1=1, sfi=ef.sfi, le=expected, resend=False)
    if response.sw == SW_SECURITY:
        raise session.error_for(response, f"READ RECORD {ef.key.upper()}")
    values = _decode_range(items, response.data) if response.ok else None
    if values is None:
        session.record_ranges = False
    return values


def _decode_range(items: tuple[DataItem, ...], data: bytes) -> dict | None:
    """Values of `items` from their records back to back; None unless the data is exactly
    those records, in that order, each of its item's length and decoding cleanly."""
    try:
        records = tlv.parse_record(data)
    except errors.DecodeError:
        return None
    if len(records) != len(items):
        return None
    values = {}
    for item, record in zip(items, records, strict=False):
        if record.tag != item.tag or len(record.value) != item.length:
            return None
        try:
            values[item.key] = item.codec.decode(record.value, record.offset + 2)
        except errors.DecodeError:
            return None  # the per-item read raises it, as it always has
    return values


def _read_items(
    session: CardSession, ef: ElementaryFile, items: tuple[DataItem, ...], findings: list[Finding]
) -> dict:
    """Read each item by its tag with the exact Le; a missing record becomes a finding."""
    values: dict[str, object] = {}
    for item in items:
        response = session.send("read_record_by_tag", p1=item.tag, le=item.record_length)
        if response.sw == 0x6A83:
            findings.append(finding("record_missing", item.key))
            values[item.key] = None
            continue
        data = session.check(response, f"READ RECORD {ef.key.upper()} tag {item.tag:02X}")
        values[item.key] = item.decode_record(data)
    return values


def _read_holder(
    session: CardSession,
    layout: Layout,
    generation: int | None,
    findings: list[Finding],
    today: _dt.date,
    opened: Set[str],
) -> tuple[HolderInfo | None, HolderStatus, str | None]:
    ef06 = session.spec.ssse.file("ef06")
    key_needed = ef06.read_access.get(generation) if generation else None
    if key_needed is not None and key_needed != "free" and key_needed not in opened:
        return None, HolderStatus.LOCKED, key_needed  # nothing sent: the card would refuse
    # unknown generation: read what gen 3 holds; 4E missing on older cards is a finding
    items = ef06.items_for(generation or 3)
    try:
        values = _read_range(session, ef06, items) if layout is Layout.SSSE else None
        if values is None:
            if not _select_ef(session, ef06, required=False):
                return None, HolderStatus.ABSENT, None
            values = _read_items(session, ef06, items, findings)
    except errors.SecurityNotSatisfied:
        return None, HolderStatus.LOCKED, ef06.read_access.get(3)
    holder = _holder(session.spec, values, findings)
    findings += check_holder(holder, today)
    return holder, HolderStatus.READ, None


def _coded(spec, table: str, code: str | None, findings: list[Finding], key: str) -> Coded:
    if code is None:
        return Coded(None)
    entry = spec.code_tables[table].get(code)
    if entry is None:
        findings.append(finding("unknown_code", key))
        return Coded(code)
    return Coded(code, entry.en, entry.zh)


def _fields(spec, ef: ElementaryFile, values: dict, findings: list[Finding]) -> dict:
    """The result fields of a record file, from the spec's items: each decoded value under
    its key (with its meaning where the item names a code table); an item that `joins`
    another is appended to it, that item's own value kept under `ef.attribute(key)`."""
    fields: dict[str, Any] = {}
    for item in ef.items:
        value = values.get(item.key)
        if item.values is not None:
            value = _coded(spec, item.values, value, findings, item.key)
        fields[item.key] = value
    for item in ef.items:
        if item.joins is not None:  # SC-RW §10.2: readers present 姓名 then 姓名扩展
            own, extension = fields[item.joins], fields[item.key]
            fields[ef.attribute(item.joins)] = own
            fields[item.joins] = (own or "") + (extension or "") or None
    return fields


def _result(cls, fields: dict):
    """`cls(**fields)`: a spec edited without its result (an item with no field, a field
    with no item) is a SpecError naming them, not a TypeError in the middle of a read."""
    declared = dataclass_fields(cls)
    required = {f.name for f in declared if f.default is MISSING}
    unmatched = sorted((set(fields) - {f.name for f in declared}) | (required - set(fields)))
    if unmatched:
        raise errors.SpecError(
            f"ssse.toml items and the fields of {cls.__name__} differ: {', '.join(unmatched)}"
        )
    return cls(**fields)


def _issuer(spec, values: dict, findings: list[Finding]) -> IssuerInfo:
    fields = _fields(spec, spec.ssse.file("ef05"), values, findings)
    cid_hex = fields["card_identification"]
    if cid_hex:
        parts = split_card_id(bytes.fromhex(cid_hex))
        fields["card_identification"] = CardIdentification(
            parts.hex, parts.region, parts.rid, parts.serial, parts.auth_code
        )
    else:
        fields["card_identification"] = None
    fields["card_number_check"] = card_number_check(fields["card_number"])
    return _result(IssuerInfo, fields)


def _holder(spec, values: dict, findings: list[Finding]) -> HolderInfo:
    return _result(HolderInfo, _fields(spec, spec.ssse.file("ef06"), values, findings))

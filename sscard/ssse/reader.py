"""Reading identity from the social security application (ssc-card.md §5.1).

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
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sscard import errors
from sscard.codec import tlv
from sscard.codec.card_id import split_card_id
from sscard.completeness import missing_required
from sscard.findings import card_number_check, check_holder, check_issuer, finding
from sscard.results import (
    CardIdentification,
    Coded,
    Finding,
    HolderInfo,
    HolderStatus,
    Identity,
    IssuerInfo,
)
from sscard.session import CardSession
from sscard.spec.model import DataItem, ElementaryFile

if TYPE_CHECKING:  # a plain read needs no key machinery: imported where authentication starts
    from sscard.keysource import AuthContext, KeySource

P1_REFUSED = (0x6A86, 0x6B00)  # "wrong P1/P2": the only answers that justify a second SELECT form
CHALLENGE_LENGTH = 8  # GET CHALLENGE Le; the challenge feeds EXTERNAL AUTHENTICATE as is
SW_SECURITY = 0x6982  # access condition not met: the file's answer, whatever the read form


@dataclass(frozen=True)
class IssuerPart:
    """The first half of an identity read: what the card shows without any key."""

    layout: str
    algorithm_code: str | None  # FCI 9F0C/86 as read; None when absent
    algorithm: Coded
    generation: int | None
    issuer: IssuerInfo
    findings: tuple[Finding, ...]
    historical_bytes: str | None = None  # 卡复位信息, from the parsed ATR; None: it does not parse
    card_factor: bytes | None = field(default=None, repr=False)  # None: no key can be derived


@dataclass(frozen=True)
class AuthExchange:
    """The card's half of an authentication, taken before any key is consulted.

    INTERNAL AUTHENTICATE over two terminal randoms (the card's answer is kept, to be
    compared with what the key holder expects) and, when EF06 needs the read key, two
    GET CHALLENGEs: the original data and the live challenge (the process factor) that
    the one EXTERNAL AUTHENTICATE must answer.  No command may reach the card between
    this and that EXTERNAL AUTHENTICATE: it would cost the live challenge.
    """

    context: AuthContext
    internal_random: bytes
    internal_original: bytes
    card_answer: bytes | None = field(repr=False)  # None: the card refused INTERNAL AUTHENTICATE
    external_original: bytes | None = None  # None: EF06 needs no key on this card
    external_challenge: bytes | None = None


def read_identity(
    session: CardSession, *, today: _dt.date | None = None, keys: KeySource | None = None
) -> Identity:
    """Read EF05 and, when readable, EF06.  With a key source the card is authenticated:
    it proves itself (INTERNAL AUTHENTICATE) before one EXTERNAL AUTHENTICATE try (never
    repeated) opens EF06 on a generation-3 card."""
    today = today or _dt.date.today()
    part = read_issuer(session, today)
    findings = list(part.findings)
    authentic, opened = "not checked", set()
    if keys is not None:
        context = key_context(session, part, findings)
        if context is not None:
            exchange = begin_authentication(session, part, context, findings)
            expected = keys.internal_expected(
                context, exchange.internal_random, exchange.internal_original
            )
            authentic, opened = finish_authentication(
                session,
                exchange,
                expected,
                lambda: keys.external_cryptogram(
                    context, exchange.external_challenge, exchange.external_original
                ),
                keys.rk_reference,
                findings,
            )
    return finish_identity(session, part, findings, today, authentic, opened)


def read_issuer(session: CardSession, today: _dt.date) -> IssuerPart:
    """SELECT SSSE (algorithm from the FCI), then every EF05 item; nothing needs a key."""
    spec = session.spec
    ssse = spec.ssse
    findings: list[Finding] = []

    layout, fci = select_application(session)
    algorithm_code = None
    if fci:
        algorithm_code = next(i for i in ssse.fci if i.key == "algorithm").extract(fci)
    if layout == "ssse" and algorithm_code is None:
        findings.append(finding("algorithm_absent"))
    algorithm = _coded(spec, "algorithm", algorithm_code, findings, "algorithm")

    ef05 = ssse.file("ef05")
    values = _read_range(session, ef05, ef05.items) if layout == "ssse" else None
    if values is None:
        if layout == "ssse":  # the MF-level fallback has already selected EF05
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
    authentic: str = "not checked",
    opened: set[str] = frozenset(),
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


def key_context(
    session: CardSession, part: IssuerPart, findings: list[Finding], *, any_algorithm: bool = False
) -> AuthContext | None:
    """What a key holder needs to know about the card, or None (with a finding) when
    this card cannot be authenticated.  `any_algorithm`: the key holder computes SSF33
    too (an HSM or a PSAM); software keys cannot."""
    from sscard.crypto.ciphers import Algorithm, algorithm_from_id
    from sscard.keysource import AuthContext

    algorithm, _assumed = algorithm_from_id(part.algorithm_code)
    cid = part.issuer.card_identification
    if part.layout != "ssse" or cid is None or not cid.region.isdigit():
        findings.append(finding("auth_not_checked"))
        return None
    if algorithm is Algorithm.SSF33 and not any_algorithm:
        findings.append(finding("algorithm_unsupported"))
        return None
    if part.card_factor is None:
        findings.append(
            finding(
                "auth_not_checked",
                "atr",
                "the ATR gives no card factor (historical bytes T6…TD) / ATR 中无卡片分散因子",
            )
        )
        return None
    return AuthContext(algorithm, cid.region, session.atr)


def begin_authentication(
    session: CardSession, part: IssuerPart, context: AuthContext, findings: list[Finding]
) -> AuthExchange:
    """The card's half (see AuthExchange); spends no try of anything."""
    random, original = os.urandom(8), os.urandom(8)
    response = session.send("internal_authenticate", p2=0x00, data=random + original, le=0)
    answer = None
    if response.ok and len(response.data) == 8:
        answer = response.data
    else:
        findings.append(finding("auth_not_checked", detail=f"SW {response.sw:04X}"))
    if not holder_needs_key(session, part.generation):
        return AuthExchange(context, random, original, answer)
    external_original = _challenge(session)
    challenge = _challenge(session)
    return AuthExchange(context, random, original, answer, external_original, challenge)


def _challenge(session: CardSession) -> bytes:
    """One 8-byte GET CHALLENGE; any other length is the card's fault, not the caller's."""
    data = session.check(session.send("get_challenge", le=CHALLENGE_LENGTH), "GET CHALLENGE")
    if len(data) != CHALLENGE_LENGTH:
        raise errors.DecodeError(
            f"the card answered GET CHALLENGE with {len(data)} bytes, not {CHALLENGE_LENGTH}",
            zh="卡片返回的随机数长度错误",
        )
    return data


def finish_authentication(
    session: CardSession,
    exchange: AuthExchange,
    internal_expected: bytes | None,
    external_cryptogram: Callable[[], bytes],
    rk_reference: int,
    findings: list[Finding],
) -> tuple[str, set[str]]:
    """(authentic, keys opened).  The card proves itself before a try of its read key is
    spent: a card whose INTERNAL AUTHENTICATE answer differs from the key holder's is a
    copy or belongs to other keys, and one that did not answer at all proved nothing;
    an EXTERNAL AUTHENTICATE with those keys could only count down its read key.  Then
    at most one EXTERNAL AUTHENTICATE, never repeated.  `internal_expected` None: the
    key holder cannot tell: then no try is spent either (a key source without IRK can only
    tell whether the card is genuine by spending its read key's tries, never by itself)."""
    authentic = "not checked"
    if internal_expected is not None and exchange.card_answer is not None:
        import hmac  # here, not at the top: it loads OpenSSL, which a plain read never needs

        authentic = "yes" if hmac.compare_digest(exchange.card_answer, internal_expected) else "no"
    if authentic == "no":
        findings.append(finding("not_authentic"))
        return authentic, set()
    if exchange.external_challenge is None:
        return authentic, set()  # nothing to open
    if authentic != "yes":
        findings.append(finding("external_auth_not_sent"))
        return authentic, set()
    cryptogram = external_cryptogram()
    response = session.send(
        "external_authenticate", p2=rk_reference, data=cryptogram + exchange.external_original
    )
    if response.ok:
        return authentic, {"RKSSSE"}
    if response.sw == 0x6983:
        findings.append(finding("key_locked", sw=response.sw))
    elif response.tries_left is not None:
        findings.append(
            finding(
                "external_auth_failed",
                sw=response.sw,
                detail=f"{response.tries_left} tries left / 剩余 {response.tries_left} 次",
            )
        )
    else:
        raise session.error_for(response, "EXTERNAL AUTHENTICATE")
    return authentic, set()


def probe(session: CardSession) -> str:
    """Does the card answer as a social security card?  One SELECT, nothing read.

    "yes", "blocked" (application blocked), "card blocked", "mf" (no SSSE name but an
    EF05 under the MF: Shanghai-style), or "no".
    """
    response = session.send("select_by_name", data=session.spec.ssse.name, le=0)
    if response.ok:
        return "yes"
    blocked = _blocked_error(session, response)
    if isinstance(blocked, errors.CardBlocked):
        return "card blocked"
    if blocked is not None:
        return "blocked"
    if response.sw == 0x6A82:
        ef05 = session.spec.ssse.file("ef05").fid.to_bytes(2, "big")
        if session.send("select_child_ef", data=ef05).ok:
            return "mf"
    return "no"


def generation_of(version: str | None) -> int | None:
    """SC-RW §10.2: the first character of the spec version decides; empty means 1.0."""
    if not version:
        return 1
    return {"1": 1, "2": 2, "3": 3}.get(version[0])


def select_application(session: CardSession) -> tuple[str, bytes]:
    """Select the SSSE; fall back to an MF-level EF05 (Shanghai-style) on 6A82.  The one
    rule for every command (read, status, pin): ("ssse", FCI) or ("mf", b"") with the MF
    the current DF, or NotSocialSecurityCard."""
    response = session.send("select_by_name", data=session.spec.ssse.name, le=0)
    if response.ok:
        df_name = (
            next(i for i in session.spec.ssse.fci if i.key == "df_name").extract(response.data)
            if response.data
            else None
        )
        if df_name is not None and bytes.fromhex(df_name) != session.spec.ssse.name:
            raise errors.NotSocialSecurityCard("the card selected an application with another name")
        return "ssse", response.data
    if response.sw == 0x6A82:
        probe = session.send(
            "select_child_ef", data=session.spec.ssse.file("ef05").fid.to_bytes(2, "big")
        )
        if probe.ok:
            return "mf", b""
    raise select_refused(session, response)


def _blocked_error(session: CardSession, response) -> errors.CommandError | None:
    error = session.error_for(response, "SELECT social security application")
    return error if error.sw_class == "blocked" else None


def select_refused(session: CardSession, response) -> errors.SscardError:
    """The error for a refused SELECT of the social security application (the rule in
    sscard.errors): a blocked answer (6283, 9303, 6A81) is the blocked application or card;
    any other means the card has no social security application."""
    blocked = _blocked_error(session, response)
    if blocked is not None:
        return blocked
    return errors.NotSocialSecurityCard(f"no social security application (SW {response.sw:04X})")


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
    Table 32) and each seen on real cards (ssc-card.md §5, §14.2); a card that does not
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
    values = {}
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
    layout: str,
    generation: int | None,
    findings: list[Finding],
    today: _dt.date,
    opened: set[str],
) -> tuple[HolderInfo | None, HolderStatus, str | None]:
    ef06 = session.spec.ssse.file("ef06")
    key_needed = ef06.read_access.get(generation) if generation else None
    if key_needed is not None and key_needed != "free" and key_needed not in opened:
        return None, HolderStatus.LOCKED, key_needed  # nothing sent: the card would refuse
    # unknown generation: read what gen 3 holds; 4E missing on older cards is a finding
    items = ef06.items_for(generation or 3)
    try:
        values = _read_range(session, ef06, items) if layout == "ssse" else None
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


def _issuer(spec, values: dict, findings: list[Finding]) -> IssuerInfo:
    cid_hex = values.get("card_identification")
    cid = None
    if cid_hex:
        parts = split_card_id(bytes.fromhex(cid_hex))
        cid = CardIdentification(parts.hex, parts.region, parts.rid, parts.serial, parts.auth_code)
    number = values.get("card_number")
    return IssuerInfo(
        card_identification=cid,
        card_type=_coded(spec, "card_type", values.get("card_type"), findings, "card_type"),
        spec_version=values.get("spec_version"),
        initialising_institution=values.get("initialising_institution"),
        issue_date=values.get("issue_date"),
        expiry_date=values.get("expiry_date"),
        card_number=number,
        card_number_check=card_number_check(number),
    )


def _holder(spec, values: dict, findings: list[Finding]) -> HolderInfo:
    name, extension = values.get("name"), values.get("name_extension")
    full = (name or "") + (extension or "")  # SC-RW §10.2: readers concatenate 09 and 4E
    return HolderInfo(
        social_security_number=values.get("social_security_number"),
        name=full or None,
        name_record=name,
        name_extension=extension,
        sex=_coded(spec, "sex", values.get("sex"), findings, "sex"),
        ethnicity=_coded(spec, "ethnicity", values.get("ethnicity"), findings, "ethnicity"),
        birthplace=values.get("birthplace"),
        birth_date=values.get("birth_date"),
    )

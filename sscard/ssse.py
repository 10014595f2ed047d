"""Reading identity from the social security application (ssc-card.md §5.1).

SELECT SSSE (parse the FCI: algorithm) → SELECT EF05 → READ RECORD of every EF05
item by its tag with the exact Le → generation from the spec version → unless EF06
needs a key this read does not have, SELECT EF06 and read its items the same way.
Every value is decoded strictly: a malformed record fails the read, so a half-read
card is never returned as complete.
"""

from __future__ import annotations

import datetime as _dt
import hmac
import os

from sscard import errors
from sscard.crypto.ciphers import Algorithm, algorithm_from_id
from sscard.keysource import AuthContext, KeySource
from sscard.codec.card_id import split_card_id
from sscard.findings import card_number_check, check_holder, check_issuer, finding
from sscard.results import (CardIdentification, Coded, Finding, HolderInfo, HolderStatus,
                            Identity, IssuerInfo)
from sscard.session import CardSession
from sscard.spec.model import DataItem, ElementaryFile

P1_REFUSED = (0x6A86, 0x6B00)  # "wrong P1/P2": the only answers that justify a second SELECT form
ATR_HISTORICAL_BYTES = 13  # SSC ATRs carry 13 historical bytes (ssc-card.md §2.1)


def read_identity(session: CardSession, *, today: _dt.date | None = None,
                  keys: KeySource | None = None) -> Identity:
    """Read EF05 and, when readable, EF06.  With a key source the card is authenticated:
    INTERNAL AUTHENTICATE first (is it genuine, and do the keys belong to it?), and only then
    EXTERNAL AUTHENTICATE (one try, never repeated) to open EF06 on a generation-3 card."""
    today = today or _dt.date.today()
    spec = session.spec
    ssse = spec.ssse
    findings: list[Finding] = []

    layout, fci = _select_application(session)
    algorithm_code = None
    if fci:
        algorithm_code = next(i for i in ssse.fci if i.key == "algorithm").extract(fci)
    if layout == "ssse" and algorithm_code is None:
        findings.append(finding("algorithm_absent"))
    algorithm = _coded(spec, "algorithm", algorithm_code, findings, "algorithm")

    ef05 = ssse.file("ef05")
    if layout == "ssse":  # the MF-level fallback has already selected EF05
        _select_ef(session, ef05, required=True)
    values = _read_items(session, ef05, ef05.items, findings)
    generation = generation_of(values.get("spec_version"))
    if generation is None:
        findings.append(finding("unknown_version", "spec_version"))

    issuer = _issuer(spec, values, findings)
    findings += check_issuer(issuer, today)

    authentic, opened = "not checked", set()
    if keys is not None and layout == "ssse":
        authentic, opened = _authenticate(session, keys, algorithm_code, issuer, generation,
                                          findings)
    holder, status, locked_by = _read_holder(session, generation, findings, today, opened)
    atr = session.atr
    return Identity(
        atr=atr.hex().upper(), historical_bytes=atr[-ATR_HISTORICAL_BYTES:].hex().upper(),
        layout=layout, algorithm=algorithm, generation=generation, issuer=issuer,
        holder=holder, holder_status=status, holder_locked_by=locked_by,
        findings=tuple(findings), authentic=authentic)


def _authenticate(session: CardSession, keys: KeySource, algorithm_code: str | None,
                  issuer: IssuerInfo, generation: int | None,
                  findings: list[Finding]) -> tuple[str, set[str]]:
    """(authentic, keys opened).  The card proves itself before we spend a try of its key:
    a card that fails INTERNAL AUTHENTICATE is a copy or belongs to other keys, and an
    EXTERNAL AUTHENTICATE with those keys could only count down its read key."""
    algorithm, _assumed = algorithm_from_id(algorithm_code)
    cid = issuer.card_identification
    if algorithm is Algorithm.SSF33 or cid is None or not cid.region.isdigit():
        findings.append(finding("algorithm_unsupported" if algorithm is Algorithm.SSF33
                                else "auth_not_checked"))
        return "not checked", set()
    card = AuthContext(algorithm, cid.region, session.atr)
    authentic = "not checked"
    random, original = os.urandom(8), os.urandom(8)
    expected = keys.internal_expected(card, random, original)
    if expected is not None:
        response = session.send("internal_authenticate", p2=0x00, data=random + original, le=0)
        if response.ok and len(response.data) == 8:
            authentic = "yes" if hmac.compare_digest(response.data, expected) else "no"
        else:
            findings.append(finding("auth_not_checked", detail=f"SW {response.sw:04X}"))
    if authentic == "no":
        findings.append(finding("not_authentic"))
        return authentic, set()
    ef06 = session.spec.ssse.file("ef06")
    if ef06.free_to_read(generation or 3):
        return authentic, set()  # nothing to open
    original = session.check(session.send("get_challenge", le=8), "GET CHALLENGE")
    challenge = session.check(session.send("get_challenge", le=8), "GET CHALLENGE")
    cryptogram = keys.external_cryptogram(card, challenge, original)
    response = session.send("external_authenticate", p2=keys.rk_reference,
                            data=cryptogram + original)
    if response.ok:
        return authentic, {"RKSSSE"}
    if response.sw == 0x6983:
        findings.append(finding("key_locked"))
    elif response.tries_left is not None:
        findings.append(finding("external_auth_failed",
                                detail=f"{response.tries_left} tries left / 剩余 {response.tries_left} 次"))
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
    if response.sw == 0x9303:
        return "blocked"
    if response.sw == 0x6A81:
        return "card blocked"
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


def _select_application(session: CardSession) -> tuple[str, bytes]:
    """Select the SSSE; fall back to an MF-level EF05 (Shanghai-style) on 6A82."""
    response = session.send("select_by_name", data=session.spec.ssse.name, le=0)
    if response.ok:
        df_name = next(i for i in session.spec.ssse.fci if i.key == "df_name").extract(response.data) \
            if response.data else None
        if df_name is not None and bytes.fromhex(df_name) != session.spec.ssse.name:
            raise errors.NotSocialSecurityCard("the card selected an application with another name")
        return "ssse", response.data
    if response.sw in (0x9303, 0x6A81):
        error = session.error_for(response, "SELECT social security application")
        raise error
    if response.sw == 0x6A82:
        probe = session.send("select_child_ef", data=session.spec.ssse.file("ef05").fid.to_bytes(2, "big"))
        if probe.ok:
            return "mf", b""
    raise errors.NotSocialSecurityCard(
        f"no social security application (SW {response.sw:04X})")


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


def _read_items(session: CardSession, ef: ElementaryFile, items: tuple[DataItem, ...],
                findings: list[Finding]) -> dict:
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


def _read_holder(session: CardSession, generation: int | None, findings: list[Finding],
                 today: _dt.date, opened: set[str]) -> tuple[HolderInfo | None, HolderStatus, str | None]:
    ef06 = session.spec.ssse.file("ef06")
    key_needed = ef06.read_access.get(generation) if generation else None
    if key_needed is not None and key_needed != "free" and key_needed not in opened:
        return None, HolderStatus.LOCKED, key_needed
    if not _select_ef(session, ef06, required=False):
        return None, HolderStatus.ABSENT, None
    # unknown generation: read what gen 3 holds; 4E missing on older cards is a finding
    items = ef06.items_for(generation or 3)
    try:
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
        issue_date=values.get("issue_date"), expiry_date=values.get("expiry_date"),
        card_number=number, card_number_check=card_number_check(number))


def _holder(spec, values: dict, findings: list[Finding]) -> HolderInfo:
    name, extension = values.get("name"), values.get("name_extension")
    full = (name or "") + (extension or "")  # SC-RW §10.2: readers concatenate 09 and 4E
    return HolderInfo(
        social_security_number=values.get("social_security_number"),
        name=full or None, name_record=name, name_extension=extension,
        sex=_coded(spec, "sex", values.get("sex"), findings, "sex"),
        ethnicity=_coded(spec, "ethnicity", values.get("ethnicity"), findings, "ethnicity"),
        birthplace=values.get("birthplace"), birth_date=values.get("birth_date"))

"""The authentication flow every key source shares (software keys, a PSAM, an HSM).

The card proves itself first (INTERNAL AUTHENTICATE, compared with what the key holder
expects); only then is at most one EXTERNAL AUTHENTICATE sent, never repeated, to open EF06
on a generation-3 card.  `sscard.auth.hsm` runs the same steps split in two, with the
HSM's answer in between.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

from sscard import errors
from sscard.findings import finding
from sscard.results import Finding
from sscard.session import CardSession
from sscard.ssse.reader import IssuerPart, holder_needs_key
from sscard.ssse.results import Authenticity, Layout

if TYPE_CHECKING:
    from sscard.auth.keysource import AuthContext, KeySource

CHALLENGE_LENGTH = 8  # GET CHALLENGE Le; the challenge feeds EXTERNAL AUTHENTICATE as is


class ExternalChallenge(NamedTuple):
    """The two GET CHALLENGEs that EXTERNAL AUTHENTICATE answers."""

    original: bytes  # the first: the original data, sent back with the cryptogram
    challenge: bytes  # the second, live on the card: the process factor


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
    external: ExternalChallenge | None = None  # None: EF06 needs no key on this card


def authenticate(
    session: CardSession, part: IssuerPart, keys: KeySource, findings: list[Finding]
) -> tuple[Authenticity, set[str]]:
    """(authentic, keys opened) with a key source that answers at once (software keys, a
    PSAM): the card proves itself, then at most one EXTERNAL AUTHENTICATE try."""
    context = key_context(session, part, findings)
    if context is None:
        return Authenticity.NOT_CHECKED, set()
    exchange = begin_authentication(session, part, context, findings)
    expected = keys.internal_expected(context, exchange.internal_random, exchange.internal_original)
    return finish_authentication(
        session,
        exchange,
        expected,
        lambda external: keys.external_cryptogram(context, external.challenge, external.original),
        keys.rk_reference,
        findings,
    )


def key_context(
    session: CardSession, part: IssuerPart, findings: list[Finding], *, any_algorithm: bool = False
) -> AuthContext | None:
    """What a key holder needs to know about the card, or None (with a finding) when
    this card cannot be authenticated.  `any_algorithm`: the key holder computes SSF33
    too (an HSM or a PSAM); software keys cannot."""
    from sscard.auth.keysource import AuthContext
    from sscard.crypto.ciphers import Algorithm, algorithm_from_id

    algorithm, _assumed = algorithm_from_id(part.algorithm_code)
    cid = part.issuer.card_identification
    if part.layout is not Layout.SSSE or cid is None or not cid.region.isdigit():
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
    return AuthExchange(
        context, random, original, answer, ExternalChallenge(external_original, challenge)
    )


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
    external_cryptogram: Callable[[ExternalChallenge], bytes],
    rk_reference: int,
    findings: list[Finding],
) -> tuple[Authenticity, set[str]]:
    """(authentic, keys opened).  The card proves itself before a try of its read key is
    spent: a card whose INTERNAL AUTHENTICATE answer differs from the key holder's is a
    copy or belongs to other keys, and one that did not answer at all proved nothing;
    an EXTERNAL AUTHENTICATE with those keys could only count down its read key.  Then
    at most one EXTERNAL AUTHENTICATE, never repeated.  `internal_expected` None: the
    key holder cannot tell: then no try is spent either (a key source without IRK can only
    tell whether the card is genuine by spending its read key's tries, never by itself)."""
    authentic = Authenticity.NOT_CHECKED
    if internal_expected is not None and exchange.card_answer is not None:
        import hmac  # here, not at the top: it loads OpenSSL, which a plain read never needs

        same = hmac.compare_digest(exchange.card_answer, internal_expected)
        authentic = Authenticity.YES if same else Authenticity.NO
    if authentic is Authenticity.NO:
        findings.append(finding("not_authentic"))
        return authentic, set()
    external = exchange.external
    if external is None:
        return authentic, set()  # nothing to open
    if authentic is not Authenticity.YES:
        findings.append(finding("external_auth_not_sent"))
        return authentic, set()
    cryptogram = external_cryptogram(external)
    response = session.send(
        "external_authenticate", p2=rk_reference, data=cryptogram + external.original
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

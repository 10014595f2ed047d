"""Two-step read with a platform HSM (加密机): iReadCardBas_HSM_Step1/2
(docs/card-facts.md#hsm-two-step-read).

Kiosks without a PSAM let the card platform's HSM compute the cryptograms, which never
needs the card keys outside the HSM:

Step 1  read EF05, let the card answer INTERNAL AUTHENTICATE over two terminal randoms
        (its answer stays here) and, on a generation-3 card, take two challenges: the
        original data and the live one.  The HSM gets
        `区划代码|卡复位信息|算法标识|卡识别码|内部认证过程因子|内部认证原始信息|外部认证过程因子|外部认证原始信息|`
        (external items empty when EF06 needs no key).
Step 2  the HSM answers `pKey = internal result ‖ original | external cryptogram ‖ original |`
        (16 hex digits each).  The card's answer is compared with the HSM's: a card that
        does not match is not genuine (or not of this platform) and no try of its read key
        is spent on it.  Otherwise one EXTERNAL AUTHENTICATE with the HSM's cryptogram,
        never repeated, opens EF06.

The live challenge exists only on the powered card: no command may reach it between the
steps, a reset loses it, and a Step 1 serves one Step 2.  `sscard.card.Card.hsm_step1()` and
`hsm_step2()` enforce this; the functions here are the card-side halves.
"""

from __future__ import annotations

import datetime as _dt
import string
from dataclasses import dataclass, field

from sscard import errors
from sscard.auth.flow import (
    AuthExchange,
    ExternalChallenge,
    begin_authentication,
    finish_authentication,
    key_context,
)
from sscard.ireadcardbas import join_fields
from sscard.results import Finding
from sscard.session import CardSession
from sscard.ssse.reader import IssuerPart, finish_identity, read_issuer
from sscard.ssse.results import Identity, Layout

RK_REFERENCE = 0x0A  # RKSSSE, the card-side key reference of EXTERNAL AUTHENTICATE (§6.1)
PKEY_MAX = 128  # the interface's pKey buffer
_PART = 32  # hex digits: 8 bytes of result ‖ 8 bytes of original data
_FORMAT = (
    "'internal result‖original|external cryptogram‖original|', 32 hex digits per "
    "item, the external item empty when Step 1 asked for none"
)


@dataclass(frozen=True)
class HsmStep1:
    """What Step 1 hands to the HSM (hex strings, as in the national interface), and,
    privately, what Step 2 needs: the card's INTERNAL AUTHENTICATE answer never leaves."""

    region: str  # 区划代码: the first 6 digits of 卡识别码
    historical_bytes: str  # 卡复位信息: the ATR's 13 historical bytes (the card factor)
    algorithm: str  # 算法标识: FCI code, or "01" when the card names none (§14.3)
    card_identification: str = field(repr=False)  # 卡识别码 (personal: kept out of repr)
    internal_factor: str  # 内部认证过程因子
    internal_original: str  # 内部认证原始信息
    external_factor: str  # 外部认证过程因子: the card's live challenge ("" = none needed)
    external_original: str  # 外部认证原始信息
    atr: bytes = field(repr=False)
    _exchange: AuthExchange = field(repr=False, compare=False)
    _part: IssuerPart = field(repr=False, compare=False)
    _findings: tuple[Finding, ...] = field(repr=False, compare=False)
    _owner: object = field(repr=False, compare=False)  # the session that holds the challenge

    @property
    def needs_external(self) -> bool:
        """Whether EF06 is behind RKSSSE (a generation-3 card)."""
        return bool(self.external_factor)

    def to_string(self) -> str:
        """The national iReadCardBas_HSM_Step1 output: 8 items, each followed by `|`."""
        items = (
            self.region,
            self.historical_bytes,
            self.algorithm,
            self.card_identification,
            self.internal_factor,
            self.internal_original,
            self.external_factor,
            self.external_original,
        )
        return join_fields(list(items))


@dataclass(frozen=True)
class HsmAnswer:
    """The HSM's answer (pKey), parsed; repr never shows the cryptograms."""

    internal_result: bytes = field(repr=False)
    internal_original: bytes
    external_cryptogram: bytes | None = field(repr=False)
    external_original: bytes | None


def parse_answer(text: str) -> HsmAnswer:
    """Parse pKey strictly; errors say what is wrong, never what was given."""
    if not isinstance(text, str):
        raise errors.HsmAnswerInvalid("the HSM answer is not text")
    text = text.strip()
    if len(text) > PKEY_MAX:
        raise errors.HsmAnswerInvalid(f"the HSM answer is longer than {PKEY_MAX} characters")
    if not text:
        raise errors.HsmAnswerInvalid("the HSM answer is empty")
    if not text.endswith("|"):
        raise errors.HsmAnswerInvalid(f"the HSM answer must end with '|': expected {_FORMAT}")
    items = text[:-1].split("|")
    if len(items) > 2:
        raise errors.HsmAnswerInvalid(
            f"the HSM answer has {len(items)} items, not 2: expected {_FORMAT}"
        )
    internal = _hex_item(items[0], "internal authentication")
    external = (
        _hex_item(items[1], "external authentication") if len(items) == 2 and items[1] else None
    )
    return HsmAnswer(
        internal[:8],
        internal[8:],
        external[:8] if external else None,
        external[8:] if external else None,
    )


def _hex_item(item: str, what: str) -> bytes:
    if len(item) != _PART or any(c not in string.hexdigits for c in item):
        raise errors.HsmAnswerInvalid(
            f"the {what} item of the HSM answer is not {_PART} hex digits: expected {_FORMAT}"
        )
    return bytes.fromhex(item)


def check_answer(step1: HsmStep1, answer: HsmAnswer) -> None:
    """The answer must be the HSM's for this very Step 1 (its original data), and carry an
    external cryptogram exactly when Step 1 asked for one.  Nothing is sent."""
    if answer.internal_original.hex().upper() != step1.internal_original:
        raise errors.HsmAnswerMismatch(
            "the internal-authentication original data of the HSM "
            "answer is not the one of this Step 1"
        )
    if step1.needs_external and answer.external_cryptogram is None:
        raise errors.HsmAnswerMismatch(
            "Step 1 asked for external authentication (a "
            "generation-3 card) but the HSM answer has none"
        )
    if not step1.needs_external and answer.external_cryptogram is not None:
        raise errors.HsmAnswerMismatch(
            "the HSM answer carries external authentication data that Step 1 did not ask for"
        )
    external_original = (answer.external_original or b"").hex().upper()
    if step1.needs_external and external_original != step1.external_original:
        raise errors.HsmAnswerMismatch(
            "the external-authentication original data of the HSM "
            "answer is not the one of this Step 1"
        )


def step1(session: CardSession, today: _dt.date) -> HsmStep1:
    """SELECT SSSE, EF05, INTERNAL AUTHENTICATE and, when EF06 needs the read key, the two
    challenges.  Spends no try; the last command is the live GET CHALLENGE."""
    part = read_issuer(session, today)
    if part.layout is not Layout.SSSE:
        raise errors.HsmNotNeeded(
            "this card keeps EF05 under the MF and has no social "
            "security application to authenticate: read it directly"
        )
    findings = list(part.findings)
    if part.card_factor is None:  # the HSM derives the card key from the ATR
        session.spec.atr.card_factor(session.atr)  # raises the DecodeError that says why
    context = key_context(session, part, findings, any_algorithm=True)
    cid = part.issuer.card_identification
    if context is None or cid is None or part.historical_bytes is None:  # both set with a context
        raise errors.DecodeError(
            "the card identification code has no 6-digit region code: "
            "an HSM cannot derive this card's keys",
            zh="卡识别码中无 6 位区划代码，加密机无法分散密钥",
        )
    exchange = begin_authentication(session, part, context, findings)
    external = exchange.external

    def hex_(value: bytes | None) -> str:
        return value.hex().upper() if value else ""

    return HsmStep1(
        region=cid.region,
        historical_bytes=part.historical_bytes,
        algorithm=context.algorithm.code,
        card_identification=cid.hex.upper(),
        internal_factor=hex_(exchange.internal_random),
        internal_original=hex_(exchange.internal_original),
        external_factor=hex_(external.challenge if external else None),
        external_original=hex_(external.original if external else None),
        atr=session.atr,
        _exchange=exchange,
        _part=part,
        _findings=tuple(findings),
        _owner=session,
    )


def step2(session: CardSession, step1: HsmStep1, answer: HsmAnswer, today: _dt.date) -> Identity:
    """Compare, then at most one EXTERNAL AUTHENTICATE (the first command sent), then EF06.
    `check_answer` must have passed."""
    findings = list(step1._findings)

    def cryptogram(_: ExternalChallenge) -> bytes:
        if answer.external_cryptogram is None:  # check_answer refuses such an answer
            raise errors.HsmAnswerMismatch("Step 1 asked for external authentication")
        return answer.external_cryptogram

    authentic, opened = finish_authentication(
        session, step1._exchange, answer.internal_result, cryptogram, RK_REFERENCE, findings
    )
    return finish_identity(session, step1._part, findings, today, authentic, opened)

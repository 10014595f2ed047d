"""PIN tries, VERIFY and CHANGE PIN of the social security application, with a safety floor.

Rules (never relaxed by any caller):
- the tries left are asked first with an empty VERIFY, which spends nothing; an answer
  that is not 63Cx / 6983 / 9000 means "unknown", never a number;
- no VERIFY is sent when the tries left are at or below the floor (default 1: the last
  try is kept for the bank or the social security office), or unknown, unless the
  caller explicitly forces it;
- one attempt per call: a wrong PIN raises WrongPin with the tries left; nothing retries;
- a card that needs no PIN now (9000 to the empty VERIFY) gets nothing: verify() then says
  so in its outcome (VerifyOutcome.NOT_SENT), never as a success;
- the PIN travels only in the APDU body, which the spec marks sensitive (hidden in traces
  and recordings), and never in an exception or a log.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import NamedTuple

from sscard import errors
from sscard.session import CardSession
from sscard.ssse.results import Layout

DEFAULT_FLOOR = 1
MIN_DIGITS, MAX_DIGITS = 4, 16  # VERIFY Lc 02–08 (LD/T 32.5)


class PinTries(NamedTuple):
    tries_left: int | None  # None: the card did not say
    blocked: bool
    required: bool  # False: the card answered 9000 (no PIN set, or already verified)
    sw: int
    unexpected_data: bool = False  # the empty VERIFY was answered with data: tries unknown

    @property
    def known(self) -> bool:
        return self.tries_left is not None or not self.required


class VerifyOutcome(Enum):
    """What verify() did.  There is no success without a PIN on the wire."""

    VERIFIED = "verified"  # the PIN was sent and the card accepted it
    NOT_SENT = "not_sent"  # nothing was sent: the card needs no PIN now; the PIN is unchecked


@dataclass(frozen=True)
class PinVerification:
    """The result of verify(): `outcome` says whether the PIN was sent and accepted.

    Truth-testing it is a TypeError: `if card.verify_pin(...)` cannot be mistaken for
    "the PIN is right" — compare `outcome` (or use `.verified`)."""

    outcome: VerifyOutcome
    tries_before: PinTries  # the tries known before (the empty VERIFY's answer)

    @property
    def verified(self) -> bool:
        return self.outcome is VerifyOutcome.VERIFIED

    def __bool__(self) -> bool:
        raise TypeError(
            "a PinVerification has no truth value: compare its outcome "
            "(VerifyOutcome.VERIFIED or VerifyOutcome.NOT_SENT)"
        )


def encode_pin(pin: str) -> bytes:
    """cn encoding: BCD digits, padded with F (an odd count ends in a single F nibble)."""
    if not (
        isinstance(pin, str)
        and pin.isascii()
        and pin.isdigit()
        and MIN_DIGITS <= len(pin) <= MAX_DIGITS
    ):
        raise errors.InvalidPin()
    return bytes.fromhex(pin + "F" * (len(pin) % 2))


def _select(session: CardSession) -> Layout:
    """The application holding the PIN, by the same rule as an identity read: the SSSE, or
    the MF of a Shanghai-style card (EF05 under the MF); its layout."""
    from sscard.ssse.select import select_application

    layout, _fci = select_application(session)
    return layout


def query_tries(
    session: CardSession, *, select: bool = True, layout: Layout = Layout.SSSE
) -> PinTries:
    """The PIN tries left, from an empty VERIFY (spends no try).

    On a Shanghai-style card (layout "mf": no SSSE, EF05 under the MF) the PIN is asked in
    the MF; an answer there other than 63Cx / 6983 / 9000 means the card keeps no PIN in
    its MF: NotOffered (exit 16), never "not a social security card"."""
    if select:
        layout = _select(session)
    response = session.send("verify_tries")
    sw = response.sw
    if response.data:  # an empty VERIFY is answered by a status word alone
        return PinTries(None, False, True, sw, unexpected_data=True)
    if sw & 0xFFF0 == 0x63C0:
        return PinTries(sw & 0x0F, sw == 0x63C0, True, sw)
    if sw == 0x6983:
        return PinTries(0, True, True, sw)
    if sw == 0x9000:
        return PinTries(None, False, False, sw)
    if layout is Layout.MF:
        raise errors.NotOffered(
            f"this card has no social security application (EF05 under the MF, Shanghai-style) "
            f"and answers the PIN query in its MF with SW {sw:04X}: it offers no PIN to query, "
            "verify or change",
            zh=f"此卡无社会保障应用（EF05 位于 MF 下，上海式卡），MF 下的"
            f"密码查询返回 {sw:04X}：本卡不提供个人密码的查询、校验或修改",
        )
    return PinTries(None, False, True, sw)  # ambiguous: unknown, not a number


def _guard(tries: PinTries, floor: int, force_last_try: bool) -> None:
    if tries.blocked:
        raise errors.PinBlocked()
    if force_last_try:
        return
    if tries.tries_left is None and tries.required:
        answer = f"SW {tries.sw:04X}" + (" with unexpected data" if tries.unexpected_data else "")
        raise errors.PinRefused(
            f"VERIFY not sent: the card did not tell the tries left ({answer}); "
            "use --force-last-try only if you know them",
            tries_left=None,
            zh="未发送校验：卡片未返回剩余次数",
        )
    if tries.tries_left is not None and tries.tries_left <= floor:
        raise errors.PinRefused(
            f"VERIFY not sent: {tries.tries_left} tries left, at or below the floor of {floor} "
            "(one more wrong PIN could block the card); use --force-last-try to try anyway",
            tries_left=tries.tries_left,
            zh=f"未发送校验：剩余 {tries.tries_left} 次，已到安全下限 {floor}",
        )


def _result(session: CardSession, response, command: str) -> None:
    sw = response.sw
    if sw == 0x9000:
        return
    if sw & 0xFFF0 == 0x63C0:
        if sw == 0x63C0:
            raise errors.PinBlocked("wrong PIN: the PIN is now blocked")
        raise errors.WrongPin(sw & 0x0F)
    if sw == 0x6983:
        raise errors.PinBlocked()
    raise session.error_for(response, command)


def would_send(
    tries: PinTries, *, floor: int = DEFAULT_FLOOR, force_last_try: bool = False
) -> bool:
    """Whether verify() would send a PIN to a card that answered `tries`: True; False when
    the card needs no PIN now (nothing would be sent).  Raises PinBlocked or PinRefused when
    the guard refuses.  Lets a caller check everything before asking anyone for a PIN."""
    if not tries.required:  # 9000 alone: no PIN set, or verified already
        return False
    _guard(tries, floor, force_last_try)
    return True


def verify(
    session: CardSession, pin: str, *, floor: int = DEFAULT_FLOOR, force_last_try: bool = False
) -> PinVerification:
    """Verify the PIN once.  Returns a PinVerification: VERIFIED (sent and accepted) or
    NOT_SENT (the card needs no PIN now: nothing was sent, the PIN is unchecked).  Raises
    WrongPin, PinBlocked, PinRefused (nothing sent) or a card error."""
    body = encode_pin(pin)
    tries = query_tries(session)
    if not would_send(tries, floor=floor, force_last_try=force_last_try):
        return PinVerification(VerifyOutcome.NOT_SENT, tries)
    _result(session, session.send("verify", data=body), "VERIFY")
    return PinVerification(VerifyOutcome.VERIFIED, tries)


def check_change(
    tries: PinTries, *, floor: int = DEFAULT_FLOOR, force_last_try: bool = False
) -> None:
    """Raise PinBlocked or PinRefused when change() would refuse a card that answered
    `tries`; lets a caller check before asking anyone for the PINs."""
    if not tries.required and not force_last_try:
        # 9000 to the empty VERIFY: no PIN, or verified already — either way the tries
        # left are unknown, and a wrong old PIN would spend one
        raise errors.PinRefused(
            "CHANGE PIN not sent: the card did not tell the tries left "
            f"(SW {tries.sw:04X}: no PIN set, or already verified)",
            zh="卡片未告知剩余次数，未发送修改密码指令",
        )
    _guard(tries, floor, force_last_try)


def change(
    session: CardSession,
    old: str,
    new: str,
    *,
    floor: int = DEFAULT_FLOOR,
    force_last_try: bool = False,
) -> None:
    """CHANGE PIN (80 5E 01 00, old ‖ FF ‖ new): one attempt, guarded like verify()."""
    body = encode_pin(old) + b"\xff" + encode_pin(new)
    check_change(query_tries(session), floor=floor, force_last_try=force_last_try)
    _result(session, session.send("change_pin", data=body), "CHANGE PIN")

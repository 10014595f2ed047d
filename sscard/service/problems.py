"""Errors as the service answers them: a stable code, the national interface's code, both
languages and the HTTP status that fits.

    {"error": {"code": "no_card", "national_code": -2, "en": "No card in the reader.",
               "zh": "读卡器中无卡", "exit_code": 4}}

The codes are part of the API: pages switch on them, so they never change meaning.  The texts
come from `sscard.errors` (which never carry personal data, PINs or keys).
"""

from __future__ import annotations

from sscard import errors, ireadcardbas
from sscard.service.workers import ReaderBusy


class ServiceError(errors.SscardError):
    """A request the service refuses by itself (not the card's answer)."""

    def __init__(
        self, code: str, status: int, message: str, zh: str, national_code: int = -14
    ) -> None:
        super().__init__(message, zh=zh)
        self.code, self.status, self.national_code = code, status, national_code


class RequestTimeout(errors.SscardError):
    """The card operation did not finish in time."""

    exit_code = errors.ExitCode.COMMUNICATION


# (class, stable code, HTTP status), most specific first
_TABLE: list[tuple[type[errors.SscardError], str, int]] = [
    (ReaderBusy, "busy", 429),
    (RequestTimeout, "timeout", 504),
    (errors.HsmNotNeeded, "hsm_not_needed", 409),
    (errors.HsmChallengeLost, "hsm_challenge_lost", 409),
    (errors.HsmCardMismatch, "hsm_card_mismatch", 409),
    (errors.HsmAnswerMismatch, "hsm_answer_mismatch", 400),
    (errors.HsmAnswerInvalid, "hsm_answer_invalid", 400),
    (errors.InvalidArgument, "invalid_argument", 400),
    (errors.SpecError, "spec_error", 500),
    (errors.ServiceUnavailable, "pcsc_unavailable", 503),
    (errors.NoReader, "no_reader", 503),
    (errors.ReaderGone, "reader_gone", 503),
    (errors.ReaderError, "reader_error", 503),
    (errors.CardRemoved, "card_removed", 409),
    (errors.CardReset, "card_reset", 409),
    (errors.NoCard, "no_card", 409),
    (errors.CardBusy, "card_in_use", 409),
    (errors.CardMute, "card_mute", 502),
    (errors.NotSocialSecurityCard, "not_social_security_card", 422),
    (errors.PsamMissing, "psam_missing", 503),
    (errors.PsamError, "psam_error", 503),
    (errors.PinError, "pin_error", 409),
    (errors.AuthenticationBlocked, "authentication_blocked", 409),
    (errors.ApplicationBlocked, "application_blocked", 409),
    (errors.CardBlocked, "card_blocked", 409),
    (errors.SecurityNotSatisfied, "security_not_satisfied", 409),
    (errors.AuthenticationFailed, "authentication_failed", 409),
    (errors.NotSupported, "card_not_supported", 422),
    (errors.CommandError, "card_refused", 502),
    (errors.ProtocolError, "card_protocol_error", 502),
    (errors.CardError, "card_error", 502),
]

INTERNAL = {
    "code": "internal_error",
    "national_code": -4,
    "en": "Internal error.",
    "zh": "内部错误",
    "exit_code": errors.ExitCode.FAILURE,
}


def describe(error: errors.SscardError) -> tuple[int, dict]:
    """(HTTP status, the JSON error body) for a typed error."""
    if isinstance(error, ServiceError):
        code, status, national = error.code, error.status, error.national_code
    else:
        code, status = next(
            ((c, s) for cls, c, s in _TABLE if isinstance(error, cls)), ("error", 500)
        )
        national = national_code(error)[0]
    return status, {
        "error": {
            "code": code,
            "national_code": national,
            "en": error.message,
            "zh": error.zh,
            "exit_code": error.exit_code,
        }
    }


def national_code(error: errors.SscardError) -> tuple[int, str]:
    """The national interface's (code, message) for an error."""
    if isinstance(error, ServiceError):
        return error.national_code, error.zh
    if isinstance(error, ReaderBusy):
        return -11, error.zh
    if isinstance(error, RequestTimeout):
        return -4, error.zh
    return ireadcardbas.code_for(error)


def not_allowed(what: str, zh: str) -> ServiceError:
    return ServiceError("not_allowed", 403, what, zh, national_code=-13)

"""The one SELECT of the social security application, and what each caller makes of it.

`select_ssse()` sends SELECT by the SSSE's name and, on 6A82 only, looks for an EF05 under
the MF (a Shanghai-style card); it never raises for a refusal, it says what happened.  Each
caller then applies its own policy to that one answer:

- `select_application()`, for a read or a PIN command: the selected application, or the
  typed error (a blocked application or card, or NotSocialSecurityCard — also for a card
  that selects an application of another name);
- `probe()`, to ask whether a card is a social security card at all: a word, never an error
  for the card's answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sscard import errors
from sscard.session import CardSession, Response
from sscard.ssse.results import Layout

SW_NOT_FOUND = 0x6A82  # the only refusal after which an MF-level EF05 is looked for


class Probe(StrEnum):
    """Whether a card answers as a social security card (`probe()`, `sscard readers`)."""

    YES = "yes"
    BLOCKED = "blocked"  # the application is blocked
    CARD_BLOCKED = "card blocked"
    MF = "mf"  # no SSSE name, but an EF05 under the MF: Shanghai-style
    NO = "no"


@dataclass(frozen=True)
class Selection:
    """The answer to selecting the social security application."""

    layout: Layout | None  # MF: EF05 under the MF, the MF the current DF; None: refused
    fci: bytes  # the SELECT's answer data (the SSSE's FCI); b"" unless layout is "ssse"
    response: Response  # the answer to SELECT by name
    refusal: errors.SscardError | None = None  # why nothing was selected (layout None)


def select_ssse(session: CardSession) -> Selection:
    """SELECT the SSSE by name; on 6A82, SELECT EF05 under the MF.  At most two APDUs."""
    ssse = session.spec.ssse
    response = session.send("select_by_name", data=ssse.name, le=0)
    if response.ok:
        return Selection(Layout.SSSE, response.data, response)
    if response.sw == SW_NOT_FOUND:
        ef05 = ssse.file("ef05").fid.to_bytes(2, "big")
        if session.send("select_child_ef", data=ef05).ok:
            return Selection(Layout.MF, b"", response)
    return Selection(None, b"", response, select_refused(session, response))


def select_application(session: CardSession) -> tuple[Layout, bytes]:
    """The rule for every command that uses the application (read, status, PIN): ("ssse",
    FCI) or ("mf", b"") with the MF the current DF; otherwise the typed error."""
    selection = select_ssse(session)
    if selection.layout is None:
        raise selection.refusal or errors.NotSocialSecurityCard("no social security application")
    if selection.layout is Layout.SSSE and selection.fci:
        ssse = session.spec.ssse
        df_name = next(i for i in ssse.fci if i.key == "df_name").extract(selection.fci)
        if isinstance(df_name, str) and bytes.fromhex(df_name) != ssse.name:
            raise errors.NotSocialSecurityCard("the card selected an application with another name")
    return selection.layout, selection.fci


def probe(session: CardSession) -> Probe:
    """Does the card answer as a social security card?  Its SELECT, nothing read; the
    answer is a `Probe` word."""
    selection = select_ssse(session)
    if selection.layout is not None:
        return Probe.YES if selection.layout is Layout.SSSE else Probe.MF
    if isinstance(selection.refusal, errors.CardBlocked):
        return Probe.CARD_BLOCKED
    if isinstance(selection.refusal, errors.NotSocialSecurityCard):
        return Probe.NO
    return Probe.BLOCKED


def select_refused(session: CardSession, response: Response) -> errors.SscardError:
    """The error for a refused SELECT of the social security application (the rule in
    sscard.errors): a blocked answer (6283, 9303, 6A81) is the blocked application or card;
    any other means the card has no social security application."""
    error = session.error_for(response, "SELECT social security application")
    if error.sw_class == "blocked":
        return error
    return errors.NotSocialSecurityCard(f"no social security application (SW {response.sw:04X})")

"""The one SELECT of the social security application (sscard.ssse.select): the read's rule
(`select_application`) and the probe's (`probe`) are two readings of the same answer."""

from __future__ import annotations

import pytest
from helpers import FaultyTransport, emulator

from sscard import errors
from sscard.session import CardSession
from sscard.spec import load_spec
from sscard.ssse.select import probe, select_application, select_ssse

SSSE_NAME = load_spec().ssse.name

# what the read raises for each word the probe answers
READ_RULE = {
    "card blocked": errors.CardBlocked,
    "blocked": errors.ApplicationBlocked,
    "no": errors.NotSocialSecurityCard,
}


def session_answering(persona: str, sw: str | None) -> tuple[CardSession, FaultyTransport]:
    """A session on `persona` whose SELECT of the SSSE by name answers `sw` (None: as is)."""

    def fault(index, apdu, response):
        if sw is not None and apdu[:2] == b"\x00\xa4" and SSSE_NAME in apdu:
            return bytes.fromhex(sw)
        return None

    transport = FaultyTransport(emulator(persona), fault)
    return CardSession(transport), transport


@pytest.mark.parametrize("persona", ["gen2", "gen3", "shanghai", "ssse-blocked", "card-blocked"])
@pytest.mark.parametrize("sw", [None, "6283", "9303", "6A81", "6A82", "6A86", "6D00", "6F00"])
def test_probe_and_read_rule_agree_and_send_the_same_apdus(persona, sw):
    session, transport = session_answering(persona, sw)
    word = probe(session)
    probed = list(transport.sent)
    session, transport = session_answering(persona, sw)
    if word in READ_RULE:
        with pytest.raises(READ_RULE[word]):
            select_application(session)
    else:
        layout, fci = select_application(session)
        assert word == ("yes" if layout == "ssse" else "mf")
        assert (fci != b"") == (layout == "ssse")
    assert transport.sent == probed  # the one SELECT (and its MF fallback), nothing else


def test_select_ssse_reports_without_raising():
    session, transport = session_answering("gen2", "6A81")
    selection = select_ssse(session)
    assert selection.layout is None and selection.response.sw == 0x6A81
    assert isinstance(selection.refusal, errors.CardBlocked)
    assert len(transport.sent) == 1  # a blocked card is not asked for an MF-level EF05

    session, transport = session_answering("shanghai", None)
    selection = select_ssse(session)
    assert (selection.layout, selection.fci, selection.refusal) == ("mf", b"", None)
    assert selection.response.sw == 0x6A82 and len(transport.sent) == 2


def test_an_application_of_another_name_is_refused_by_the_read_only():
    """The FCI names another DF: the read refuses the card; the probe, which reads nothing,
    still sees a card that answers the social security application's name."""
    other = bytes.fromhex("6F0B840941424344454647484990 00".replace(" ", ""))

    def fault(index, apdu, response):
        return other if apdu[:2] == b"\x00\xa4" and SSSE_NAME in apdu else None

    session = CardSession(FaultyTransport(emulator("gen2"), fault))
    with pytest.raises(errors.NotSocialSecurityCard, match="another name"):
        select_application(session)
    session = CardSession(FaultyTransport(emulator("gen2"), fault))
    assert probe(session) == "yes"

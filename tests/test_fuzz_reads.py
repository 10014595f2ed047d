"""Fuzz test of whole reads: a hostile card answering arbitrary bytes and status words.

Hypothesis, derandomized (a fixed seed) and bounded in examples: real emulated cards whose
answers are corrupted at random APDUs in every way a card can (garbage, a changed status
word, a cut or padded answer, 61xx and 6Cxx at the wrong moment).  Whatever happens, an
operation ends either in a typed sscard error or in a whole result: typed, renderable as
text, JSON and iReadCardBas without any other exception, within its budget, and equal to
the clean read when no corruption reached the card's answers.
"""

from __future__ import annotations

import datetime as _dt

import pytest
from helpers import derandomized
from hypothesis import given
from hypothesis import strategies as st

from sscard import errors
from sscard.budget import bank_budget, ssse_budget
from sscard.card import Card
from sscard.emulator import SocialSecurityCard
from sscard.spec import load_spec
from sscard.ssse.results import HolderStatus, Identity
from sscard.transport.emulated import EmulatorTransport

SPEC = load_spec()
TODAY = _dt.date(2026, 12, 1)
SOURCE = {"kind": "emulator", "name": "fuzz", "description": "fuzz"}
MAX_INDEX = 40  # beyond every APDU of these operations on these cards

SW = st.sampled_from(
    [
        0x9000,
        0x6283,
        0x6A82,
        0x6A83,
        0x6A81,
        0x6982,
        0x63C0,
        0x63C3,
        0x6983,
        0x9303,
        0x6D00,
        0x6E00,
        0x6700,
        0x6B00,
        0x6985,
        0x6A88,
    ]
) | st.integers(min_value=0, max_value=0xFFFF)
FAULT = st.one_of(
    st.tuples(st.just("garbage"), st.binary(max_size=300)),
    st.tuples(st.just("status_word"), SW),
    st.tuples(st.just("cut"), st.integers(min_value=0, max_value=40)),
    st.tuples(st.just("padded"), st.binary(min_size=1, max_size=40)),
    st.tuples(st.just("get_response"), st.integers(min_value=0, max_value=0xFF)),
    st.tuples(st.just("wrong_le"), st.integers(min_value=0, max_value=0xFF)),
)
PLAN = st.dictionaries(st.integers(min_value=0, max_value=MAX_INDEX), FAULT, max_size=4)


class HostileCard(EmulatorTransport):
    """A real emulated card whose answer to APDU i is corrupted as plan[i] says."""

    def __init__(self, persona: str, plan: dict) -> None:
        super().__init__(SocialSecurityCard.from_persona(persona), f"hostile {persona}")
        self.plan = plan
        self.sent = 0
        self.corrupted = 0

    def transmit(self, apdu: bytes) -> bytes:
        index, self.sent = self.sent, self.sent + 1
        answer = super().transmit(apdu)
        if index not in self.plan:
            return answer
        self.corrupted += 1
        kind, value = self.plan[index]
        data, sw = answer[:-2], answer[-2:]
        if kind == "garbage":
            return value
        if kind == "status_word":
            return data + value.to_bytes(2, "big")
        if kind == "cut":
            return answer[: min(value, len(answer) - 1)]
        if kind == "padded":
            return data + value + sw
        if kind == "get_response":
            return data + bytes([0x61, value])
        return bytes([0x6C, value])  # wrong_le


def _identity_ok(identity: Identity) -> None:
    from sscard.cli import render
    from sscard.ireadcardbas import format_identity

    assert isinstance(identity, Identity)
    assert (identity.holder is not None) == (identity.holder_status is HolderStatus.READ)
    for reveal in (False, True):
        document = render.to_document(SPEC, identity, reveal=reveal, source=SOURCE)
        render.to_json(document)
        render.to_text(SPEC, document)
    try:
        line = format_identity(identity)
    except errors.SscardError:
        return  # a typed refusal (no holder data, no historical bytes)
    assert line.count("|") == 11


def _status_ok(status) -> None:
    from sscard.cli import output
    from sscard.cli.status_view import to_document, to_text

    for reveal in (False, True):
        document = to_document(SPEC.pboc, status, reveal=reveal, source=SOURCE)
        output.dumps(document)
        to_text(document)
    assert isinstance(status.exit_code, int)


OPERATIONS = {
    "read gen2": ("gen2", lambda c: c.read_identity(today=TODAY), _identity_ok),
    "read gen1": ("gen1", lambda c: c.read_identity(today=TODAY), _identity_ok),
    "read gen3 with keys": (
        "gen3",
        lambda c: c.read_identity(today=TODAY, keys=_test_keys()),
        _identity_ok,
    ),
    "status with logs": ("bank-used", lambda c: c.read_status(logs=True, today=TODAY), _status_ok),
    "status with bank records": (
        "bank-used",
        lambda c: c.read_status(bank_records=True, today=TODAY),
        _status_ok,
    ),
    "pin tries": ("gen2", lambda c: c.pin_tries(), lambda tries: None),
}


def _test_keys():
    from sscard.auth.keysource import load_keys

    return load_keys("test")


def _clean(name: str):
    persona, run, _ = OPERATIONS[name]
    return run(Card(HostileCard(persona, {})))


@pytest.mark.parametrize("name", sorted(OPERATIONS))
def test_a_hostile_card_gives_a_typed_error_or_a_whole_result(name):
    persona, run, check = OPERATIONS[name]
    clean = _clean(name)
    spec_budget = ssse_budget(SPEC) + bank_budget(SPEC.pboc)

    @derandomized(150)
    @given(PLAN)
    def fuzz(plan):
        transport = HostileCard(persona, plan)
        card = Card(transport)
        try:
            result = run(card)
        except errors.SscardError as e:
            assert e.exit_code > 0 and e.message and e.zh
            return
        finally:
            assert transport.sent <= spec_budget.apdus
        check(result)
        if transport.corrupted == 0:  # the faults fell after the last APDU: a clean read
            assert result == clean

    fuzz()

"""Random card answers: only sscard errors may come out of the reader, the APDU parser and
the tracer."""

from __future__ import annotations

from helpers import FaultyTransport, emulator, read
from hypothesis import given, settings
from hypothesis import strategies as st

from sscard import errors
from sscard.codec.apdu import CommandApdu
from sscard.spec import load_spec
from sscard.ssse.results import Identity
from sscard.trace import Tracer

SPEC = load_spec()


class ScriptedCard:
    """Answers each command with the next scripted response (then 6A82)."""

    description = "scripted"
    atr = bytes.fromhex("3B6D0000") + bytes(13)

    def __init__(self, responses):
        self.responses = list(responses)

    def transmit(self, apdu):
        return self.responses.pop(0) if self.responses else bytes.fromhex("6A82")

    def transaction(self):
        import contextlib

        return contextlib.nullcontext()

    def close(self):
        pass


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=40), max_size=20))
def test_random_answers_give_an_identity_or_an_sscard_error(responses):
    try:
        identity, _ = read(ScriptedCard(responses))
    except errors.SscardError:
        return
    assert isinstance(identity, Identity)


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0, max_value=16), st.binary(max_size=40))
def test_one_corrupted_answer_in_a_real_read(index, garbage):
    transport = FaultyTransport(emulator("gen2"), lambda i, a, r: garbage if i == index else None)
    try:
        identity, _ = read(transport)
    except errors.SscardError:
        return
    # if the corruption was accepted, the result must still be a whole, typed identity
    assert identity.holder_status.value in ("read", "locked", "absent")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_apdu_parser_and_tracer_on_random_bytes(data):
    try:
        CommandApdu.parse(data)
    except errors.DecodeError:
        pass
    lines = []
    tracer = Tracer(SPEC, lines.append)
    tracer.command(data)
    tracer.response(data, data)
    assert len(lines) == 2

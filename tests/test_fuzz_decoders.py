"""Fuzzing every decoder of card answers (hypothesis, fixed seed, bounded examples).

Whatever the bytes, a decoder either returns a value or raises DecodeError with an offset
inside the data — never another exception — and whatever it returns obeys the rule for card
text (sscard.codec.text) and the item's alphabet.  Whole reads with corrupted answers (at
a random exchange, or inside the value of one text record) either fail with an sscard error
or give outputs — text, JSON, iReadCardBas, masked and revealed — free of such characters
and of extra `|` fields.  Runs in the normal suite: derandomized (the same examples on every
run and machine) and bounded in examples, not in time (about 3 s in all).
"""

from __future__ import annotations

import dataclasses
import re

from helpers import TODAY, FaultyTransport, derandomized, emulator
from hypothesis import given
from hypothesis import strategies as st

from sscard.bank import fci as fci_codec
from sscard.bank import gpo as gpo_codec
from sscard.bank import records as records_codec
from sscard.codec import text, tlv
from sscard.errors import DecodeError
from sscard.spec import load_spec

SPEC = load_spec()
PBOC = SPEC.pboc
ITEMS = [i for ef in SPEC.ssse.files.values() for i in ef.items]
TAGS = sorted(PBOC.tags)
FUZZ = derandomized(300)


def strings_in(value):
    """Every str inside a decoded value (dicts, lists, tuples, dataclasses)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from strings_in(k)
            yield from strings_in(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from strings_in(v)
    elif dataclasses.is_dataclass(value):
        for f in dataclasses.fields(value):
            yield from strings_in(getattr(value, f.name))


def decoded_or_rejected(decode, data: bytes, base: int = 0):
    try:
        value = decode()
    except DecodeError as e:
        assert e.offset is None or base <= e.offset <= base + len(data), (e, data.hex())
        return None
    for s in strings_in(value):
        assert text.unsafe_index(s) is None, (s, data.hex())
    return value


# card text is mostly ASCII and GBK with the odd hostile byte: bias towards those
TEXTISH = st.one_of(
    st.binary(max_size=40),
    st.lists(
        st.sampled_from(
            [
                0x1B,
                0x7F,
                0x7C,
                0x9B,
                0x00,
                0x20,
                0x41,
                0x58,
                0x30,
                0x39,
                0xD5,
                0xC5,
                0xA1,
                0xA4,
                0x80,
                0xFF,
            ]
        ),
        max_size=40,
    ).map(bytes),
    st.text(max_size=15).map(lambda t: t.encode("gbk", "ignore")),
)


@FUZZ
@given(st.sampled_from(ITEMS), TEXTISH, st.booleans(), st.integers(0, 500))
def test_social_security_records(item, value, exact_length, base):
    if exact_length:  # reach the value decoder: a well-framed record of the right length
        value = value[: item.length].ljust(item.length, b"\x00")
    record = bytes((item.tag, len(value) & 0xFF)) + value
    decoded = decoded_or_rejected(lambda: item.decode_record(record, base), record, base)
    if isinstance(decoded, str) and item.codec.alphabet is not None:
        assert "|" not in decoded
        assert re.fullmatch(f"{item.codec.alphabet}*", decoded), (item.key, decoded)


@FUZZ
@given(st.binary(max_size=80))
def test_social_security_fci(data):
    for item in SPEC.ssse.fci:
        decoded_or_rejected(lambda item=item: item.extract(data), data)


@FUZZ
@given(st.sampled_from(TAGS), TEXTISH)
def test_pboc_objects(tag, value):
    decoded_or_rejected(lambda: PBOC.decode(tag, value, 7), value, 7)


@FUZZ
@given(st.sampled_from(["transaction", "load"]), st.binary(max_size=60), st.booleans())
def test_pboc_log_records(key, data, exact_length):
    log = PBOC.log(key)
    if exact_length:
        n = log.record_length(log.recommended_format)
        data = data[:n].ljust(n, b"\x20")
    decoded_or_rejected(lambda: log.decode_record(data), data)


@FUZZ
@given(st.binary(max_size=120))
def test_bank_templates(data):
    for decode in (
        lambda: fci_codec.parse_adf_fci(data, PBOC),
        lambda: fci_codec.parse_pse_fci(data),
        lambda: fci_codec.parse_ppse_fci(data, PBOC),
        lambda: fci_codec.parse_directory_record(data, PBOC),
        lambda: gpo_codec.parse_response(data),
        lambda: records_codec.parse_record(data, 1, 1),
        lambda: tlv.parse_ber(data, padding=True),
        lambda: tlv.parse_record(data),
    ):
        decoded_or_rejected(decode, data)


@FUZZ
@given(
    st.lists(
        st.tuples(st.sampled_from([0x50, 0x9F12, 0x87, 0x5F2D, 0x9F11, 0x9F38, 0x84]), TEXTISH),
        max_size=5,
    )
)
def test_well_framed_fci_with_hostile_values(objects):
    """Framing right, values random: the FCI decoder reaches every value decoder."""
    a5 = b"".join(tlv.encode_ber(t, v) for t, v in objects if t != 0x84)
    fci = tlv.encode_ber(
        0x6F, tlv.encode_ber(0x84, bytes.fromhex("A000000333010101")) + tlv.encode_ber(0xA5, a5)
    )
    decoded_or_rejected(lambda: fci_codec.parse_adf_fci(fci, PBOC), fci)


def test_the_fuzzing_reaches_the_text_rule():
    """A positive control: the strategies do produce the bytes the rule exists for."""
    item = SPEC.ssse.file("ef06").item("name")
    record = bytes((item.tag, item.length)) + b"\xd5\xc5\x1b".ljust(item.length, b"\x00")
    assert decoded_or_rejected(lambda: item.decode_record(record), record) is None


# --- whole reads: corrupted answers through to every output ---------------------------------------


def _outputs(identity) -> list[str]:
    """Everything the CLI prints for an identity: text and JSON, masked and revealed, and the
    iReadCardBas string when the read can give one."""
    import json as _json

    from sscard import ireadcardbas
    from sscard.cli import render

    out = []
    for reveal in (False, True):
        doc = render.to_document(
            SPEC,
            identity,
            reveal=reveal,
            source={"kind": "emulator", "name": "fuzz", "description": "fuzz"},
        )
        out += [render.to_text(SPEC, doc), _json.dumps(doc, ensure_ascii=False)]
        shown = identity if reveal else render.masked(SPEC, identity)
        try:
            line = ireadcardbas.format_identity(shown)
        except Exception as e:  # noqa: BLE001 - only sscard errors may come out
            from sscard.errors import SscardError

            assert isinstance(e, SscardError), e
            # a read that succeeded holds no value with the delimiter: the decoders' alphabets
            # catch it before the formatter's own guard has to
            assert "delimiter" not in str(e), e
            continue
        assert line.count("|") == 11, line  # never a field more or less
        out.append(line)
    return out


def _read_with_fault_and_check_outputs(persona: str, fault) -> None:
    """Read `persona` with `fault` on its answers: a typed error, or an identity whose every
    output is free of unsafe text (see _outputs)."""
    from sscard.auth.keysource import load_keys
    from sscard.card import Card
    from sscard.errors import SscardError

    keys = load_keys("test") if persona.startswith("gen3") else None
    try:
        with Card(FaultyTransport(emulator(persona), fault)) as card:
            identity = card.read_identity(today=TODAY, keys=keys)
    except SscardError:
        return
    for output in _outputs(identity):
        assert text.unsafe_index(output.replace("\n", " ")) is None, output


def _hostile(data: bytes, position: int, payload: bytes) -> bytes:
    """`data` with `payload` written over it at `position` (same length, as a card would)."""
    if not data:
        return data
    position %= len(data)
    return (data[:position] + payload + data[position + len(payload) :])[: len(data)]


@derandomized(150)
@given(
    st.sampled_from(["gen2", "gen3-contactless", "gen1"]),
    st.integers(0, 8),
    st.integers(0, 60),
    st.sampled_from(
        [b"|", b"\x1b[2J", b"\x7f", b"x", b"\xd5\x1b", b"\x00", b"\xff\xff", b"\x08\x12", b"\x03"]
    ),
)
def test_corrupted_reads_never_print_unsafe_text_or_extra_fields(persona, index, position, payload):
    def fault(i, apdu, response):
        if i != index or len(response) <= 2:
            return None
        return _hostile(response[:-2], position, payload) + response[-2:]

    _read_with_fault_and_check_outputs(persona, fault)


@derandomized(100)
@given(st.binary(max_size=34))
def test_any_atr_gives_a_read_or_a_finding(atr):
    """A card whose ATR is anything: the read still gives a typed identity (or an sscard
    error), and the outputs stay clean."""
    from sscard.card import Card

    class WithAtr:
        def __init__(self, inner):
            self.inner, self.description = inner, inner.description

        atr = property(lambda self: atr)

        def __getattr__(self, name):
            return getattr(self.inner, name)

    with Card(WithAtr(emulator("gen2"))) as card:
        identity = card.read_identity(today=TODAY)
    codes = {f.code for f in identity.findings}
    assert (identity.historical_bytes is None) == ("atr_malformed" in codes)
    _outputs(identity)


TEXT_ITEMS = [i for ef in SPEC.ssse.files.values() for i in ef.items if i.codec.encoding == "an"]


@derandomized(150)
@given(
    st.sampled_from(["gen2", "gen3-contactless", "gen1"]),
    st.sampled_from(TEXT_ITEMS),
    st.integers(0, 29),
    st.sampled_from(
        [b"|", b"\x1b[2J", b"\x7f", b"x", b"\xd5\x1b", b"\x00A", b"\x0d", b"\x9b", b"\xa1\xa1"]
    ),
)
def test_hostile_text_in_any_record_never_reaches_an_output(persona, item, offset, payload):
    """Structure-aware: the payload lands inside the value of one text item, wherever the
    card sends that record (a range read or a read by tag)."""
    header = bytes((item.tag, item.length))
    start = offset % item.length

    def fault(i, apdu, response):
        at = response.find(header)
        if at < 0 or apdu[1] != 0xB2:
            return None
        value_at = at + 2 + start
        return (
            response[:value_at]
            + _hostile(response[value_at : at + 2 + item.length], 0, payload)
            + response[at + 2 + item.length :]
        )

    _read_with_fault_and_check_outputs(persona, fault)

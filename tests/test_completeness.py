"""A partial identity is never called complete: the items apdu_specs/ssse.toml declares
`required` for the card's generation and layout must hold a value, however the records were
fetched (range read or one READ RECORD per item), or the read is incomplete — in the
result, the JSON, the exit code and the iReadCardBas string."""

from __future__ import annotations

import json

import pytest
from helpers import TODAY, FaultyTransport, emulator, read

from sscard import errors
from sscard.auth.keysource import load_keys
from sscard.card import Card
from sscard.cli.main import run
from sscard.emulator import SocialSecurityCard
from sscard.emulator.persona import load_persona
from sscard.spec import load_spec
from sscard.ssse.completeness import item_value, missing_required
from sscard.transport.emulated import EmulatorTransport

PER_ITEM = "gen2-no-range"  # refuses the range form: one READ RECORD per item, by its tag
REQUIRED = {
    "card_identification": ("ef05", 0x01),
    "card_number": ("ef05", 0x07),
    "social_security_number": ("ef06", 0x08),
    "name": ("ef06", 0x09),
}


def not_found(tag: int):
    """6A83 (record not found) for the READ RECORD of one tag."""
    return lambda i, apdu, r: bytes.fromhex("6A83") if apdu[:3] == bytes([0, 0xB2, tag]) else None


def test_the_spec_declares_what_is_required():
    spec = load_spec()
    required = {
        i.key: dict(i.required)
        for ef in ("ef05", "ef06")
        for i in spec.ssse.file(ef).items
        if i.required
    }
    assert set(required) == set(REQUIRED)
    assert required["card_number"] == {g: {"ssse", "mf"} for g in (1, 2, 3)}
    assert required["name"] == {g: {"ssse"} for g in (1, 2, 3)}  # EF06 exists only under SSSE
    name_extension = spec.ssse.file("ef06").item("name_extension")
    assert not name_extension.required_in(2, "ssse")


@pytest.mark.parametrize("key", sorted(REQUIRED))
def test_a_required_record_not_found_leaves_the_identity_incomplete(key):
    _, tag = REQUIRED[key]
    identity, _ = read(FaultyTransport(emulator(PER_ITEM), not_found(tag)))
    assert not identity.complete and identity.missing == (key,)
    assert identity.holder_status.value == "read"  # the rest was read, and is reported
    codes = [(f.code, f.field) for f in identity.findings]
    assert ("record_missing", key) in codes and ("required_missing", key) in codes


@pytest.mark.parametrize("tag", [0x4E, 0x0A, 0x0B, 0x0C, 0x0D, 0x02, 0x04, 0x05, 0x06])
def test_an_optional_record_not_found_is_only_a_finding(tag):
    identity, _ = read(FaultyTransport(emulator(PER_ITEM), not_found(tag)))
    assert identity.complete and identity.missing == ()


@pytest.mark.parametrize("key", sorted(set(REQUIRED) - {"card_identification"}))  # b: no padding
@pytest.mark.parametrize("persona", ["gen2", PER_ITEM, "gen1"])
def test_a_required_item_holding_padding_only_is_missing_too(persona, key):
    """Decided on the decoded values, whichever way the records came (gen2: range read)."""
    ef, _ = REQUIRED[key]
    values = getattr(load_persona(persona), ef)
    card = SocialSecurityCard.from_persona(persona, **{ef: {**values, key: ""}})
    identity, _ = read(EmulatorTransport(card, persona))
    assert not identity.complete and identity.missing == (key,)


def test_generation_3_with_keys_and_the_mf_layout():
    values = load_persona("gen3").ef06
    emulated = SocialSecurityCard.from_persona("gen3", ef06={**values, "name": ""})
    with Card(EmulatorTransport(emulated, "gen3")) as card:
        identity = card.read_identity(today=TODAY, keys=load_keys("test"))
    assert identity.holder_status.value == "read" and identity.missing == ("name",)
    with Card(emulator("gen3")) as card:  # locked, not missing: EF06 was not read
        locked = card.read_identity(today=TODAY)
    assert locked.missing == () and not locked.complete

    values = load_persona("shanghai").ef05
    shanghai = SocialSecurityCard.from_persona("shanghai", ef05={**values, "card_number": ""})
    identity, _ = read(EmulatorTransport(shanghai, "shanghai"))
    assert identity.layout == "mf" and identity.missing == ("card_number",)


def test_every_required_key_names_a_result_field():
    """The rule reads the typed result: each spec item must be found there."""
    identity, _ = read(emulator("gen2"))
    spec = load_spec()
    for ef, part in (("ef05", identity.issuer), ("ef06", identity.holder)):
        for item in spec.ssse.file(ef).items:
            item_value(spec.ssse.file(ef), part, item.key)  # AttributeError for an unmapped key
    assert missing_required(spec, "ssse", 2, identity.issuer, identity.holder) == ()


def faulty_cli_card(monkeypatch, tag: int):
    monkeypatch.setattr(
        "sscard.open_emulator",
        lambda persona, **kw: Card(FaultyTransport(emulator(PER_ITEM), not_found(tag))),
    )


@pytest.mark.parametrize("key", sorted(REQUIRED))
def test_the_cli_never_calls_a_partial_identity_complete(capsys, monkeypatch, key):
    _, tag = REQUIRED[key]
    faulty_cli_card(monkeypatch, tag)
    assert run(["read", "--emulator", "gen2", "--json"]) == errors.ExitCode.INCOMPLETE == 19
    doc = json.loads(capsys.readouterr().out)
    assert doc["complete"] is False and doc["missing"] == [key]
    assert run(["read", "--emulator", "gen2"]) == 19
    assert "必备数据项缺失" in capsys.readouterr().out
    assert run(["read", "--emulator", "gen2", "--format", "ireadcardbas"]) == 19
    assert capsys.readouterr().out == "-27267|必备数据项缺失|\n"


def test_a_complete_identity_still_exits_0(capsys):
    assert run(["read", "--emulator", "gen2", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["complete"] is True and doc["missing"] == []


def test_the_formatter_refuses_an_incomplete_identity():
    from sscard import ireadcardbas

    identity, _ = read(FaultyTransport(emulator(PER_ITEM), not_found(0x08)))
    with pytest.raises(errors.IdentityIncomplete, match="missing: social_security_number"):
        ireadcardbas.format_identity(identity)
    assert ireadcardbas.code_for(None, identity) == (-27267, "必备数据项缺失")


# --- one Card, two threads ------------------------------------------------------------------


class Interleaving:
    """A transport that notes which thread sent each APDU, and holds the first thread's first
    APDU until a second thread sends one too (or a while has passed): without serialisation
    inside Card the two reads interleave on the card."""

    def __init__(self, inner):
        import threading

        self.inner = inner
        self.description = inner.description
        self.senders: list[int] = []
        self.second_arrived = threading.Event()
        self._guard = threading.Lock()

    @property
    def atr(self):
        return self.inner.atr

    def transmit(self, apdu: bytes) -> bytes:
        import threading

        me = threading.get_ident()
        with self._guard:
            first = not self.senders
            if self.senders and me != self.senders[0]:
                self.second_arrived.set()
            self.senders.append(me)
        if first:
            self.second_arrived.wait(1.0)  # a second thread gets its chance to cut in
        return self.inner.transmit(apdu)

    def transaction(self):
        return self.inner.transaction()

    def recover_from_reset(self):
        return self.inner.recover_from_reset()

    def close(self):
        self.inner.close()


def test_two_threads_sharing_a_card_never_interleave_apdus():
    import threading

    clean, _ = read(emulator(PER_ITEM))
    transport = Interleaving(emulator(PER_ITEM))
    card = Card(transport)
    results, failures = [], []

    def reader():
        try:
            results.append(card.read_identity(today=TODAY))
        except Exception as e:  # noqa: BLE001 - reported below
            failures.append(e)

    first = threading.Thread(target=reader)
    first.start()
    while not transport.senders:  # the first read is on the card
        threading.Event().wait(0.001)
    second = threading.Thread(target=reader)
    second.start()
    first.join(30)
    second.join(30)
    assert failures == [] and results == [clean, clean]
    switches = sum(
        1 for a, b in zip(transport.senders, transport.senders[1:], strict=False) if a != b
    )
    assert switches == 1  # all of one read, then all of the other
    card.close()

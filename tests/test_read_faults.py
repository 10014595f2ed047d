"""Bad answers, removed cards and odd cards: a typed error, never a half-read identity."""

from __future__ import annotations

import pytest
from helpers import FaultyTransport, RecordingTransport, emulator, read

from sscard import errors
from sscard.transport.replay import ReplayTransport

# gen2: SELECT SSSE, READ RECORD range EF05 by SFI, the same for EF06.  gen2-no-range refuses
# the range form (index 1), then the per-item read: SELECT EF05 (2), 7 READ RECORD by tag
# (3..9), SELECT EF06 (10), 7 READ RECORD (11..17).
IDENTITY_APDUS = {"gen2": 3, "gen2-no-range": 18}
PER_ITEM = "gen2-no-range"
EF05_RANGE, EF06_RANGE = "00B2012D40", "00B201355B"


def _at(index, response):
    return lambda i, apdu, r: response if i == index else None


@pytest.mark.parametrize("persona", sorted(IDENTITY_APDUS))
def test_card_removed_at_every_apdu_never_yields_an_identity(persona):
    for index in range(IDENTITY_APDUS[persona]):

        def remove(i, apdu, r, index=index):
            if i >= index:
                raise errors.CardRemoved()

        with pytest.raises(errors.CardRemoved, match="removed"):
            read(FaultyTransport(emulator(persona), remove))


@pytest.mark.parametrize("persona", sorted(IDENTITY_APDUS))
@pytest.mark.parametrize(
    "response,error",
    [
        (b"\x90", errors.TruncatedResponse),
        (b"", errors.TruncatedResponse),
        (bytes.fromhex("6A99"), errors.UnknownStatus),
    ],
)
def test_garbage_status_at_every_apdu(persona, response, error):
    for index in range(IDENTITY_APDUS[persona]):
        transport = FaultyTransport(emulator(persona), _at(index, response))
        try:
            read(transport)
        except errors.SscardError as e:
            # a select answering garbage may also mean "not a social security card"
            assert isinstance(e, (error, errors.NotSocialSecurityCard)), index
            continue
        # only a range read may answer something unusable: the per-item read then runs,
        # and this card's records are fine
        sent = [a.hex().upper() for a in transport.sent]
        assert sent[index] in (EF05_RANGE, EF06_RANGE) and response != b"", index
        assert sent.count(EF05_RANGE) + sent.count(EF06_RANGE) == (2 if index == 2 else 1)


def test_record_with_wrong_tag_is_a_decode_error():
    # the SSN read (index 11) answers the name record's tag
    fault = _at(11, bytes.fromhex("0912") + b"1" * 18 + b"\x90\x00")
    with pytest.raises(errors.DecodeError, match="tag 09"):
        read(FaultyTransport(emulator(PER_ITEM), fault))


def test_value_running_past_the_buffer():
    fault = _at(11, bytes.fromhex("0830313233") + b"\x90\x00")
    with pytest.raises(errors.DecodeError, match="record 08 value .* runs past the end") as info:
        read(FaultyTransport(emulator(PER_ITEM), fault))
    assert info.value.offset is not None


def test_invalid_gbk_name():
    name = bytes.fromhex("091E") + bytes.fromhex("FF") + bytes(29)
    with pytest.raises(errors.DecodeError, match="not GBK text"):
        read(FaultyTransport(emulator(PER_ITEM), _at(12, name + b"\x90\x00")))


def test_bad_bcd_nibble_in_a_date():
    with pytest.raises(errors.DecodeError, match="invalid BCD nibble A"):
        read(
            FaultyTransport(
                emulator(PER_ITEM), _at(17, bytes.fromhex("0D04199A0307") + b"\x90\x00")
            )
        )


def test_ascii_field_with_binary_garbage():
    with pytest.raises(errors.DecodeError, match=r"control or formatting character U\+0001"):
        read(
            FaultyTransport(
                emulator(PER_ITEM),
                _at(11, bytes.fromhex("0812") + bytes(range(1, 19)) + b"\x90\x00"),
            )
        )


# --- the range read: used whole or not at all ------------------------------------------------


def _ef06_range_answer(mutate):
    """A fault replacing the EF06 range answer's data by mutate(data)."""

    def fault(i, apdu, r):
        if apdu.hex().upper() == EF06_RANGE and r[-2:] == b"\x90\x00":
            return mutate(r[:-2]) + b"\x90\x00"
        return None

    return fault


SSN_RECORD = slice(0, 20)  # the first record of EF06: 08 12 + 18 bytes


@pytest.mark.parametrize(
    "mutate",
    [
        pytest.param(lambda d: bytes.fromhex("0912") + d[2:], id="wrong tag"),
        pytest.param(lambda d: d[:-1], id="last record cut"),
        pytest.param(lambda d: d[:20] + d[52:], id="name record missing"),
        pytest.param(lambda d: d[20:52] + d[:20] + d[52:], id="out of order"),
        pytest.param(lambda d: d[:20] + d[:20] + d[40:], id="repeated, same size"),
        pytest.param(lambda d: d[:-6] + bytes.fromhex("0D04199A0307"), id="bad BCD date"),
        pytest.param(lambda d: d[:22] + b"\xff" + d[23:], id="bad GBK name"),
        pytest.param(lambda d: d + bytes.fromhex("0E0100"), id="an extra record"),
    ],
)
def test_a_range_answer_that_is_not_the_file_is_never_used(mutate):
    clean, clean_session = read(emulator("gen2"))
    transport = FaultyTransport(emulator("gen2"), _ef06_range_answer(mutate))
    identity, session = read(transport)
    sent = [a.hex().upper() for a in transport.sent]
    # the per-item read ran, and gives what the card holds: the same identity
    assert identity == clean
    assert sent[:3] == ["00A404000F7378312E73682EC9E7BBE1B1A3D5CF00", EF05_RANGE, EF06_RANGE]
    assert sent[3:] == [
        "00A4020002EF06",
        "00B2080014",
        "00B2090020",
        "00B24E0016",
        "00B20A0003",
        "00B20B0003",
        "00B20C0005",
        "00B20D0006",
    ]
    assert session.apdu_count == clean_session.apdu_count + 8 and not session.record_ranges


@pytest.mark.parametrize(
    "key,raw",
    [
        ("ef06.09", "091E" + "FF" + "00" * 29),  # not GBK
        ("ef06.0D", "0D04199A0307"),  # not BCD
    ],
)
def test_a_bad_record_fails_the_read_in_both_forms(key, raw):
    from sscard.emulator.persona import load_persona

    tag = int(key.split(".")[1], 16)
    base = load_persona("gen2").raw_records
    errors_seen = []
    for persona in ("gen2", PER_ITEM):
        transport = emulator(persona, raw_records={**base, ("ef06", tag): bytes.fromhex(raw)})
        with pytest.raises(errors.DecodeError) as info:
            read(transport)
        errors_seen.append((type(info.value), info.value.message))
    assert errors_seen[0] == errors_seen[1]


def test_range_refused_costs_one_apdu_and_is_not_tried_again():
    transport = RecordingTransport(emulator(PER_ITEM))
    identity, session = read(transport)
    sent = [a.hex().upper() for a, _ in transport.exchanges]
    assert identity.complete and not session.record_ranges
    assert sent.count(EF05_RANGE) == 1 and EF06_RANGE not in sent
    assert len(sent) == 18  # 17 of the per-item read, one refused


@pytest.mark.parametrize("sw", ["6A86", "6B00", "6A81", "6D00", "6E00"])
def test_every_refusal_of_the_range_form_falls_back(sw):
    clean, _ = read(emulator("gen2"))
    persona = emulator(
        "gen2",
        read_record_forms=frozenset({"number", "identifier"}),
        read_record_refusal=int(sw, 16),
    )
    identity, session = read(persona)
    assert identity == clean and session.apdu_count == 18


def test_6cxx_to_a_range_read_is_not_resent():
    # a card whose EF06 has no 4E record holds 69 bytes, not the 91 of the spec
    def no_4e(i, apdu, r):
        h = apdu.hex().upper()
        if h == EF06_RANGE:
            return bytes.fromhex("6C45")
        return bytes.fromhex("6A83") if h.startswith("00B24E") else None

    transport = FaultyTransport(emulator("gen2"), no_4e)
    identity, _ = read(transport)
    sent = [a.hex().upper() for a in transport.sent]
    assert sent.count(EF06_RANGE) == 1 and not any(s.startswith("00B2013545") for s in sent)
    assert identity.complete and identity.holder.name_extension is None
    assert [f.field for f in identity.findings] == ["name_extension"]


def test_endless_get_response_chain_is_bounded():
    def chain(i, apdu, r):
        return bytes.fromhex("AA6101")  # one byte and "one more"

    with pytest.raises(errors.ChainTooLong, match="more than 16 exchanges"):
        read(FaultyTransport(emulator("gen2"), chain))


def test_6cxx_is_resent_once_with_the_right_le():
    calls = []

    def wrong_le_once(i, apdu, r):
        calls.append(apdu.hex().upper())
        if apdu.hex().upper() == "00B2010012":
            return bytes.fromhex("6C12")  # the card insists: resend gives the same 6C12
        return None

    with pytest.raises(errors.WrongLength, match="SW 6C12"):
        read(FaultyTransport(emulator(PER_ITEM), wrong_le_once))
    assert calls.count("00B2010012") == 2  # once, then exactly one re-send


def test_not_a_social_security_card():
    def everything_not_found(i, apdu, r):
        return bytes.fromhex("6A82")

    with pytest.raises(errors.NotSocialSecurityCard) as info:
        read(FaultyTransport(emulator("gen2"), everything_not_found))
    assert info.value.exit_code == errors.ExitCode.NOT_SSC


def test_card_without_the_instruction_is_not_an_ssc():
    with pytest.raises(errors.NotSocialSecurityCard, match="SW 6D00"):
        read(FaultyTransport(emulator("gen2"), lambda i, a, r: bytes.fromhex("6D00")))


def test_wrong_df_name_in_fci():
    fci = bytes.fromhex("6F0A8408A000000333010101") + b"\x90\x00"
    with pytest.raises(errors.NotSocialSecurityCard, match="another name"):
        read(FaultyTransport(emulator("gen2"), _at(0, fci)))


def test_malformed_fci():
    with pytest.raises(errors.DecodeError, match="tag 6F .* runs past the end"):
        read(FaultyTransport(emulator("gen2"), _at(0, bytes.fromhex("6F1C8401") + b"\x90\x00")))


@pytest.mark.parametrize("persona,sent", [("gen2", 3), (PER_ITEM, 12)])
def test_unauthenticated_ef06_on_unknown_generation_is_locked(persona, sent):
    # a card with an unrecognised version that protects EF06 like gen 3
    def version_and_lock(i, apdu, r):
        h = apdu.hex().upper()
        if h in ("00B2030006", EF05_RANGE) and r[-2:] == b"\x90\x00":  # "9.00"
            return r.replace(bytes.fromhex("0304322E3030"), bytes.fromhex("0304392E3030"))
        if h.startswith("00B208") or h.startswith("00B20135"):
            return bytes.fromhex("6982")
        return None

    transport = FaultyTransport(emulator(persona), version_and_lock)
    identity, _ = read(transport)
    assert identity.generation is None and identity.holder_status.value == "locked"
    assert "unknown_version" in [f.code for f in identity.findings]
    assert len(transport.sent) == sent  # the refusal is the file's answer: no other form tried


def test_missing_name_extension_record_is_a_finding():
    def no_4e(i, apdu, r):
        return bytes.fromhex("6A83") if apdu.hex().upper().startswith("00B24E") else None

    identity, _ = read(FaultyTransport(emulator(PER_ITEM), no_4e))
    assert identity.complete and identity.holder.name_extension is None
    assert [f.field for f in identity.findings] == ["name_extension"]


# --- replay -------------------------------------------------------------------------------


def test_replay_gives_the_same_identity_and_rejects_other_commands():
    recorder = RecordingTransport(emulator("gen2"))
    original, _ = read(recorder)
    exchanges = [(a.hex().upper(), r) for a, r in recorder.exchanges]
    replayed, _ = read(ReplayTransport(recorder.atr, exchanges))
    assert replayed == original

    tampered = list(exchanges)
    tampered[1] = ("00B2020004", tampered[1][1])
    with pytest.raises(errors.UnexpectedCommand, match="command 2 differs from the recording"):
        read(ReplayTransport(recorder.atr, tampered))
    with pytest.raises(errors.UnexpectedCommand, match="command 3 was not recorded"):
        read(ReplayTransport(recorder.atr, exchanges[:2]))


def test_replay_file_round_trip(tmp_path):
    import json

    recorder = RecordingTransport(emulator("gen1"))
    original, _ = read(recorder)
    path = tmp_path / "trace.json"
    path.write_text(
        json.dumps(
            {
                "atr": recorder.atr.hex(),
                "exchanges": [
                    {"command": a.hex(), "response": r.hex()} for a, r in recorder.exchanges
                ],
            }
        )
    )
    replayed, _ = read(ReplayTransport.from_file(path))
    assert replayed == original
    path.write_text("{not json")
    with pytest.raises(errors.InvalidArgument, match="not valid JSON"):
        ReplayTransport.from_file(path)


def test_select_falls_back_to_p1_00_only_when_p1_02_is_refused():
    def refuse_p1_02(i, apdu, r):
        return bytes.fromhex("6A86") if apdu[:3] == bytes.fromhex("00A402") else None

    transport = FaultyTransport(emulator(PER_ITEM), refuse_p1_02)
    identity, _ = read(transport)
    sent = [a.hex().upper() for a in transport.sent]
    assert identity.complete
    assert sent[2:4] == ["00A4020002EF05", "00A4000002EF05"]
    assert "00A4000002EF06" in sent


@pytest.mark.parametrize("persona,at", [("gen2", 2), (PER_ITEM, 12)])
def test_reset_mid_read_restarts_the_read_once_from_the_select(persona, at):
    resets = {"left": 1}

    def reset_once(i, apdu, r):
        if i == at and resets["left"]:
            resets["left"] -= 1
            raise errors.CardReset()

    transport = FaultyTransport(emulator(persona), reset_once)
    identity, _ = read(transport)
    sent = [a.hex().upper() for a in transport.sent]
    assert identity.complete and transport.recovered == 1
    # the second attempt starts again with SELECT SSSE (security state is gone after a reset);
    # a card that refused the range form is not asked again
    assert sent[at + 1].startswith("00A404000F")
    assert len(sent) == at + 1 + (3 if persona == "gen2" else 17)


@pytest.mark.parametrize("persona,at", [("gen2", (1, 4)), (PER_ITEM, (5, 20))])
def test_second_reset_is_an_error_and_never_a_partial_identity(persona, at):
    def always_reset(i, apdu, r):
        if i in at:
            raise errors.CardReset()

    with pytest.raises(errors.CardReset, match="reset"):
        read(FaultyTransport(emulator(persona), always_reset))


def test_operations_that_change_the_card_are_never_replayed():
    from sscard.card import Card

    calls = []

    def verify_like():
        calls.append(1)
        raise errors.CardReset()

    card = Card(emulator("gen2"))
    with pytest.raises(errors.CardReset, match="reset"):
        card.operation(verify_like, read_only=False)
    assert calls == [1]

"""Bad answers, removed cards and odd cards: a typed error, never a half-read identity."""

from __future__ import annotations

import pytest

from conftest import FaultyTransport, RecordingTransport, emulator, read
from sscard import errors
from sscard.transport.replay import ReplayTransport

IDENTITY_APDUS_GEN2 = 17


def _at(index, response):
    return lambda i, apdu, r: response if i == index else None


def test_card_removed_at_every_apdu_never_yields_an_identity():
    for index in range(IDENTITY_APDUS_GEN2):
        def remove(i, apdu, r, index=index):
            if i >= index:
                raise errors.CardRemoved()
        with pytest.raises(errors.CardRemoved):
            read(FaultyTransport(emulator("gen2"), remove))


@pytest.mark.parametrize("response,error", [
    (b"\x90", errors.TruncatedResponse),
    (b"", errors.TruncatedResponse),
    (bytes.fromhex("6A99"), errors.UnknownStatus),
])
def test_garbage_status_at_every_apdu(response, error):
    for index in range(IDENTITY_APDUS_GEN2):
        with pytest.raises(errors.SscardError) as info:
            read(FaultyTransport(emulator("gen2"), _at(index, response)))
        # a select answering garbage may also mean "not a social security card"
        assert isinstance(info.value, (error, errors.NotSocialSecurityCard)), index


def test_record_with_wrong_tag_is_a_decode_error():
    # the SSN read (index 10) answers the name record's tag
    fault = _at(10, bytes.fromhex("0912") + b"1" * 18 + b"\x90\x00")
    with pytest.raises(errors.DecodeError, match="tag 09"):
        read(FaultyTransport(emulator("gen2"), fault))


def test_value_running_past_the_buffer():
    fault = _at(10, bytes.fromhex("0830313233") + b"\x90\x00")
    with pytest.raises(errors.DecodeError) as info:
        read(FaultyTransport(emulator("gen2"), fault))
    assert info.value.offset is not None


def test_invalid_gbk_name():
    name = bytes.fromhex("091E") + bytes.fromhex("FF") + bytes(29)
    with pytest.raises(errors.DecodeError):
        read(FaultyTransport(emulator("gen2"), _at(11, name + b"\x90\x00")))


def test_bad_bcd_nibble_in_a_date():
    with pytest.raises(errors.DecodeError):
        read(FaultyTransport(emulator("gen2"), _at(16, bytes.fromhex("0D04199A0307") + b"\x90\x00")))


def test_ascii_field_with_binary_garbage():
    with pytest.raises(errors.DecodeError):
        read(FaultyTransport(emulator("gen2"), _at(10, bytes.fromhex("0812") + bytes(range(1, 19)) + b"\x90\x00")))


def test_endless_get_response_chain_is_bounded():
    def chain(i, apdu, r):
        return bytes.fromhex("AA6101")  # one byte and "one more"
    with pytest.raises(errors.ChainTooLong):
        read(FaultyTransport(emulator("gen2"), chain))


def test_6cxx_is_resent_once_with_the_right_le():
    calls = []

    def wrong_le_once(i, apdu, r):
        calls.append(apdu.hex().upper())
        if apdu.hex().upper() == "00B2010012":
            return bytes.fromhex("6C12")  # the card insists: resend gives the same 6C12
        return None
    with pytest.raises(errors.WrongLength):
        read(FaultyTransport(emulator("gen2"), wrong_le_once))
    assert calls.count("00B2010012") == 2  # once, then exactly one re-send


def test_not_a_social_security_card():
    def everything_not_found(i, apdu, r):
        return bytes.fromhex("6A82")
    with pytest.raises(errors.NotSocialSecurityCard) as info:
        read(FaultyTransport(emulator("gen2"), everything_not_found))
    assert info.value.exit_code == errors.ExitCode.NOT_SSC


def test_card_without_the_instruction_is_not_an_ssc():
    with pytest.raises(errors.NotSocialSecurityCard):
        read(FaultyTransport(emulator("gen2"), lambda i, a, r: bytes.fromhex("6D00")))


def test_wrong_df_name_in_fci():
    fci = bytes.fromhex("6F0A8408A000000333010101") + b"\x90\x00"
    with pytest.raises(errors.NotSocialSecurityCard):
        read(FaultyTransport(emulator("gen2"), _at(0, fci)))


def test_malformed_fci():
    with pytest.raises(errors.DecodeError):
        read(FaultyTransport(emulator("gen2"), _at(0, bytes.fromhex("6F1C8401") + b"\x90\x00")))


def test_unauthenticated_ef06_on_unknown_generation_is_locked():
    # a card with an unrecognised version that protects EF06 like gen 3
    def version_and_lock(i, apdu, r):
        h = apdu.hex().upper()
        if h == "00B2030006":
            return bytes.fromhex("0304392E3030") + b"\x90\x00"  # "9.00"
        if h.startswith("00B208"):
            return bytes.fromhex("6982")
        return None
    identity, _ = read(FaultyTransport(emulator("gen2"), version_and_lock))
    assert identity.generation is None and identity.holder_status.value == "locked"
    assert "unknown_version" in [f.code for f in identity.findings]


def test_missing_name_extension_record_is_a_finding():
    def no_4e(i, apdu, r):
        return bytes.fromhex("6A83") if apdu.hex().upper().startswith("00B24E") else None
    identity, _ = read(FaultyTransport(emulator("gen2"), no_4e))
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
    tampered[3] = ("00B2020004", tampered[3][1])
    with pytest.raises(errors.UnexpectedCommand):
        read(ReplayTransport(recorder.atr, tampered))
    with pytest.raises(errors.UnexpectedCommand):
        read(ReplayTransport(recorder.atr, exchanges[:5]))


def test_replay_file_round_trip(tmp_path):
    import json
    recorder = RecordingTransport(emulator("gen1"))
    original, _ = read(recorder)
    path = tmp_path / "trace.json"
    path.write_text(json.dumps({"atr": recorder.atr.hex(), "exchanges": [
        {"command": a.hex(), "response": r.hex()} for a, r in recorder.exchanges]}))
    replayed, _ = read(ReplayTransport.from_file(path))
    assert replayed == original
    path.write_text("{not json")
    with pytest.raises(errors.InvalidArgument):
        ReplayTransport.from_file(path)


def test_select_falls_back_to_p1_00_only_when_p1_02_is_refused():
    def refuse_p1_02(i, apdu, r):
        return bytes.fromhex("6A86") if apdu[:3] == bytes.fromhex("00A402") else None
    transport = FaultyTransport(emulator("gen2"), refuse_p1_02)
    identity, _ = read(transport)
    sent = [a.hex().upper() for a in transport.sent]
    assert identity.complete
    assert sent[1:3] == ["00A4020002EF05", "00A4000002EF05"]
    assert "00A4000002EF06" in sent


def test_reset_mid_read_restarts_the_read_once_from_the_select():
    resets = {"left": 1}

    def reset_once(i, apdu, r):
        if i == 12 and resets["left"]:
            resets["left"] -= 1
            raise errors.CardReset()
    transport = FaultyTransport(emulator("gen2"), reset_once)
    identity, _ = read(transport)
    sent = [a.hex().upper() for a in transport.sent]
    assert identity.complete and transport.recovered == 1
    # the second attempt starts again with SELECT SSSE (security state is gone after a reset)
    assert sent[13].startswith("00A404000F") and len(sent) == 13 + 17


def test_second_reset_is_an_error_and_never_a_partial_identity():
    def always_reset(i, apdu, r):
        if i in (5, 20):
            raise errors.CardReset()
    with pytest.raises(errors.CardReset):
        read(FaultyTransport(emulator("gen2"), always_reset))


def test_operations_that_change_the_card_are_never_replayed():
    from sscard.card import Card
    calls = []

    def verify_like():
        calls.append(1)
        raise errors.CardReset()
    card = Card(emulator("gen2"))
    with pytest.raises(errors.CardReset):
        card.operation(verify_like, read_only=False)
    assert calls == [1]

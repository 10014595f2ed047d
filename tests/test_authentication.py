"""Generation-3 reading with software keys: the card proves itself (INTERNAL AUTHENTICATE)
before a try of its read key is spent, one EXTERNAL AUTHENTICATE at most, keys never shown."""

from __future__ import annotations

import json
import os

import pytest
from helpers import TODAY, FaultyTransport, card_of, persona_toml

from sscard import errors
from sscard.auth.keysource import SoftwareKeys, load_keys
from sscard.card import Card
from sscard.cli.main import run
from sscard.crypto.key_file import parse_key_file
from sscard.emulator import SocialSecurityCard
from sscard.emulator.persona import Auth
from sscard.ssse.results import HolderStatus
from sscard.transport.emulated import EmulatorTransport

OTHER_KEYS = """
[keys.RKSSSE]
"03" = "00112233445566778899AABBCCDDEEFF"
[keys.IRK]
"03" = "FFEEDDCCBBAA99887766554433221100"
"""


def gen3(**overrides):
    _, transport, emulated = card_of("gen3", **overrides)
    return emulated, transport


def sent_ins(transport, ins: int) -> int:
    return sum(1 for a in transport.sent if a[1] == ins)


def test_gen3_full_identity_with_the_test_keys():
    emulated, transport = gen3()
    with Card(transport) as card:
        identity = card.read_identity(today=TODAY, keys=load_keys("test"))
    raw = persona_toml("gen3")["ef06"]
    assert identity.complete and identity.authentic == "yes"
    assert identity.holder.social_security_number == raw["social_security_number"]
    assert identity.holder.name == raw["name"]
    assert sent_ins(transport, 0x88) == 1 and sent_ins(transport, 0x82) == 1
    assert sent_ins(transport, 0x84) == 2  # original data + the live challenge
    assert emulated.auth_tries_left == 3


@pytest.mark.parametrize("forms,refused", [(None, 0), (frozenset({"number", "identifier"}), 1)])
def test_gen3_reads_ef06_with_one_range_read_after_authentication(forms, refused):
    emulated, transport = gen3(**({"read_record_forms": forms} if forms else {}))
    with Card(transport) as card:
        identity = card.read_identity(today=TODAY, keys=load_keys("test"))
    sent = [a.hex().upper() for a in transport.sent]
    assert identity.complete and identity.authentic == "yes"
    ins = [a[2:4] for a in sent]
    if not refused:
        # SELECT, EF05 whole, INTERNAL AUTHENTICATE, 2 GET CHALLENGE, EXTERNAL AUTHENTICATE,
        # then EF06 whole by SFI: the security state of the SSSE is kept (no SELECT since)
        assert ins == ["A4", "B2", "88", "84", "84", "82", "B2"]
        assert sent[1] == "00B2012D40" and sent[-1] == "00B201355B"
    else:  # the range refused once: EF05 and EF06 read item by item, EF06 not tried again
        assert sent.count("00B2012D40") == 1 and "00B201355B" not in sent
        assert len(sent) == 1 + 1 + 8 + 4 + 8
    with Card(
        FaultyTransport(
            EmulatorTransport(SocialSecurityCard.from_persona("gen3"), "gen3"), lambda *a: None
        )
    ) as card:
        other = card.read_identity(today=TODAY, keys=load_keys("test"))
    assert identity == other


def test_foreign_keys_fail_internal_authentication_and_spend_nothing():
    emulated, transport = gen3()
    keys = SoftwareKeys(parse_key_file(OTHER_KEYS, "other"), "other keys")
    with Card(transport) as card:
        identity = card.read_identity(today=TODAY, keys=keys)
    assert identity.authentic == "no" and identity.holder_status is HolderStatus.LOCKED
    assert "not_authentic" in [f.code for f in identity.findings]
    assert sent_ins(transport, 0x82) == 0 and emulated.auth_tries_left == 3


def _test_roots() -> dict:
    from sscard.crypto.key_file import published_roots

    return published_roots()


def test_wrong_read_key_costs_one_try_reports_it_and_is_not_retried():
    # the right IRK (the card proves itself) but a wrong RKSSSE: the one try is spent
    emulated, transport = gen3()
    keys = SoftwareKeys({"IRK": _test_roots()["IRK"], "RKSSSE": {"03": bytes(16)}}, "wrong RK")
    with Card(transport) as card:
        identity = card.read_identity(today=TODAY, keys=keys)
    assert identity.holder_status is HolderStatus.LOCKED and identity.authentic == "yes"
    failed = [f for f in identity.findings if f.code == "external_auth_failed"]
    assert failed and "2 tries left" in failed[0].en
    assert sent_ins(transport, 0x82) == 1 and emulated.auth_tries_left == 2


def test_keys_without_irk_spend_no_try_of_the_read_key():
    # the card cannot prove itself: an EXTERNAL AUTHENTICATE could only count down its key
    emulated, transport = gen3()
    keys = SoftwareKeys({"RKSSSE": _test_roots()["RKSSSE"]}, "no IRK")
    with Card(transport) as card:
        identity = card.read_identity(today=TODAY, keys=keys)
    assert identity.holder_status is HolderStatus.LOCKED and identity.authentic == "not checked"
    assert "external_auth_not_sent" in [f.code for f in identity.findings]
    assert sent_ins(transport, 0x82) == 0 and emulated.auth_tries_left == 3


def test_card_refusing_internal_authentication_gets_no_external_try():
    def refuse_internal(i, apdu, r):
        return bytes.fromhex("6D00") if apdu[1] == 0x88 else None

    emulated = SocialSecurityCard.from_persona("gen3")
    transport = FaultyTransport(EmulatorTransport(emulated, "gen3"), refuse_internal)
    with Card(transport) as card:
        identity = card.read_identity(today=TODAY, keys=load_keys("test"))
    assert identity.authentic == "not checked" and identity.holder_status is HolderStatus.LOCKED
    assert {"auth_not_checked", "external_auth_not_sent"} <= {f.code for f in identity.findings}
    assert sent_ins(transport, 0x82) == 0 and emulated.auth_tries_left == 3


def test_locked_read_key():
    emulated, transport = gen3(auth=Auth(tries_left=0))
    with Card(transport) as card:
        identity = card.read_identity(today=TODAY, keys=load_keys("test"))
    assert identity.holder_status is HolderStatus.LOCKED
    assert "key_locked" in [f.code for f in identity.findings]


def test_gen2_with_keys_is_checked_but_needs_no_external_authentication():
    emulated = SocialSecurityCard.from_persona("gen2")
    transport = FaultyTransport(EmulatorTransport(emulated, "gen2"), lambda *a: None)
    with Card(transport) as card:
        identity = card.read_identity(today=TODAY, keys=load_keys("test"))
    assert identity.authentic == "yes" and identity.complete
    assert sent_ins(transport, 0x82) == 0 and sent_ins(transport, 0x84) == 0


def test_t0_card_answers_internal_authentication_through_get_response():
    emulated, transport = gen3(t0=True)
    with Card(transport) as card:
        identity = card.read_identity(today=TODAY, keys=load_keys("test"))
    assert identity.complete and identity.authentic == "yes"


def test_a_reset_during_an_authenticated_read_is_not_replayed():
    def reset_after_external(i, apdu, r):
        if apdu[1] == 0x82:
            raise errors.CardReset()

    emulated = SocialSecurityCard.from_persona("gen3")
    transport = FaultyTransport(EmulatorTransport(emulated, "gen3"), reset_after_external)
    with pytest.raises(errors.CardReset, match="reset"):
        with Card(transport) as card:
            card.read_identity(today=TODAY, keys=load_keys("test"))
    assert sent_ins(transport, 0x82) == 1


# --- key files and the CLI --------------------------------------------------------------------


def test_key_file_errors_never_quote_keys(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[keys.RKSSSE]\n"03" = "00112233445566778899AABBCCDDEE"\n')  # 15 bytes
    with pytest.raises(errors.InvalidArgument, match='"03" must be 32 hex digits') as info:
        load_keys(str(bad))
    assert "0011223344" not in info.value.message
    with pytest.raises(errors.InvalidArgument, match="cannot read"):
        load_keys(str(tmp_path / "missing.toml"))
    (tmp_path / "junk.toml").write_text("[keys\n")
    with pytest.raises(errors.InvalidArgument, match="not a valid key file"):
        load_keys(str(tmp_path / "junk.toml"))


def test_keys_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("SSCARD_KEYS_FILE", raising=False)
    monkeypatch.delenv("SSCARD_KEYS", raising=False)
    assert load_keys(None) is None
    monkeypatch.setenv("SSCARD_KEYS", OTHER_KEYS)
    assert load_keys(None).description == "SSCARD_KEYS"
    path = tmp_path / "k.toml"
    path.write_text(OTHER_KEYS)
    monkeypatch.setenv("SSCARD_KEYS_FILE", str(path))
    assert load_keys(None).description == "key file k.toml"
    assert "00112233" not in repr(load_keys(None))


def test_cli_keys_never_appear_in_any_output(capsys, tmp_path, monkeypatch):
    record = tmp_path / "trace.json"
    test_key_hex = [
        line.split('"')[3]
        for line in open(
            os.path.join(
                os.path.dirname(__import__("sscard.emulator").emulator.__file__), "test_keys.toml"
            )
        )
        if line.startswith('"0')
    ]
    assert len(test_key_hex) == 4
    code = run(
        [
            "read",
            "--emulator",
            "gen3",
            "--keys",
            "test",
            "--json",
            "--reveal",
            "--record",
            str(record),
            "-d",
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0 and json.loads(out)["card"]["authentic"] == "yes"
    everything = (out + err + record.read_text()).upper()
    for key in test_key_hex:
        assert key.upper() not in everything
    assert "0082000A10" + "*" * 32 in record.read_text()  # the cryptogram is not recorded


def test_cli_gen3_without_keys_still_locked(capsys, monkeypatch):
    monkeypatch.delenv("SSCARD_KEYS_FILE", raising=False)
    monkeypatch.delenv("SSCARD_KEYS", raising=False)
    assert run(["read", "--emulator", "gen3", "--json"]) == 7
    doc = json.loads(capsys.readouterr().out)
    assert doc["holder_status"] == "locked" and doc["card"]["authentic"] == "not checked"


@pytest.mark.parametrize(
    "text",
    [
        '[keys.RKSSSE]\n"03" = "00112233445566778899AABBCCDDEEFF"\n'
        '[keys.0011223344556677]\n"03" = "00"\n',
        '[keys.RKSSSE]\n00112233445566778899AABBCCDDEEFF = "03"\n',
        "00112233445566778899AABBCCDDEEFF = 1\n[keys.RKSSSE]\n",
        '[keys]\nRKSSSE = "00112233445566778899AABBCCDDEEFF"\n',
    ],
)
def test_misplaced_key_material_is_never_quoted(tmp_path, text):
    path = tmp_path / "keys.toml"
    path.write_text(text)
    with pytest.raises(errors.InvalidArgument) as info:
        load_keys(str(path))
    assert "0011223344" not in info.value.message and "[keys.NAME]" in info.value.message


def test_key_file_that_is_not_text_or_too_large(tmp_path):
    binary = tmp_path / "bin.toml"
    binary.write_bytes(b"\xff\xfe[keys]\n")
    with pytest.raises(errors.InvalidArgument, match="not UTF-8"):
        load_keys(str(binary))
    with pytest.raises(errors.InvalidArgument, match="not a regular file"):
        load_keys("/dev/zero")
    big = tmp_path / "big.toml"
    big.write_bytes(b"#" * (64 * 1024 + 1))
    with pytest.raises(errors.InvalidArgument, match="larger than"):
        load_keys(str(big))


@pytest.mark.parametrize("answer", ["112233449000", "112233445566778899009000", "9000"])
def test_a_wrong_length_challenge_is_a_card_fault_not_a_usage_error(answer, capsys, monkeypatch):
    def short(i, apdu, r):
        return bytes.fromhex(answer) if apdu[:2] == b"\x00\x84" else None

    emulated, transport = gen3()
    transport.fault = short
    with pytest.raises(errors.ProtocolError, match="GET CHALLENGE") as info:
        Card(transport).read_identity(keys=load_keys("test"), today=TODAY)
    assert info.value.exit_code == errors.ExitCode.COMMUNICATION
    assert sent_ins(transport, 0x82) == 0 and emulated.auth_tries_left == 3

    def faulty(persona, **kw):
        emulated, transport = gen3()
        transport.fault = short
        return Card(transport)

    monkeypatch.setattr("sscard.open_emulator", faulty)
    assert run(["read", "--emulator", "gen3", "--keys", "test"]) == 9
    assert "GET CHALLENGE" in capsys.readouterr().err
    assert run(["read", "--emulator", "gen3", "--keys", "test", "--format", "ireadcardbas"]) == 9
    assert capsys.readouterr().out == "-4|卡无应答|\n"

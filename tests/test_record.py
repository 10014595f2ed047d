"""`--record` traces: replayable, and never holding a PIN or a cryptogram."""

from __future__ import annotations

import json

import pytest

from conftest import emulator, read
from sscard import errors
from sscard.card import Card
from sscard.cli.main import run
from sscard.transport.recording import RecordingTransport
from sscard.transport.replay import ReplayTransport


def test_cli_record_then_replay_gives_the_same_identity(tmp_path, capsys):
    path = tmp_path / "gen2.json"
    assert run(["read", "--emulator", "gen2", "--record", str(path), "--json", "--reveal"]) == 0
    live = json.loads(capsys.readouterr().out)
    doc = json.loads(path.read_text())
    assert doc["format"] == "sscard.trace/1" and len(doc["exchanges"]) == 3
    replayed, _ = read(ReplayTransport.from_file(path))
    assert replayed.holder.social_security_number == live["holder"]["social_security_number"]
    assert replayed == read(emulator("gen2"))[0]


def test_recording_hides_verify_and_authentication_bodies(tmp_path):
    recorder = RecordingTransport(emulator("gen2"))
    with Card(recorder) as card:
        session = card.session
        session.send("select_by_name", data=session.spec.ssse.name, le=0)
        session.send("verify", data=bytes.fromhex("123456"))
        session.send("verify", data=bytes.fromhex("654321"))  # wrong: spends a try
        session.send("get_challenge", le=8)
        session.send("external_authenticate", p2=0x0A, data=bytes.fromhex("AB" * 16))
    path = tmp_path / "trace.json"
    recorder.save(path)
    text = path.read_text()
    assert "123456" not in text and "654321" not in text and "ABABABAB" not in text
    commands = [e["command"] for e in json.loads(text)["exchanges"]]
    assert commands[1] == "0020000003******"
    assert commands[4] == "0082000A10" + "*" * 32
    # the wildcards still replay: same shape, any PIN bytes
    replay = ReplayTransport.from_file(path)
    with Card(replay) as card:
        s = card.session
        s.send("select_by_name", data=s.spec.ssse.name, le=0)
        assert s.send("verify", data=bytes.fromhex("999999")).sw == 0x9000
        assert s.send("verify", data=bytes.fromhex("999999")).tries_left == 2
        s.send("get_challenge", le=8)
        s.send("external_authenticate", p2=0x0A, data=bytes(16))
        with pytest.raises(errors.UnexpectedCommand):
            s.send("get_challenge", le=8)


def test_record_written_even_when_the_read_fails(tmp_path, capsys):
    path = tmp_path / "blocked.json"
    assert run(["read", "--emulator", "ssse-blocked", "--record", str(path)]) == 6
    doc = json.loads(path.read_text())
    assert doc["exchanges"][0]["response"] == "9303"


def test_unwritable_record_path_is_a_usage_error(tmp_path, capsys):
    code = run(["read", "--emulator", "gen2", "--record", str(tmp_path / "no" / "such" / "x.json")])
    assert code == 2
    assert capsys.readouterr().err.startswith("error: ")


def test_unwritable_record_path_is_refused_before_any_apdu(tmp_path, capsys):
    """status --bank-records changes the card (GPO): a bad --record path must not cost it."""
    bad = str(tmp_path / "no" / "such" / "x.json")
    code = run(["status", "--emulator", "gen2", "--bank-records", "--record", bad, "-d"])
    err = capsys.readouterr().err
    assert code == 2 and "cannot write the recording" in err
    assert "> " not in err  # not one APDU was sent
    good = tmp_path / "x.json"
    assert run(["status", "--emulator", "gen2", "--record", str(good)]) == 0
    assert "80CA9F36" in good.read_text()  # positive control: a good path records



@pytest.mark.parametrize("persona", ["gen3", "gen2-t0"])
def test_internal_authentication_answer_is_neither_recorded_nor_traced(tmp_path, persona):
    """The card's INTERNAL AUTHENTICATE answer proves its key (it equals the PSAM's or the
    HSM's result): recorded as wildcards, also when it comes through GET RESPONSE (T=0),
    and hidden in the trace."""
    from conftest import persona_toml
    from sscard.crypto import algorithm_from_id
    from sscard.keysource import AuthContext, load_keys
    lines = []
    transport = emulator(persona)
    recorder = RecordingTransport(transport)
    with Card(recorder, trace=lines.append) as card:
        identity = card.read_identity(keys=load_keys("test"))
    assert identity.authentic == "yes"  # the card gave exactly the expected answer
    path = tmp_path / "auth.json"
    recorder.save(path)
    text = path.read_text()
    command = next(e["command"] for e in json.loads(text)["exchanges"]
                   if e["command"].startswith("00880000"))
    body = bytes.fromhex(command[10:42])
    toml = persona_toml(persona)
    context = AuthContext(algorithm_from_id(toml["algorithm"])[0],
                          toml["ef05"]["card_identification"][:6], transport.atr)
    answer = load_keys("test").internal_expected(context, body[:8], body[8:]).hex().upper()
    assert answer not in text.upper() and answer not in "\n".join(lines).upper()
    assert "*" * 16 in text
    # played back, the exchange stops at the answer that was not recorded
    replay = ReplayTransport.from_file(path)
    for exchange in json.loads(text)["exchanges"]:
        if "*" in exchange["response"]:  # the answer itself, or its GET RESPONSE on T=0
            with pytest.raises(errors.UnexpectedCommand, match="not recorded"):
                replay.transmit(bytes.fromhex(exchange["command"]))
            break
        replay.transmit(bytes.fromhex(exchange["command"]))
    else:
        raise AssertionError("no answer was recorded as wildcards")


def test_a_failing_save_never_hides_the_commands_own_error():
    from sscard.cli.main import _using

    class Unsavable:
        description = "x"

        def save(self, path):
            raise errors.InvalidArgument("cannot write the recording: disk full")

        def close(self):
            pass

    class FakeCard:
        transport = Unsavable()

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return None

    with pytest.raises(errors.CardRemoved):
        with _using(FakeCard(), "x.json"):
            raise errors.CardRemoved()
    with pytest.raises(errors.InvalidArgument, match="disk full"):  # after a success, it shows
        with _using(FakeCard(), "x.json"):
            pass

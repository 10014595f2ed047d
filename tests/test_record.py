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
    assert doc["format"] == "sscard.trace/1" and len(doc["exchanges"]) == 17
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


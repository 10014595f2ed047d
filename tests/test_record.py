"""`--record` traces: replayable, and never holding a PIN or a cryptogram."""

from __future__ import annotations

import json
import os
import stat

import pytest
from helpers import emulator, read

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
        with pytest.raises(errors.UnexpectedCommand, match="command 6 was not recorded"):
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
    from helpers import persona_toml

    from sscard.auth.keysource import AuthContext, load_keys
    from sscard.crypto import algorithm_from_id

    lines = []
    transport = emulator(persona)
    recorder = RecordingTransport(transport)
    with Card(recorder, trace=lines.append) as card:
        identity = card.read_identity(keys=load_keys("test"))
    assert identity.authentic == "yes"  # the card gave exactly the expected answer
    path = tmp_path / "auth.json"
    recorder.save(path)
    text = path.read_text()
    command = next(
        e["command"] for e in json.loads(text)["exchanges"] if e["command"].startswith("00880000")
    )
    body = bytes.fromhex(command[10:42])
    toml = persona_toml(persona)
    context = AuthContext(
        algorithm_from_id(toml["algorithm"])[0],
        toml["ef05"]["card_identification"][:6],
        transport.atr,
    )
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


def test_a_failing_save_never_hides_the_commands_own_error(capsys):
    code = run(
        ["read", "--emulator", "ssse-blocked", "--record", "/dev/full", "--format", "ireadcardbas"]
    )
    out, err = capsys.readouterr()
    assert code == errors.ExitCode.CARD_BLOCKED and out == "-37635|应用已被永久锁定|\n"
    lines = err.splitlines()
    assert len(lines) == 2 and "9303" in lines[0]
    assert lines[1].startswith("error: cannot write the recording to /dev/full")


def test_failed_record_write_after_the_card_changed_still_shows_the_result(capsys):
    """status --bank-records sent its one GPO (the card changed): the result is printed, then
    the recording failure on its own line, with a runtime exit code and both languages."""
    code = run(
        ["status", "--emulator", "gen2", "--bank-records", "--json", "--record", "/dev/full"]
    )
    out, err = capsys.readouterr()
    doc = json.loads(out)
    assert doc["bank"]["gpo_sent"] is True and doc["bank"]["records"]["pan"]
    assert code == errors.ExitCode.FAILURE
    assert err.count("\n") == 1 and err.startswith("error: cannot write the recording")
    assert "No space left on device" in err and "无法写入 APDU 记录文件" in err
    assert "参数无效" not in err


@pytest.fixture
def umask_022():
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_record_file_is_created_owner_only(tmp_path, capsys, umask_022):
    path = tmp_path / "trace.json"
    assert run(["read", "--emulator", "gen2", "--record", str(path)]) == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_an_existing_record_file_is_not_overwritten_unless_asked(
    tmp_path, capsys, monkeypatch, umask_022
):
    path = tmp_path / "trace.json"
    path.write_text("precious")
    path.chmod(0o644)
    import sscard

    def no_card(*a, **k):
        raise AssertionError("the card was opened before the path was checked")

    with monkeypatch.context() as m:
        m.setattr(sscard, "open_emulator", no_card)
        code = run(["status", "--emulator", "gen2", "--bank-records", "--record", str(path)])
    _, err = capsys.readouterr()
    assert code == errors.ExitCode.USAGE and "--overwrite-record" in err and "已存在" in err
    assert path.read_text() == "precious"
    assert run(["read", "--emulator", "gen2", "--record", str(path), "--overwrite-record"]) == 0
    assert json.loads(path.read_text())["format"] == "sscard.trace/1"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_save_never_follows_a_planted_symlink(tmp_path):
    target = tmp_path / "elsewhere"
    target.write_text("keep")
    link = tmp_path / "trace.json"
    link.symlink_to(target)
    recorder = RecordingTransport(emulator("gen2"))
    with pytest.raises(errors.RecordingFailed, match=r"exists \(not overwritten\)"):
        recorder.save(link)
    with pytest.raises(errors.RecordingFailed, match="cannot write the recording to"):
        recorder.save(link, overwrite=True)
    assert target.read_text() == "keep"


class _HangingTransport:
    """A PC/SC-like transport whose plain transmit would block on a mute card: only
    transmit_within (the deadline) may be used; this card never answers in time."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.description = inner.description
        self.deadlines: list[float] = []

    @property
    def atr(self) -> bytes:
        return self.inner.atr

    def transmit(self, apdu: bytes) -> bytes:
        raise AssertionError("APDU sent without a deadline")

    def transmit_within(self, apdu: bytes, seconds: float) -> bytes:
        self.deadlines.append(seconds)
        raise TimeoutError

    def transaction(self):
        return self.inner.transaction()

    def recover_from_reset(self) -> bytes:
        return self.inner.recover_from_reset()

    def close(self) -> None:
        self.inner.close()


def test_recording_keeps_the_deadline_of_the_transport_it_wraps():
    # --record on a real reader: a mute card must still end in CardMute, not hang
    hanging = _HangingTransport(emulator("gen2"))
    with Card(RecordingTransport(hanging), timeout=2.5) as card:
        with pytest.raises(errors.CardMute, match="deadline of one operation"):
            card.read_identity()
    assert hanging.deadlines and all(0 < s <= 2.5 for s in hanging.deadlines)


def test_recording_an_emulated_card_adds_no_deadline_it_does_not_have():
    assert not hasattr(RecordingTransport(emulator("gen2")), "transmit_within")


def test_recording_through_the_deadline_records_every_exchange():
    class Answering(_HangingTransport):
        def transmit_within(self, apdu: bytes, seconds: float) -> bytes:
            self.deadlines.append(seconds)
            return self.inner.transmit(apdu)

    answering = Answering(emulator("gen2"))
    recorder = RecordingTransport(answering)
    identity, _ = read(recorder)
    assert identity == read(emulator("gen2"))[0]
    assert len(recorder.exchanges) == len(answering.deadlines) == 3


def test_the_library_records_what_replay_runs(tmp_path, capsys):
    import sscard

    path = tmp_path / "library.json"
    with sscard.open_emulator("gen2", record=True) as card:
        identity = card.read_identity()
        card.transport.save(path)
    assert run(["replay", str(path), "--json", "--reveal"]) == 0
    replayed = json.loads(capsys.readouterr().out)
    assert replayed["issuer"]["card_number"] == identity.issuer.card_number

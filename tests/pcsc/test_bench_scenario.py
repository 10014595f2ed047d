"""The test bench through a private pcscd: `sscard emulate --scenario/--slots/--control`
driving a PC/SC host program (scenario files on their own: tests/test_scenario_files.py).

The host programs run in child processes (pcsc_stack.own_pcscd says why); the bench itself is
`sscard emulate` in a child process, judged by its JSON event lines (emulate_bench.Emulate).
"""

from __future__ import annotations

import json

import pytest
from emulate_bench import Emulate
from helpers import run_sscard, write_scenario
from pcsc_stack import require_stack

SELECT_SSSE = "00A404000F7378312E73682EC9E7BBE1B1A3D5CF00"
GET_CHALLENGE = "0084000008"


@pytest.fixture(autouse=True)
def _stack():
    require_stack()


def test_scenario_answer_mute_and_pull_as_a_host_sees_them(tmp_path):
    path = write_scenario(
        tmp_path,
        """
        description = "a card that answers 6A82 once, goes mute, then a second card that is pulled"
        [[step]]
        action = "insert"
        slot = 0
        persona = "gen2"
        [[step]]
        action = "insert"
        slot = 1
        persona = "psam"
        [[step]]
        action = "answer"
        slot = 0
        at = 1
        sw = "6A82"
        [[step]]
        action = "mute"
        slot = 0
        at = 3
        mark = "armed"
        [[step]]
        action = "wait"
        slot = 0
        apdus = 3
        [[step]]
        action = "wait"
        seconds = 0.5
        [[step]]
        action = "swap"
        slot = 0
        persona = "gen3"
        [[step]]
        action = "pull"
        slot = 0
        at = 2
        mark = "pull armed"
        [[step]]
        action = "wait"
        slot = 0
        apdus = 2
        [[step]]
        action = "remove"
        slot = 0
    """,
    )
    bench = Emulate("--scenario", str(path), "--slots", "2")
    assert bench.ready["readers"] == ["Virtual PCD 00 00", "Virtual PCD 00 01"]
    bench.wait_for("mark", mark="armed")
    # the mute card: the host's third APDU never gets an answer; the swap pulls the card
    rc, answers = bench.host(0, SELECT_SSSE, SELECT_SSSE, GET_CHALLENGE)
    assert rc == 3 and answers[0] == {"sw": "6A82", "data": ""}
    assert answers[1]["sw"] == "9000" and answers[1]["data"].startswith("6F")
    assert answers[2]["error"] in ("CardConnectionException", "NoCardException")
    bench.wait_for("mark", mark="pull armed")
    rc, answers = bench.host(0, SELECT_SSSE, SELECT_SSSE, SELECT_SSSE)
    assert rc == 3 and answers[0]["sw"] == "9000" and "error" in answers[1]
    assert bench.finish() == 0
    assert bench.kinds(0) == [
        "inserted",
        "armed",
        "armed",
        "apdu",
        "fault:answer",
        "apdu",
        "apdu",
        "fault:mute",
        "removed",
        "inserted",
        "armed",
        "apdu",
        "apdu",
        "fault:pull",
        "removed",
    ]
    removed = [e for e in bench.events if e["event"] == "removed"]
    assert [(e["reason"], e["apdus"]) for e in removed] == [("swap", 3), ("pull", 2), ("end", 0)]
    assert removed[2]["slot"] == 1  # the PSAM stayed in until the end
    headers = [e["header"] for e in bench.events if e["event"] == "apdu"]
    assert headers == ["00A40400", "00A40400", "00840000", "00A40400", "00A40400"]
    assert bench.events[-1]["event"] == "<exit>" and bench.events[-2]["event"] == "done"


def test_control_channel_drives_a_bench_of_three_readers(tmp_path):
    from sscard.testing.client import BenchClient, BenchError

    bench = Emulate("--slots", "3", "--control", "0")
    assert bench.ready["readers"][2] == "Virtual PCD 1 00 00"
    with BenchClient(bench.ready["control"]) as client:
        client.insert(2, "gen2")
        assert client.wait_event(lambda e: e["event"] == "inserted")["slot"] == 2
        with pytest.raises(BenchError, match="slot 2 already holds a card"):
            client.insert(2, "gen3")
        with pytest.raises(BenchError, match="unknown persona"):
            client.insert(0, "nobody")
        with pytest.raises(BenchError, match="takes no \\['colour'\\]"):
            client.request(action="remove", slot=2, colour="red")
        done = run_sscard("read", "-r", "Virtual PCD 1 00 00", "--json", env=bench.env)
        assert done.returncode == 0, done.stderr
        sent = client.apdus(2)
        assert sent[0] == SELECT_SSSE and len(sent) == client.status()[2]["apdus"] >= 3
        client.mute(2, at=len(sent) + 1, seconds=0.5)
        assert client.status()[2]["armed"] == [f"mute@{len(sent) + 1}"]
        rc, answers = bench.host(2, SELECT_SSSE)  # answered, half a second late
        assert rc == 0 and answers[0]["sw"] == "9000"
        assert client.wait_event(lambda e: e["event"] == "unmuted")["at"] == len(sent) + 1
        client.stop()
    assert bench.finish() == 0
    assert [e["reason"] for e in bench.events if e["event"] == "removed"] == ["end"]


def test_an_issuing_station_of_eight_readers(tmp_path):
    steps = "".join(
        f"[[step]]\naction = 'insert'\nslot = {n}\npersona = '{'psam' if n % 2 else 'gen2'}'\n"
        for n in range(8)
    )
    path = write_scenario(tmp_path, steps + "[[step]]\naction = 'wait'\nsignal = 'done'\n")
    bench = Emulate("--scenario", str(path), "--slots", "8", "--control", "0")
    for n in range(8):
        bench.wait_for("inserted", slot=n)
    done = run_sscard("readers", "--json", env=bench.env, timeout=120)
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert [r["reader"] for r in rows] == bench.ready["readers"]
    assert len({r["reader"] for r in rows}) == 8 and all(r["card"] for r in rows)
    assert [r["social_security_card"] for r in rows] == ["yes", "no"] * 4
    from sscard.testing.client import BenchClient

    with BenchClient(bench.ready["control"]) as client:
        client.signal("done")
        assert client.wait_event(lambda e: e["event"] == "signal")["name"] == "done"
        client.stop()
    assert bench.finish() == 0
    assert sorted(e["slot"] for e in bench.events if e["event"] == "removed") == list(range(8))


def test_cards_on_a_private_pcscd_stay_until_sigterm_and_the_socket_goes_with_them(tmp_path):
    socket_path = tmp_path / "kiosk.comm"
    socket_path.touch()
    import os
    import socket as _socket

    os.unlink(socket_path)
    stale = _socket.socket(_socket.AF_UNIX)
    stale.bind(str(socket_path))  # a socket nobody listens on: left by a bench that died
    stale.close()
    bench = Emulate("gen2", "--psam", "--slots", "2", "--socket", str(socket_path))
    assert bench.ready["socket"] == str(socket_path)
    bench.wait_for("inserted", slot=1)
    rc, answers = bench.host(0, SELECT_SSSE)
    assert rc == 0 and answers[0]["sw"] == "9000"
    assert bench.proc.poll() is None  # still serving
    busy = run_sscard("emulate", "--slots", "1", "--socket", str(socket_path), "gen2")
    assert busy.returncode == 2 and "in use by a running pcscd" in busy.stderr
    bench.proc.terminate()
    assert bench.finish() == 0
    assert sorted((e["slot"], e["reason"]) for e in bench.events if e["event"] == "removed") == [
        (0, "end"),
        (1, "end"),
    ]
    assert not socket_path.exists()


def test_ctrl_c_takes_the_cards_out_and_exits_130():
    import signal

    bench = Emulate("gen2", "--slots", "1")
    bench.wait_for("inserted", slot=0)
    bench.proc.send_signal(signal.SIGINT)
    assert bench.finish() == 130
    assert [e["event"] for e in bench.events][-3:] == ["removed", "done", "<exit>"]

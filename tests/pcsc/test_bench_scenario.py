"""The test bench: scenario files, their checks, and `sscard emulate --scenario/--slots/--control`
driving a PC/SC host program through a private pcscd.

The host programs run in child processes (pcsc_stack.own_pcscd says why); the bench itself is
`sscard emulate` in a child process, judged by its JSON event lines.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from sscard.emulator.bench import BenchSlot, _Card
from sscard.emulator.scenario import check_steps, load_scenario, parse_step
from sscard.errors import InvalidArgument, SpecError
from sscard.testing.pcscd import missing_reason

SSCARD = [sys.executable, "-c", "import sys; from sscard.cli.main import main; main(sys.argv[1:])"]


def _scenario(tmp_path: Path, text: str, name: str = "s.toml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


# --- the file format and its checks (no PC/SC) ----------------------------------------------


@pytest.mark.parametrize(
    "table, message",
    [
        ({"action": "dance", "slot": 0}, "is not one of"),
        ({"action": "insert", "slot": 0}, "needs ['persona']"),
        ({"action": "insert", "slot": 0, "persona": "gen2", "at": 3}, "takes no ['at']"),
        ({"action": "remove", "slot": "0"}, "wrong type"),
        ({"action": "remove", "slot": True}, "wrong type"),
        ({"action": "remove", "slot": 16}, "'slot' must be 0 to 15"),
        ({"action": "mute", "slot": 0, "at": 0}, "'at' must be 1"),
        ({"action": "mute", "slot": 0, "at": 2, "seconds": 0}, "omit it for ever"),
        ({"action": "answer", "slot": 0, "at": 2, "sw": "6A8"}, "not hex"),
        ({"action": "answer", "slot": 0, "at": 2, "sw": "1234"}, "status word"),
        ({"action": "slow", "ms": 60001}, "'ms' must be 0 to 60000"),
        ({"action": "wait"}, "exactly one of"),
        ({"action": "wait", "seconds": 1, "apdus": 3, "slot": 0}, "exactly one of"),
        ({"action": "wait", "apdus": 3}, "needs a 'slot'"),
        ({"action": "wait", "seconds": 1, "slot": 0}, "needs a 'slot'"),
        ({"action": "wait", "signal": " "}, "'signal' is empty"),
        ({"action": "insert", "slot": 0, "persona": ""}, "'persona' is empty"),
    ],
)
def test_a_bad_step_is_refused_with_its_reason(table, message):
    with pytest.raises(SpecError, match="step 3") as caught:
        parse_step(table, "scenario x step 3")
    assert message in str(caught.value)


def test_steps_are_played_on_paper_before_anything_runs():
    insert = parse_step({"action": "insert", "slot": 0, "persona": "gen2"}, "s")
    remove = parse_step({"action": "remove", "slot": 0}, "s")
    mute = parse_step({"action": "mute", "slot": 1, "at": 4}, "s")
    wait_signal = parse_step({"action": "wait", "signal": "go"}, "s")
    assert check_steps([insert, remove, insert], 2, "s") == {0}
    pull = parse_step({"action": "pull", "slot": 0, "at": 2}, "s")
    assert check_steps([insert, pull, insert], 2, "s") == {0}
    assert check_steps([insert, pull, remove], 2, "s") == set()
    with pytest.raises(SpecError, match="step 4 .insert.: slot 0 already holds"):
        check_steps([insert, pull, insert, insert], 2, "s")
    with pytest.raises(SpecError, match="already holds a card"):
        check_steps([insert, insert], 2, "s")
    with pytest.raises(SpecError, match="step 1 .remove.: slot 0 holds no card"):
        check_steps([remove], 2, "s")
    with pytest.raises(SpecError, match="slot 1 holds no card"):
        check_steps([insert, mute], 2, "s")
    with pytest.raises(SpecError, match="slot 0 already holds"):
        check_steps([insert], 2, "s", occupied={0})
    with pytest.raises(SpecError, match="slot 1 does not exist"):
        check_steps([insert, mute], 1, "s")
    with pytest.raises(SpecError, match="needs --control"):
        check_steps([wait_signal], 1, "s")
    assert check_steps([wait_signal], 1, "s", has_control=True) == set()


def test_slow_is_the_wire_model_of_the_benchmarks_on_each_slot():
    """`slow` sets the vpcd link's WireModel (one delay mechanism, sscard.emulator.wire): on the
    card in the slot now, and on every card inserted later."""
    from types import SimpleNamespace

    from sscard.emulator.bench import Bench
    from sscard.emulator.wire import WireModel

    events = []
    bench = Bench(["a", "b"], [1, 2], events.append)
    bench.slots[1].link = SimpleNamespace(wire=None)  # a card being served
    bench.run_step(parse_step({"action": "slow", "ms": 15, "bit_rate": 9600}, "s"))
    assert [s.wire for s in bench.slots] == [WireModel(15, 9600)] * 2
    assert bench.slots[1].link.wire == WireModel(15, 9600)
    bench.run_step(parse_step({"action": "slow", "ms": 250, "slot": 0}, "s"))
    assert [s.wire for s in bench.slots] == [WireModel(250, 0), WireModel(15, 9600)]
    bench.run_step(parse_step({"action": "slow", "ms": 0}, "s"))
    assert [s.wire for s in bench.slots] == [None, None] and bench.slots[1].link.wire is None
    assert [(e["slot"], e["ms"], e["bit_rate"]) for e in events] == [
        (None, 15, 9600),
        (0, 250, 0),
        (None, 0, 0),
    ]


def test_a_scenario_file_is_read_strictly(tmp_path):
    good = _scenario(
        tmp_path,
        """
        description = "two readers"
        [[step]]
        action = "insert"
        slot = 1
        persona = "psam"
        mark = "psam in"
        [[step]]
        action = "answer"
        slot = 1
        at = 2
        sw = "6a82"
    """,
    )
    scenario = load_scenario(good)
    assert scenario.slots == 2 and scenario.base == tmp_path.resolve()
    assert scenario.steps[0].mark == "psam in" and scenario.steps[1].sw == 0x6A82
    assert scenario.steps[1].to_json() == {"action": "answer", "slot": 1, "at": 2, "sw": "6A82"}
    with pytest.raises(SpecError, match=r"unknown key\(s\) \['steps'\]"):
        load_scenario(_scenario(tmp_path, "[[steps]]\naction = 'remove'\nslot = 0\n", "a.toml"))
    with pytest.raises(SpecError, match="no \\[\\[step\\]\\]"):
        load_scenario(_scenario(tmp_path, "description = 'nothing'\n", "b.toml"))
    with pytest.raises(SpecError, match="step 2"):
        load_scenario(
            _scenario(
                tmp_path,
                "[[step]]\naction = 'insert'\nslot = 0\npersona = 'gen2'\n"
                "[[step]]\naction = 'insert'\nslot = 0\npersona = 'gen3'\n",
                "c.toml",
            )
        )
    with pytest.raises(InvalidArgument, match="not found"):
        load_scenario(tmp_path / "missing.toml")


def test_answer_replaces_one_answer():
    """The fault layer over a card, without vpcd: what each APDU gets."""
    from sscard.emulator import SocialSecurityCard

    slot = BenchSlot(0, "r", "127.0.0.1", 1, lambda *a, **k: None)
    card = _Card(slot, SocialSecurityCard.from_persona("gen2"))
    select = bytes.fromhex("00A404000F7378312E73682EC9E7BBE1B1A3D5CF00")
    slot.arm(parse_step({"action": "answer", "slot": 0, "at": 2, "sw": "6A82"}, "s"))
    for n, expected in enumerate((b"\x90\x00", b"\x6a\x82", b"\x90\x00")):
        slot._on_apdu(n, select)
        assert card.execute(select)[-2:] == expected
    assert slot.count == 3
    with pytest.raises(Exception, match="already received 3"):
        slot.arm(parse_step({"action": "pull", "slot": 0, "at": 3}, "s"))


def _emulate(*args, timeout=60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*SSCARD, "emulate", *args], capture_output=True, text=True, timeout=timeout
    )


@pytest.mark.parametrize(
    "text, message",
    [
        ("[[step]]\naction = 'insert'\nslot = 0\npersona = 'nobody'\n", "unknown persona 'nobody'"),
        (
            "[[step]]\naction = 'insert'\nslot = 0\npersona = 'cards/missing.toml'\n",
            "persona file not found",
        ),
        (
            "[[step]]\naction = 'insert'\nslot = 0\npersona = 'gen2'\n"
            "[[step]]\naction = 'insert'\nslot = 0\npersona = 'gen3'\n",
            "already holds a card",
        ),
        (
            "[[step]]\naction = 'insert'\nslot = 0\npersona = 'gen2'\n"
            "[[step]]\naction = 'mute'\nslot = 0\nat = 'four'\n",
            "'at' has the wrong type",
        ),
        ("[[step]]\naction = 'wait'\nsignal = 'go'\n", "needs --control"),
        ("slots = 3\n[[step]]\naction = 'insert'\nslot = 2\npersona = 'gen2'\n", "needs 3 slots"),
    ],
)
def test_a_scenario_that_cannot_run_fails_before_anything_starts(tmp_path, text, message):
    path = _scenario(tmp_path, text)
    for extra in ([], ["--slots", "2"]):
        done = _emulate("--scenario", str(path), *extra)
        assert done.returncode == 2, done.stderr
        assert done.stdout == ""  # not even "ready": no pcscd was started, no card inserted
        assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1
        assert message in done.stderr


def test_a_refused_scenario_leaves_nothing_behind(tmp_path):
    import os

    temp = tmp_path / "tmp"
    temp.mkdir()
    path = _scenario(tmp_path, "[[step]]\naction = 'remove'\nslot = 0\n")
    done = subprocess.run(
        [*SSCARD, "emulate", "--scenario", str(path), "--slots", "2"],
        env=dict(os.environ, TMPDIR=str(temp)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "holds no card" in done.stderr
    assert list(temp.iterdir()) == []
    not_a_socket = tmp_path / "file"
    not_a_socket.write_text("x")
    done = _emulate("--slots", "1", "--socket", str(not_a_socket), "gen2")
    assert done.returncode == 2 and "is not a socket" in done.stderr and not_a_socket.exists()


def test_a_persona_file_is_found_next_to_the_scenario(tmp_path):
    (tmp_path / "cards").mkdir()
    source = Path(__file__).resolve().parents[2] / "sscard/emulator/personas/gen3.toml"
    (tmp_path / "cards" / "mine.toml").write_text(
        source.read_text("utf-8").replace('description = "', 'unknown_key = 1\ndescription = "'),
        encoding="utf-8",
    )
    path = _scenario(
        tmp_path, "[[step]]\naction = 'insert'\nslot = 0\npersona = 'cards/mine.toml'\n"
    )
    done = _emulate("--scenario", str(path), "--slots", "1")
    assert (
        done.returncode == 2
        and "step 1: persona mine: unknown key(s) ['unknown_key']" in done.stderr
    )


# --- through a private pcscd ------------------------------------------------------------------


def _require_stack():
    import os

    if missing_reason():
        if os.environ.get("CI"):
            pytest.fail(f"CI must install the PC/SC stack (.ci/setup.sh): {missing_reason()}")
        pytest.skip(missing_reason())


HOST = """
import json, sys
from smartcard.System import readers
from smartcard.Exceptions import SmartcardException
reader = next(r for r in readers() if str(r) == sys.argv[1])
connection = reader.createConnection()
connection.connect()
for apdu in sys.argv[2:]:
    try:
        data, sw1, sw2 = connection.transmit(list(bytes.fromhex(apdu)))
        answer = {"sw": f"{sw1:02X}{sw2:02X}", "data": bytes(data).hex().upper()}
        print(json.dumps(answer), flush=True)
    except SmartcardException as e:
        print(json.dumps({"error": type(e).__name__}), flush=True)
        sys.exit(3)
"""
SELECT_SSSE = "00A404000F7378312E73682EC9E7BBE1B1A3D5CF00"
GET_CHALLENGE = "0084000008"


_RUNNING: list[subprocess.Popen] = []


@pytest.fixture(autouse=True)
def _stop_leftover_benches():
    yield
    while _RUNNING:
        proc = _RUNNING.pop()
        if proc.poll() is None:  # a failed test: stop it by its PID (it removes its cards)
            proc.terminate()
            proc.wait(30)


class Emulate:
    """`sscard emulate …` in the background; its events as they come."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [*SSCARD, "emulate", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        _RUNNING.append(self.proc)
        self.events: list[dict] = []
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        self.ready = self.wait_for("ready")
        self.env = dict(__import__("os").environ, PCSCLITE_CSOCK_NAME=self.ready["socket"])

    def _read(self) -> None:
        for line in self.proc.stdout:
            with self._cond:
                self.events.append(json.loads(line))
                self._cond.notify_all()
        with self._cond:
            self.events.append({"event": "<exit>"})
            self._cond.notify_all()

    def wait_for(self, event: str, timeout: float = 30, **fields) -> dict:
        def find():
            return next(
                (
                    e
                    for e in self.events
                    if e["event"] == event and all(e.get(k) == v for k, v in fields.items())
                ),
                None,
            )

        with self._cond:
            self._cond.wait_for(
                lambda: find() or any(e["event"] == "<exit>" for e in self.events), timeout
            )
            result = find()
        stderr = self.proc.stderr.read() if self.proc.poll() is not None else ""
        assert result, f"no {event} {fields} in {self.events}; stderr: {stderr}"
        return result

    def host(self, slot: int, *apdus: str) -> tuple[int, list[dict]]:
        done = subprocess.run(
            [sys.executable, "-c", HOST, self.ready["readers"][slot], *apdus],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        return done.returncode, [json.loads(line) for line in done.stdout.splitlines()]

    def finish(self, timeout: float = 60) -> int:
        rc = self.proc.wait(timeout)
        self._thread.join(5)
        self.proc.stderr.close()
        return rc

    def kinds(self, slot: int) -> list[str]:
        return [
            e["event"] if e["event"] != "fault" else f"fault:{e['fault']}"
            for e in self.events
            if e.get("slot") == slot
        ]


def test_scenario_answer_mute_and_pull_as_a_host_sees_them(tmp_path):
    _require_stack()
    path = _scenario(
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
    _require_stack()
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
        done = subprocess.run(
            [*SSCARD, "read", "-r", "Virtual PCD 1 00 00", "--json"],
            env=bench.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
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
    _require_stack()
    steps = "".join(
        f"[[step]]\naction = 'insert'\nslot = {n}\npersona = '{'psam' if n % 2 else 'gen2'}'\n"
        for n in range(8)
    )
    path = _scenario(tmp_path, steps + "[[step]]\naction = 'wait'\nsignal = 'done'\n")
    bench = Emulate("--scenario", str(path), "--slots", "8", "--control", "0")
    for n in range(8):
        bench.wait_for("inserted", slot=n)
    done = subprocess.run(
        [*SSCARD, "readers", "--json"], env=bench.env, capture_output=True, text=True, timeout=120
    )
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
    _require_stack()
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
    busy = _emulate("--slots", "1", "--socket", str(socket_path), "gen2")
    assert busy.returncode == 2 and "in use by a running pcscd" in busy.stderr
    bench.proc.terminate()
    assert bench.finish() == 0
    assert sorted((e["slot"], e["reason"]) for e in bench.events if e["event"] == "removed") == [
        (0, "end"),
        (1, "end"),
    ]
    assert not socket_path.exists()


def test_ctrl_c_takes_the_cards_out_and_exits_130():
    _require_stack()
    import signal

    bench = Emulate("gen2", "--slots", "1")
    bench.wait_for("inserted", slot=0)
    bench.proc.send_signal(signal.SIGINT)
    assert bench.finish() == 130
    assert [e["event"] for e in bench.events][-3:] == ["removed", "done", "<exit>"]

"""The test bench's scenario files: their format and checks, the fault layer over a card, and
the scenarios `sscard emulate` refuses before it starts anything (no pcscd, no card).  The
bench through a private pcscd is tested in tests/pcsc/test_bench_scenario.py."""

from __future__ import annotations

import pytest
from helpers import PERSONA_DIR, run_sscard, write_scenario

from sscard.emulator.bench import BenchSlot, _Card
from sscard.emulator.scenario import check_steps, load_scenario, parse_step
from sscard.errors import InvalidArgument, SpecError


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
    good = write_scenario(
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
        load_scenario(
            write_scenario(tmp_path, "[[steps]]\naction = 'remove'\nslot = 0\n", "a.toml")
        )
    with pytest.raises(SpecError, match="no \\[\\[step\\]\\]"):
        load_scenario(write_scenario(tmp_path, "description = 'nothing'\n", "b.toml"))
    with pytest.raises(SpecError, match="step 2"):
        load_scenario(
            write_scenario(
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
    path = write_scenario(tmp_path, text)
    for extra in ([], ["--slots", "2"]):
        done = run_sscard("emulate", "--scenario", str(path), *extra)
        assert done.returncode == 2, done.stderr
        assert done.stdout == ""  # not even "ready": no pcscd was started, no card inserted
        assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1
        assert message in done.stderr


def test_a_refused_scenario_leaves_nothing_behind(tmp_path):
    import os

    temp = tmp_path / "tmp"
    temp.mkdir()
    path = write_scenario(tmp_path, "[[step]]\naction = 'remove'\nslot = 0\n")
    done = run_sscard(
        "emulate", "--scenario", str(path), "--slots", "2", env=dict(os.environ, TMPDIR=str(temp))
    )
    assert done.returncode == 2 and "holds no card" in done.stderr
    assert list(temp.iterdir()) == []
    not_a_socket = tmp_path / "file"
    not_a_socket.write_text("x")
    done = run_sscard("emulate", "--slots", "1", "--socket", str(not_a_socket), "gen2")
    assert done.returncode == 2 and "is not a socket" in done.stderr and not_a_socket.exists()


def test_a_persona_file_is_found_next_to_the_scenario(tmp_path):
    (tmp_path / "cards").mkdir()
    source = PERSONA_DIR / "gen3.toml"
    (tmp_path / "cards" / "mine.toml").write_text(
        source.read_text("utf-8").replace('description = "', 'unknown_key = 1\ndescription = "'),
        encoding="utf-8",
    )
    path = write_scenario(
        tmp_path, "[[step]]\naction = 'insert'\nslot = 0\npersona = 'cards/mine.toml'\n"
    )
    done = run_sscard("emulate", "--scenario", str(path), "--slots", "1")
    assert (
        done.returncode == 2
        and "step 1: persona mine: unknown key(s) ['unknown_key']" in done.stderr
    )

"""The kiosk program under test on the sscard bench: a template to copy.

Run with the sscard pytest plugin loaded (`pytest -p sscard.testing`, which pytest.ini here
does).  Each test puts cards in the virtual readers, arms a fault, runs the program as the kiosk
runs it (a separate process, here Python; any language works the same way: it only needs the
reader names and PCSCLITE_CSOCK_NAME from `reader.env`) and asserts what it did: its exit code,
its output, and the APDUs it sent.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
KIOSK = HERE / "kiosk.py"
CARD = (
    HERE / "cards" / "gen3-bank-blocked.toml"
)  # sscard personas new --generation 3 --region 440300 --seed 7 --bank blocked
CARD_NUMBER = "A34835674"


@pytest.fixture
def kiosk(virtual_readers):
    """Run the kiosk against reader 1 (card) and reader 2 (PSAM): (exit code, its JSON)."""
    card_reader, psam_reader = virtual_readers[:2]

    def run(timeout=60):
        done = subprocess.run(
            [sys.executable, str(KIOSK), card_reader.name, psam_reader.name],
            env=dict(card_reader.env, KIOSK_APDU_TIMEOUT="2"),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        return done.returncode, json.loads(done.stdout)

    return run


def test_reads_the_card_and_sees_the_blocked_bank_application(virtual_readers, kiosk):
    card, psam = virtual_readers[:2]
    card.insert(CARD)
    psam.insert("psam")
    assert kiosk() == (
        0,
        {"result": "read", "card_number": CARD_NUMBER, "expiry": "20331026", "bank": "blocked"},
    )
    assert [apdu[:2].hex().upper() for apdu in card.apdus()] == [
        "00A4",
        "00A4",
        "00B2",
        "00B2",
        "00A4",
    ]


def test_a_card_that_goes_mute_at_the_fourth_apdu_does_not_freeze_the_kiosk(virtual_readers, kiosk):
    card, psam = virtual_readers[:2]
    card.insert(CARD)
    psam.insert("psam")
    card.fault("mute", at=4)  # for ever: only the kiosk's own deadline gets it out
    assert kiosk() == (3, {"result": "card not answering", "apdu": "00B20600"})
    assert len(card.apdus()) == 4
    assert [e["fault"] for e in card.events() if e["event"] == "fault"] == ["mute"]


def test_a_card_pulled_during_the_read(virtual_readers, kiosk):
    card, psam = virtual_readers[:2]
    card.insert(CARD)
    psam.insert("psam")
    card.fault("pull", at=3)
    assert kiosk() == (4, {"result": "card removed", "apdu": "00B20700"})
    assert not card.occupied


def test_no_psam(virtual_readers, kiosk):
    virtual_readers[0].insert(CARD)
    assert kiosk() == (5, {"result": "no PSAM"})
    assert virtual_readers[0].apdus() == []  # the card is not touched without a PSAM


def test_the_same_from_any_language_with_a_scenario_file(tmp_path):
    """The bench as a separate program (`sscard emulate`), the way a kiosk written in another
    language is tested: a scenario file, the event log on stdout, exit codes."""
    scenario = HERE / "mute-at-4.toml"
    bench = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sscard.cli.main",
            "emulate",
            "--slots",
            "2",
            "--scenario",
            str(scenario),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        ready = json.loads(bench.stdout.readline())
        assert ready["event"] == "ready"
        events = []
        while not any(e.get("mark") == "armed" for e in events):  # the cards are in
            events.append(json.loads(bench.stdout.readline()))
        card_reader, psam_reader = ready["readers"]
        done = subprocess.run(
            [sys.executable, str(KIOSK), card_reader, psam_reader],
            env=dict(
                __import__("os").environ,
                KIOSK_APDU_TIMEOUT="2",
                PCSCLITE_CSOCK_NAME=ready["socket"],
            ),
            capture_output=True,
            text=True,
            timeout=60,
        )
        events += [json.loads(line) for line in bench.stdout]
    finally:
        if bench.poll() is None and bench.wait(60) is None:
            bench.terminate()
    assert bench.returncode == 0
    assert done.returncode == 3 and json.loads(done.stdout)["result"] == "card not answering"
    faults = [e for e in events if e["event"] == "fault"]
    assert [(e["slot"], e["fault"], e["at"]) for e in faults] == [(0, "mute", 4)]
    assert [e["count"] for e in events if e["event"] == "apdu" and e["slot"] == 0] == [1, 2, 3, 4]

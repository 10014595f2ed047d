"""End to end through a private pcscd: a generation-3 card in 'Virtual PCD 00 00', the software
PSAM in 'Virtual PCD 00 01', read by `sscard read -r … --psam …` as a kiosk would.

The bench is sscard's pytest plugin (sscard.testing: `pcsc_bench`, `virtual_readers`); every
PC/SC call runs in a subprocess, the CLI.  Skipped where pcscd or vpcd is missing (not on CI).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

from helpers import SSCARD, persona_toml
from pcsc_stack import READERS

from sscard.emulator import SocialSecurityCard
from sscard.emulator.psam_card import PsamCard

ROOT = Path(__file__).resolve().parents[2]
PSAM_TOML = tomllib.loads((ROOT / "sscard" / "emulator" / "psam.toml").read_text("utf-8"))
CARD_READER, PSAM_READER = "PCD 00 00", "PCD 00 01"  # name parts, as a user types them


def _cli(bench, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*SSCARD, *args], env=bench.env, capture_output=True, text=True, timeout=120
    )


def _gen3(readers):
    """The card in slot 0, and the instructions it received."""
    card = SocialSecurityCard.from_persona("gen3")
    readers[0].insert(card)
    return card, lambda: [apdu[1] for apdu in readers[0].apdus()]


def test_gen3_card_read_with_the_psam_in_the_second_slot(pcsc_bench, virtual_readers):
    stack = pcsc_bench
    card, received = _gen3(virtual_readers)
    virtual_readers[1].insert(PsamCard.from_file())
    result = _cli(stack, "read", "-r", CARD_READER, "--psam", PSAM_READER, "--json", "--reveal")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    raw = persona_toml("gen3")
    assert document["complete"] and document["holder_status"] == "read"
    assert document["card"]["authentic"] == "yes"
    assert document["holder"]["social_security_number"] == raw["ef06"]["social_security_number"]
    assert document["holder"]["name"] == raw["ef06"]["name"]
    assert document["holder"]["birth_date"] == raw["ef06"]["birth_date"].isoformat()
    assert document["issuer"]["card_number"] == raw["ef05"]["card_number"]
    assert document["source"]["name"] == READERS[0]
    assert document["source"]["psam"]["terminal_number"] == PSAM_TOML["terminal_number"]
    assert virtual_readers[1].apdus() and received().count(0x82) == 1
    assert card.auth_tries_left == 3

    result = _cli(
        stack,
        "read",
        "-r",
        CARD_READER,
        "--psam",
        PSAM_READER,
        "--format",
        "ireadcardbas",
        "--reveal",
    )
    assert result.returncode == 0, result.stderr
    fields = result.stdout.rstrip("\n").split("|")
    assert fields[1] == raw["ef06"]["social_security_number"]
    assert fields[9] == PSAM_TOML["terminal_number"]

    # without -r the card is looked for in the readers other than the PSAM's
    result = _cli(stack, "read", "--psam", PSAM_READER, "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["source"]["name"] == READERS[0]


def test_psam_without_the_read_key_costs_the_card_nothing(pcsc_bench, virtual_readers):
    card, received = _gen3(virtual_readers)
    virtual_readers[1].insert(PsamCard.from_file(keys=("IRK",)))
    result = _cli(
        pcsc_bench, "read", "-r", CARD_READER, "--psam", PSAM_READER, "--format", "ireadcardbas"
    )
    assert result.returncode == 12, result.stderr
    assert result.stdout == "-2203|PSAM无RKSSSE|\n"
    assert 0x82 not in received() and card.auth_tries_left == 3


def test_empty_psam_reader(pcsc_bench, virtual_readers):
    _card, received = _gen3(virtual_readers)
    result = _cli(
        pcsc_bench, "read", "-r", CARD_READER, "--psam", PSAM_READER, "--format", "ireadcardbas"
    )
    assert result.returncode == 12, result.stderr
    assert result.stdout == "-2201|无PSAM卡|\n"
    assert received() == []  # the PSAM is opened first: the card was not touched


def test_emulate_command_serves_the_card_and_the_psam(pcsc_bench, virtual_readers):
    stack = pcsc_bench  # its readers are empty: `sscard emulate` puts the cards in
    watch = stack.observer
    emulate = subprocess.Popen(
        [
            *SSCARD,
            "emulate",
            "gen3",
            "--psam",
            "--port",
            str(stack.daemon.port),
            "--seconds",
            "120",
        ],
        env=stack.env,
        stderr=subprocess.PIPE,
        text=True,
    )
    counters = []
    try:
        lines = [emulate.stderr.readline(), emulate.stderr.readline()]
        assert "'gen3' inserted in vpcd slot 0" in lines[0]
        assert "'psam' inserted in vpcd slot 1" in lines[1]
        counters += [watch.wait_state(READERS[0], True), watch.wait_state(READERS[1], True)]
        result = _cli(stack, "read", "-r", CARD_READER, "--psam", PSAM_READER, "--json")
        assert result.returncode == 0, result.stderr
        document = json.loads(result.stdout)
        assert document["complete"] and document["card"]["authentic"] == "yes"
    finally:
        emulate.terminate()
        assert emulate.wait(10) == 0
    for slot, counter in enumerate(counters):
        watch.wait_state(READERS[slot], False, after=counter)


def test_open_excludes_the_psams_reader_whatever_it_holds(pcsc_bench, virtual_readers):
    """`sscard.open(exclude=…)` (what `--psam` without `-r` uses): the excluded reader is
    never chosen, even when it holds a user card the default choice would take first."""
    virtual_readers[0].insert(SocialSecurityCard.from_persona("gen2"))
    virtual_readers[1].insert(SocialSecurityCard.from_persona("gen3"))
    script = (
        "import sys, sscard\n"
        "try:\n"
        "    with sscard.open(exclude=sys.argv[1:]) as card:\n"
        "        print(card.description, card.read_identity().issuer.card_number)\n"
        "except sscard.errors.NoReader as e:\n"
        "    print('NoReader', e.message, e.zh)\n"
    )

    def opened(*exclude: str) -> str:
        result = subprocess.run(
            [sys.executable, "-c", script, *exclude],
            env=pcsc_bench.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    number = {p: persona_toml(p)["ef05"]["card_number"] for p in ("gen2", "gen3")}
    assert opened() == f"{READERS[0]} {number['gen2']}"
    assert opened(READERS[0]) == f"{READERS[1]} {number['gen3']}"
    listed = f"{READERS[0]!r}, {READERS[1]!r}"
    assert opened(*READERS) == f"NoReader no reader besides {listed} 除 {listed} 外无读卡器"

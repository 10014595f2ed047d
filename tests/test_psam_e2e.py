"""End to end through a private pcscd: a generation-3 card in 'Virtual PCD 00 00', the software
PSAM in 'Virtual PCD 00 01', read by `sscard read -r … --psam …` as a kiosk would.

Every PC/SC call runs in a subprocess, the CLI or a pcsc_stack helper (pcsc_stack.own_pcscd
and run_in_child say why).  Skipped where pcscd or vpcd is missing (not on CI).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from conftest import persona_toml
from pcsc_stack import READERS, own_pcscd, wait_state_in_child
from sscard.emulator import SocialSecurityCard
from sscard.emulator.psam_card import PsamCard
from sscard.emulator.vpcd import VpcdLink

ROOT = Path(__file__).resolve().parents[1]
PSAM_TOML = tomllib.loads((ROOT / "sscard" / "emulator" / "psam.toml").read_text("utf-8"))
CARD_READER, PSAM_READER = "PCD 00 00", "PCD 00 01"  # name parts, as a user types them


@pytest.fixture(scope="module")
def stack():
    yield from own_pcscd()


def _wait_state(daemon, slot: int, present: bool, after: int | None = None) -> int:
    return wait_state_in_child(daemon, READERS[slot], present, after)


SSCARD = [sys.executable, "-c", "import sys; from sscard.cli.main import main; main(sys.argv[1:])"]


def _cli(daemon, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*SSCARD, *args],
                          env=daemon.client_env(), capture_output=True, text=True, timeout=120)


@pytest.fixture
def slots(stack):
    links = []

    def insert(card, slot: int, **kwargs) -> VpcdLink:
        link = VpcdLink(card, port=stack.port + slot, **kwargs).insert()
        links.append((link, slot, _wait_state(stack, slot, True)))
        return link
    yield insert
    for link, slot, counter in links:
        link.remove()
        _wait_state(stack, slot, False, after=counter)


def _gen3(slots):
    """The card in slot 0, with the instructions it received."""
    card = SocialSecurityCard.from_persona("gen3")
    received: list[int] = []
    slots(card, 0, on_apdu=lambda index, apdu: received.append(apdu[1]))
    return card, received


def test_gen3_card_read_with_the_psam_in_the_second_slot(stack, slots):
    card, received = _gen3(slots)
    psam = slots(PsamCard.from_file(), 1)
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
    assert psam.apdus > 0 and received.count(0x82) == 1 and card.auth_tries_left == 3

    result = _cli(stack, "read", "-r", CARD_READER, "--psam", PSAM_READER, "--format",
                  "ireadcardbas", "--reveal")
    assert result.returncode == 0, result.stderr
    fields = result.stdout.rstrip("\n").split("|")
    assert fields[1] == raw["ef06"]["social_security_number"]
    assert fields[9] == PSAM_TOML["terminal_number"]

    # without -r the card is looked for in the readers other than the PSAM's
    result = _cli(stack, "read", "--psam", PSAM_READER, "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["source"]["name"] == READERS[0]


def test_psam_without_the_read_key_costs_the_card_nothing(stack, slots):
    card, received = _gen3(slots)
    slots(PsamCard.from_file(keys=("IRK",)), 1)
    result = _cli(stack, "read", "-r", CARD_READER, "--psam", PSAM_READER, "--format",
                  "ireadcardbas")
    assert result.returncode == 12, result.stderr
    assert result.stdout == "-2203|PSAM无RKSSSE|\n"
    assert 0x82 not in received and card.auth_tries_left == 3


def test_empty_psam_reader(stack, slots):
    _card, received = _gen3(slots)
    result = _cli(stack, "read", "-r", CARD_READER, "--psam", PSAM_READER, "--format",
                  "ireadcardbas")
    assert result.returncode == 12, result.stderr
    assert result.stdout == "-2201|无PSAM卡|\n"
    assert received == []  # the PSAM is opened first: the card was not touched


def test_emulate_command_serves_the_card_and_the_psam(stack):
    emulate = subprocess.Popen(
        [*SSCARD, "emulate", "gen3", "--psam", "--port", str(stack.port), "--seconds", "120"],
        env=stack.client_env(), stderr=subprocess.PIPE, text=True)
    counters = []
    try:
        lines = [emulate.stderr.readline(), emulate.stderr.readline()]
        assert "'gen3' inserted in vpcd slot 0" in lines[0]
        assert "'psam' inserted in vpcd slot 1" in lines[1]
        counters += [_wait_state(stack, 0, True), _wait_state(stack, 1, True)]
        result = _cli(stack, "read", "-r", CARD_READER, "--psam", PSAM_READER, "--json")
        assert result.returncode == 0, result.stderr
        document = json.loads(result.stdout)
        assert document["complete"] and document["card"]["authentic"] == "yes"
    finally:
        emulate.terminate()
        assert emulate.wait(10) == 0
    for slot, counter in enumerate(counters):
        _wait_state(stack, slot, False, after=counter)

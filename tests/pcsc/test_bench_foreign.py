"""The bench proven with programs that are not sscard: `opensc-tool` (OpenSC), python-emv's
`emvtool`, and the example kiosk program (pyscard).  Each is driven through one scenario — a
clean run, then the card pulled at an APDU, then a card that goes mute — and judged by its exit
codes and by the bench's event log.  The scenario waits on signals between the phases
(`wait signal`), sent over the control channel once the program has finished.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from emulate_bench import Emulate
from helpers import write_scenario
from pcsc_stack import require_stack

from sscard.testing.client import BenchClient

ROOT = Path(__file__).resolve().parents[2]
EMVTOOL = ROOT / ".venv-emvtool" / "bin" / "emvtool"
KIOSK = ROOT / "examples" / "kiosk" / "kiosk.py"
SELECT_SSSE = "00A404000F7378312E73682EC9E7BBE1B1A3D5CF00"

SCENARIO = """
description = "{program}: clean run, then pulled at APDU {pull}, then mute at APDU {mute}"
[[step]]
action = "insert"
slot = 1
persona = "psam"
[[step]]
action = "insert"
slot = 0
persona = "{persona}"
mark = "clean"
[[step]]
action = "wait"
signal = "faults"
timeout = 120
[[step]]
action = "swap"
slot = 0
persona = "{persona}"
[[step]]
action = "pull"
slot = 0
at = {pull}
mark = "pull"
[[step]]
action = "wait"
slot = 0
apdus = {pull}
[[step]]
action = "insert"
slot = 0
persona = "{persona}"
[[step]]
action = "mute"
slot = 0
at = {mute}
mark = "mute"
[[step]]
action = "wait"
slot = 0
apdus = {mute}
[[step]]
action = "wait"
seconds = 1
[[step]]
action = "remove"
slot = 0
"""


def _opensc(reader: str):
    return [
        "opensc-tool",
        "-c",
        "default",
        "-r",
        "0",
        "-s",
        SELECT_SSSE,
        "-s",
        "00A4020002EF05",
        "-s",
        "00B2070000",
    ], {}


def _emvtool(reader: str):
    return [str(EMVTOOL), "-r", "0", "--redact", "listapps"], {}


def _kiosk(reader: str):
    return [sys.executable, str(KIOSK), "Virtual PCD 00 00", "Virtual PCD 00 01"], {
        "KIOSK_APDU_TIMEOUT": "30"
    }  # longer than the mute: the removal ends the exchange


# program, persona, pull at, mute at, exit codes (clean, pulled, mute then removed)
PROGRAMS = {
    "opensc-tool": (_opensc, "gen2", 2, 3, (0, 1, 1)),
    "emvtool": (_emvtool, "bank-used", 2, 2, (0, 1, 1)),
    "kiosk (pyscard)": (_kiosk, "gen3", 3, 4, (0, 4, 4)),
}


def _available(name: str) -> None:
    missing = {
        "opensc-tool": None if shutil.which("opensc-tool") else "opensc (opensc-tool)",
        "emvtool": None if EMVTOOL.exists() else "python-emv in .venv-emvtool",
    }.get(name)
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"CI must install {missing} (.ci/setup.sh)")
        pytest.skip(f"{missing} is not installed")


@pytest.mark.parametrize("name", PROGRAMS)
def test_an_independent_program_under_removal_and_mute_faults(tmp_path, name):
    require_stack()
    _available(name)
    command, persona, pull, mute, codes = PROGRAMS[name]
    path = write_scenario(
        tmp_path, SCENARIO.format(program=name, persona=persona, pull=pull, mute=mute)
    )
    bench = Emulate("--scenario", str(path), "--slots", "2", "--control", "0")
    argv, extra_env = command("Virtual PCD 00 00")

    def run() -> int:
        done = subprocess.run(
            argv, env=dict(bench.env, **extra_env), capture_output=True, text=True, timeout=120
        )
        return done.returncode

    with BenchClient(bench.ready["control"]) as client:
        bench.wait_for("mark", mark="clean")
        clean = run()
        clean_apdus = len(client.apdus(0))
        client.signal("faults")
        bench.wait_for("mark", mark="pull")
        pulled = run()
        bench.wait_for("mark", mark="mute")
        muted = run()
        bench.wait_for("removed", reason="step")
        client.stop()
    assert bench.finish() == 0
    assert (clean, pulled, muted) == codes
    assert clean_apdus >= max(pull, mute)  # the faults hit what the program does
    faults = [(e["fault"], e["at"]) for e in bench.events if e["event"] == "fault"]
    assert faults == [("pull", pull), ("mute", mute)]
    removed = [
        (e["reason"], e["apdus"])
        for e in bench.events
        if e["event"] == "removed" and e["slot"] == 0
    ]
    assert removed == [
        ("swap", clean_apdus),
        ("pull", pull),
        ("step", mute),
    ]
    assert not [e for e in bench.events if e["event"] == "error"]

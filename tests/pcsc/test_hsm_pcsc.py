"""The HSM two-step read through a private pcscd and vpcd, as a kiosk runs it: `sscard read -r …
--hsm-step1 --hsm-step2 -` with the HSM client on its standard input and output, and another
PC/SC program trying to reset the card between the steps.

Every PC/SC call runs in a subprocess (pcsc_stack.own_pcscd and run_in_child say why).
Skipped where pcscd or vpcd is missing (not on CI).
"""

from __future__ import annotations

import subprocess

import pytest
from helpers import SSCARD, expected_ireadcardbas, hsm
from pcsc_stack import READERS, run_in_child, wait_state_in_child

from sscard.emulator import SocialSecurityCard
from sscard.emulator.vpcd import RESET, VpcdLink

# another program resetting the card (shared access), or finding it held exclusively
_RESET = """
import sys
from smartcard.pcsc.PCSCReader import PCSCReader
from smartcard.scard import SCARD_LEAVE_CARD, SCARD_RESET_CARD, SCARD_SHARE_SHARED
c = PCSCReader(sys.argv[1]).createConnection()
try:
    c.connect(mode=SCARD_SHARE_SHARED, disposition=SCARD_LEAVE_CARD)
except Exception:
    print("busy")
    sys.exit(0)
c.reconnect(mode=SCARD_SHARE_SHARED, disposition=SCARD_RESET_CARD)
c.disposition = SCARD_LEAVE_CARD
c.disconnect()
print("reset")
"""


@pytest.fixture
def gen3(daemon):
    """A generation-3 card in slot 0, with the instructions it received."""
    card = SocialSecurityCard.from_persona("gen3")
    received: list[int] = []
    link = VpcdLink(card, port=daemon.port, on_apdu=lambda i, apdu: received.append(apdu[1]))
    link.insert()
    counter = wait_state_in_child(daemon, READERS[0], True)
    yield card, received, link
    link.remove()
    wait_state_in_child(daemon, READERS[0], False, after=counter)


def _kiosk(daemon, *extra, between=None):
    """`sscard read` with an HSM client on its pipes; `between()` runs after Step 1."""
    proc = subprocess.Popen(
        [
            *SSCARD,
            "read",
            "-r",
            "PCD 00 00",
            "--hsm-step1",
            "--hsm-step2",
            "-",
            "--format",
            "ireadcardbas",
            "--reveal",
            *extra,
        ],
        env=daemon.client_env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        step1 = proc.stdout.readline().strip()
        assert step1.count("|") == 8, proc.stderr.read() if not step1 else step1
        note = between() if between else None
        proc.stdin.write(hsm(step1) + "\n")
        proc.stdin.flush()
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    return proc.returncode, out, err, note


def _other_program_resets(daemon):
    def reset():
        return run_in_child(daemon, _RESET, READERS[0])

    return reset


def test_two_steps_through_pcscd(daemon, gen3):
    card, received, _ = gen3
    code, out, err, _ = _kiosk(daemon)
    assert code == 0, err
    assert out.strip() == expected_ireadcardbas("gen3")
    assert received.count(0x82) == 1 and card.auth_tries_left == 3


def test_exclusive_access_keeps_other_programs_from_resetting_between_the_steps(daemon, gen3):
    card, received, link = gen3
    code, out, err, note = _kiosk(daemon, between=_other_program_resets(daemon))
    assert note == "busy" and code == 0, err
    assert out.strip() == expected_ireadcardbas("gen3")


def test_reset_between_the_steps_in_shared_mode_is_refused_clearly(daemon, gen3):
    card, received, link = gen3
    resets = link.controls[RESET]
    code, out, err, note = _kiosk(daemon, "--shared", between=_other_program_resets(daemon))
    assert note == "reset" and link.controls[RESET] > resets
    assert code == 8 and out.strip() == "-22|传入数据与卡内不符|"
    assert "reset after Step 1" in err and "Step 1 again" in err
    assert received.count(0x82) == 0 and card.auth_tries_left == 3

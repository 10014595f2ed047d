"""The HSM two-step read through a private pcscd and vpcd, as a kiosk runs it: `sscard read -r …
--hsm-step1 --hsm-step2 -` with the HSM client on its standard input and output, and another
PC/SC program trying to reset the card between the steps.

Every PC/SC call runs in a subprocess: libpcsclite takes its socket once per process, and
this module's pcscd is not the one other test modules may have pointed this process at.
Skipped where pcscd or vpcd is missing (not on CI).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pcsc_stack import READERS, PrivatePcscd, stack_available
from sscard.emulator import SocialSecurityCard
from sscard.emulator.vpcd import RESET, VpcdLink
from test_hsm import hsm
from test_hsm_cli import expected_ireadcardbas

TESTS = str(Path(__file__).resolve().parent)
SSCARD = [sys.executable, "-c", "import sys; from sscard.cli.main import main; main(sys.argv[1:])"]

_WAIT_READERS = """
import sys, time
from smartcard.System import readers
deadline = time.monotonic() + 15
while True:
    try:
        if set(sys.argv[1:]) <= {str(r) for r in readers()}:
            break
    except Exception:
        pass
    if time.monotonic() > deadline:
        sys.exit("the vpcd readers did not appear")
    time.sleep(0.05)
"""
_WAIT_STATE = """
import sys
sys.path.insert(0, sys.argv[1])
from pcsc_stack import wait_state
print(wait_state(sys.argv[2], sys.argv[3] == "1", int(sys.argv[4]) if sys.argv[4] else None))
"""
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


@pytest.fixture(scope="module")
def stack():
    if not stack_available():
        if os.environ.get("CI"):
            pytest.fail("CI must install pcscd and vsmartcard-vpcd (.ci/setup.sh)")
        pytest.skip("pcscd and vsmartcard-vpcd are not installed")
    daemon = PrivatePcscd().start()
    try:
        subprocess.run([sys.executable, "-c", _WAIT_READERS, *READERS], env=daemon.client_env(),
                       check=True, timeout=60)
        yield daemon
    finally:
        assert daemon.stop() == 0
        daemon.cleanup()


def _wait_state(daemon, present: bool, after: int | None = None) -> int:
    out = subprocess.run([sys.executable, "-c", _WAIT_STATE, TESTS, READERS[0],
                          "1" if present else "0", "" if after is None else str(after)],
                         env=daemon.client_env(), capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return int(out.stdout)


@pytest.fixture
def gen3(stack):
    """A generation-3 card in slot 0, with the instructions it received."""
    card = SocialSecurityCard.from_persona("gen3")
    received: list[int] = []
    link = VpcdLink(card, port=stack.port, on_apdu=lambda i, apdu: received.append(apdu[1]))
    link.insert()
    counter = _wait_state(stack, True)
    yield card, received, link
    link.remove()
    _wait_state(stack, False, after=counter)


def _kiosk(stack, *extra, between=None):
    """`sscard read` with an HSM client on its pipes; `between()` runs after Step 1."""
    proc = subprocess.Popen([*SSCARD, "read", "-r", "PCD 00 00", "--hsm-step1", "--hsm-step2",
                             "-", "--format", "ireadcardbas", "--reveal", *extra],
                            env=stack.client_env(), stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
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


def _other_program_resets(stack):
    def reset():
        done = subprocess.run([sys.executable, "-c", _RESET, READERS[0]],
                              env=stack.client_env(), capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()
    return reset


def test_two_steps_through_pcscd(stack, gen3):
    card, received, _ = gen3
    code, out, err, _ = _kiosk(stack)
    assert code == 0, err
    assert out.strip() == expected_ireadcardbas("gen3")
    assert received.count(0x82) == 1 and card.auth_tries_left == 3


def test_exclusive_access_keeps_other_programs_from_resetting_between_the_steps(stack, gen3):
    card, received, link = gen3
    code, out, err, note = _kiosk(stack, between=_other_program_resets(stack))
    assert note == "busy" and code == 0, err
    assert out.strip() == expected_ireadcardbas("gen3")


def test_reset_between_the_steps_in_shared_mode_is_refused_clearly(stack, gen3):
    card, received, link = gen3
    resets = link.controls[RESET]
    code, out, err, note = _kiosk(stack, "--shared", between=_other_program_resets(stack))
    assert note == "reset" and link.controls[RESET] > resets
    assert code == 8 and out.strip() == "-22|传入数据与卡内不符|"
    assert "reset after Step 1" in err and "Step 1 again" in err
    assert received.count(0x82) == 0 and card.auth_tries_left == 3

"""Helpers for sscard's own PC/SC tests and benchmarks over the package's private pcscd
(sscard/testing/pcscd.py: its own socket and vpcd ports, stopped by PID, never by name).

A test module that wants a pcscd of its own makes its PC/SC calls in child processes
(`own_pcscd`, `run_in_child`): libpcsclite reads PCSCLITE_CSOCK_NAME once, at the first
PC/SC call of a process, and stays bound to that socket; test_pcsc_e2e's session pcscd may
already own the pytest process, and a module's pcscd must not take it from it either.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

from sscard.testing.pcscd import PCSCD, VPCD_DRIVER, free_port_pair, stack_available  # noqa: F401
from sscard.testing.pcscd import PrivatePcscd as _PrivatePcscd

READERS = ("Virtual PCD 00 00", "Virtual PCD 00 01")
TESTS = os.path.dirname(os.path.abspath(__file__))


def require_stack() -> None:
    """Skip a test without pcscd and vpcd, but fail on CI, which must have installed them."""
    import pytest  # here, so that benchmarks and child processes need no pytest

    if not stack_available():
        if os.environ.get("CI"):
            pytest.fail("CI must install pcscd and vsmartcard-vpcd (.ci/setup.sh)")
        pytest.skip("pcscd and vsmartcard-vpcd are not installed")


def await_readers(timeout: float = 15.0, check_daemon=lambda: None) -> None:
    """Wait in this process until pcscd lists both vpcd readers."""
    from smartcard.System import readers

    deadline = time.monotonic() + timeout
    while True:
        check_daemon()
        try:
            if set(READERS) <= {str(r) for r in readers()}:
                return
        except Exception:  # pcscd not answering yet
            pass
        if time.monotonic() > deadline:
            raise TimeoutError("the vpcd readers did not appear")
        time.sleep(0.05)


class PrivatePcscd(_PrivatePcscd):
    """The package's private pcscd (sscard.testing.pcscd), waited for in this process."""

    def wait_readers(self, timeout: float = 15.0) -> None:
        await_readers(timeout, self.check_running)


def reader_state(reader: str) -> tuple[bool, int]:
    """(card present, pcscd's event counter) — the counter (high 16 bits of the state)
    moves only when pcscd's own event thread has registered an insertion or removal."""
    from smartcard import scard

    from sscard.transport.pcsc import Context

    with Context() as ctx:
        _, states = scard.SCardGetStatusChange(ctx.handle, 0, [(reader, scard.SCARD_STATE_UNAWARE)])
    flags = states[0][1]
    return bool(flags & scard.SCARD_STATE_PRESENT), flags >> 16


def wait_state(reader: str, present: bool, after: int | None = None, timeout: float = 10.0) -> int:
    """Wait until the card is (not) present and, if `after` is given, pcscd's event counter has
    moved past it.  A card pulled out during an exchange is reported absent at once, but pcscd
    registers the removal only at its next presence poll (0.4 s); a card inserted before that
    would be taken for the old one, so removals wait for the counter."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        is_present, counter = reader_state(reader)
        if is_present == present and (after is None or counter != after):
            return counter
        time.sleep(0.05)
    raise AssertionError(f"{reader}: card {'not ' if present else ''}present after {timeout} s")


# --- a module's own pcscd, every PC/SC call in a child process (see the module docstring) ---

_CHILD_PRELUDE = (
    f"import sys; sys.path.insert(0, {TESTS!r})\n"
    "from pcsc_stack import READERS, await_readers, wait_state\n"
)


def run_in_child(daemon: PrivatePcscd, code: str, *args: str, timeout: float = 60) -> str:
    """Run `code` (with READERS, await_readers and wait_state imported, `args` in sys.argv[1:])
    in a fresh Python bound to `daemon`; its stripped standard output.  Fails the test if the
    child fails."""
    done = subprocess.run(
        [sys.executable, "-c", _CHILD_PRELUDE + code, *args],
        env=daemon.client_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, f"{done.stderr} (pcscd log: {daemon.log_path})"
    return done.stdout.strip()


def wait_readers_in_child(daemon: PrivatePcscd) -> None:
    run_in_child(daemon, "await_readers()")


def wait_state_in_child(
    daemon: PrivatePcscd, reader: str, present: bool, after: int | None = None
) -> int:
    """`wait_state` against `daemon`, from a child process: pcscd's event counter."""
    return int(run_in_child(daemon, f"print(wait_state({reader!r}, {present!r}, {after!r}))"))


def own_pcscd():
    """The body of a module-scoped fixture: `yield from own_pcscd()` gives a started pcscd
    whose vpcd readers are listed, and stops it by PID afterwards (it must exit cleanly)."""
    require_stack()
    daemon = PrivatePcscd().start()
    try:
        wait_readers_in_child(daemon)
        yield daemon
    finally:
        assert daemon.stop() == 0
        daemon.cleanup()

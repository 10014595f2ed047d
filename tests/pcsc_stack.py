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

from sscard.testing.pcscd import (  # noqa: F401  (the tests' one door to the stack)
    PCSCD,
    VPCD_DRIVER,
    PrivatePcscd,
    free_port_pair,
    reader_state,
    stack_available,
    wait_state,
)
from sscard.testing.pcscd import await_readers as _await_readers

READERS = ("Virtual PCD 00 00", "Virtual PCD 00 01")
TESTS = os.path.dirname(os.path.abspath(__file__))


def require_stack() -> None:
    """Skip a test without pcscd and vpcd, but fail on CI, which must have installed them."""
    import pytest  # here, so that child processes need no pytest

    if not stack_available():
        if os.environ.get("CI"):
            pytest.fail("CI must install pcscd and vsmartcard-vpcd (.ci/setup.sh)")
        pytest.skip("pcscd and vsmartcard-vpcd are not installed")


def await_readers(timeout: float = 15.0) -> None:
    """Wait in this process until pcscd lists both vpcd readers."""
    _await_readers(READERS, timeout)


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

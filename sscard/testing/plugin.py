"""pytest fixtures for testing programs that use card readers, against sscard's emulated cards.

Opt in with `pytest -p sscard.testing`, or `pytest_plugins = ["sscard.testing"]` in a
conftest.py (not auto-loaded: its fixture names should not appear in every project that has
sscard installed, and a private pcscd is started only where a test asks for it).

    def test_kiosk_reads_the_card(virtual_readers):
        card, psam = virtual_readers
        card.insert("gen3"); psam.insert("psam")
        card.fault("mute", at=4)
        done = subprocess.run(["./kiosk", card.name], env=card.env, timeout=60)
        assert done.returncode == 3 and len(card.apdus()) == 4

Fixtures: `pcsc_bench` (session: the private pcscd and its readers, a BenchStack),
`virtual_readers` (every reader, emptied after each test), `virtual_reader` (the first one).
The number of readers is the ini option `sscard_slots` (default 2).  Without pcscd or the vpcd
driver the tests that use them are skipped with the reason; under CI=true they fail instead.
"""

from __future__ import annotations

import os

import pytest

from sscard.testing.pcscd import missing_reason


def pytest_addoption(parser) -> None:
    parser.addini("sscard_slots", "number of vpcd readers of the sscard test bench", default="2")


def _require_stack() -> None:
    reason = missing_reason()
    if reason:
        if os.environ.get("CI", "").lower() not in ("", "0", "false", "no"):
            pytest.fail(f"the sscard test bench needs the PC/SC stack on CI: {reason}")
        pytest.skip(f"sscard test bench: {reason}")


@pytest.fixture(scope="session")
def pcsc_bench(request):
    """A private pcscd with `sscard_slots` vpcd readers, for the whole session."""
    from sscard.testing.stack import BenchStack

    _require_stack()
    slots = int(request.config.getini("sscard_slots"))
    stack = BenchStack(slots).start()
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture
def virtual_readers(pcsc_bench):
    """Every reader of the bench, empty at the start of the test and emptied after it."""
    pcsc_bench.clear()
    yield list(pcsc_bench.readers)
    pcsc_bench.clear()


@pytest.fixture
def virtual_reader(virtual_readers):
    """The bench's first reader ("Virtual PCD 00 00")."""
    return virtual_readers[0]

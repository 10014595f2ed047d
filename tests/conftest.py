"""pytest hooks and fixtures only; what tests share is in helpers.py."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from sscard import errors
from sscard.testing.pcscd import PrivatePcscd

# Tests send a real Ctrl-C (SIGINT) to the programs they start.  A shell that runs a job in the
# background starts it with SIGINT ignored, children inherit that, and a Python child then never
# raises KeyboardInterrupt.  A handler here (not an ignore) is reset to the default in children.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

# sscard's own PC/SC tests use the bench it ships (-p sscard.testing in pyproject.toml)
pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[1]
# tests/pcsc/, and the kiosk template's tests, which run on the bench as a whole
PCSC_TEST_DIRS = (ROOT / "tests" / "pcsc", ROOT / "examples" / "kiosk")
# the fixtures of sscard's own pytest plugin (sscard.testing), which start a private pcscd
BENCH_FIXTURES = frozenset({"pcsc_bench", "virtual_readers", "virtual_reader"})


def pytest_collection_modifyitems(config, items):
    """Mark every test that goes through a real pcscd + vpcd stack `pcsc`: those in tests/pcsc/ and
    examples/kiosk/ and those on the plugin's bench, so `-m "not pcsc"` is the fast loop."""
    for item in items:
        if any(item.path.is_relative_to(d) for d in PCSC_TEST_DIRS) or BENCH_FIXTURES & set(
            getattr(item, "fixturenames", ())
        ):
            item.add_marker(pytest.mark.pcsc)


@pytest.fixture(autouse=True)
def _pcscd_only_in_pcsc_tests(request, monkeypatch):
    """A test that starts a private pcscd in this process belongs in tests/pcsc/."""
    if request.node.get_closest_marker("pcsc") is None:

        def refuse(self):
            raise AssertionError(f"{request.node.nodeid} starts a pcscd: move it to tests/pcsc/")

        monkeypatch.setattr(PrivatePcscd, "start", refuse)


@pytest.fixture
def no_reader(monkeypatch):
    """Make sscard.open() behave as on a machine without readers."""
    import sscard

    def fail(*args, **kwargs):
        raise errors.NoReader()

    monkeypatch.setattr(sscard, "open", fail)

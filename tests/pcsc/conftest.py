"""Fixtures of the tests through a real pcscd + vpcd stack (tests/conftest.py marks them `pcsc`).

Each module that asks for `daemon` gets a private pcscd of its own, whose PC/SC calls are made
in child processes (pcsc_stack.own_pcscd says why).
"""

from __future__ import annotations

import pytest
from emulate_bench import stop_leftover_benches
from pcsc_stack import own_pcscd
from service_stack import Slots


@pytest.fixture(autouse=True)
def _stop_leftover_benches():
    yield
    stop_leftover_benches()


@pytest.fixture(scope="module")
def daemon():
    """The module's private pcscd with two vpcd readers, stopped (cleanly) after the module."""
    yield from own_pcscd()


@pytest.fixture
def slots(daemon):
    """The daemon's vpcd slots, emptied after each test."""
    s = Slots(daemon)
    yield s
    s.remove_all()

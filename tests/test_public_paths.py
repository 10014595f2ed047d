"""What README's Library section documents keeps working where it was documented, also
after the modules moved into the layers (sscard.ssse, sscard.auth, sscard.transport)."""

from __future__ import annotations

import importlib

import pytest

import sscard


@pytest.mark.parametrize(
    ("old", "new", "names"),
    [
        ("sscard.keysource", "sscard.auth.keysource", ["load_keys", "KeySource", "AuthContext"]),
        ("sscard.psam", "sscard.auth.psam", ["open_psam", "open_psam_emulator", "PsamKeys"]),
        ("sscard.pin", "sscard.ssse.pin", ["would_send", "PinVerification", "VerifyOutcome"]),
    ],
)
def test_the_documented_old_paths_name_the_same_objects(old, new, names):
    before, now = importlib.import_module(old), importlib.import_module(new)
    for name in names:
        assert getattr(before, name) is getattr(now, name), name


def test_the_package_exports_resolve_to_their_layers():
    assert sscard.AppState.__module__ == "sscard.results"  # shared by both applications
    assert sscard.Finding.__module__ == "sscard.results"
    assert sscard.Identity.__module__ == "sscard.ssse.results"
    assert sscard.CardWatcher.__module__ == "sscard.transport.watch"
    assert sscard.HsmStep1.__module__ == "sscard.auth.hsm"
    assert sscard.PsamKeys.__module__ == "sscard.auth.psam"
    for name in sscard.__all__:
        assert getattr(sscard, name) is not None, name

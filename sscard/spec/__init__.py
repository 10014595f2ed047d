"""The card, as declared in apdu_specs/: one source of truth for reader and emulator."""

from sscard.spec.loader import load_spec
from sscard.spec.model import Spec

__all__ = ["Spec", "load_spec"]

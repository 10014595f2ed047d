"""The documented old path of `sscard.auth.keysource` (key sources: the protocol, software
root keys), kept so that `from sscard.keysource import load_keys` goes on working."""

from sscard.auth.keysource import *  # noqa: F403

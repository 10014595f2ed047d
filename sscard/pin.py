"""The documented old path of `sscard.ssse.pin` (PIN tries, verify, change), kept so that
`sscard.pin.would_send(…)` goes on working."""

from sscard.ssse.pin import *  # noqa: F403

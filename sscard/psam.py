"""The documented old path of `sscard.auth.psam` (the PSAM key source), kept so that code
importing it goes on working."""

from sscard.auth.psam import *  # noqa: F403

"""File control information returned by SELECT of the SSSE
(docs/card-facts.md#ssse-selection-and-fci).

Built from the spec's FCI declaration (apdu_specs/ssse.toml [[fci]]: 6F { 84 DF name, A5 { 88
DIR SFI, 9F0C { 86 algorithm } } }, LD/T 32.5 Table 36), the same declaration the reader
decodes with, so reader and emulator cannot disagree on the layout.
"""

from __future__ import annotations

from sscard.spec.model import Application

DIR_SFI = "1E"  # what real 3.00 cards report (outside the 5..15 the spec text allows)


def ssse_fci(application: Application, algorithm: bytes) -> bytes:
    """`algorithm` is the 86 value (one byte); empty leaves 9F0C out, as on old cards."""
    values = {"df_name": application.name.hex(), "dir_sfi": DIR_SFI}
    if algorithm:
        values["algorithm"] = algorithm.hex()
    return application.encode_fci(values)

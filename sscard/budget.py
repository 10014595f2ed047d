"""What one card operation may cost: a deadline, and the APDUs and bytes a real card needs.

The deadline (`DEFAULT_TIMEOUT`, configurable per `Card`) bounds the wall time of one
operation; a card that stops answering ends it with `CardMute` (exit code 20, iReadCardBas
-4).  The budget bounds the APDUs and the bytes received, so that a card answering within
every per-command bound cannot multiply them (chains of 61xx, endless logs, one-byte
answers) into minutes of traffic; exceeding it is `BudgetExceeded`.

The budget is derived from the specs, never tuned: the logical commands an operation can
send to a real card (the files and items of apdu_specs/ssse.toml, the AIDs and bounds of
the bank discovery in apdu_specs/pboc.toml and sscard.bank, the PBOC log record counts),
times what ISO/IEC 7816 lets one short command cost:

- `EXCHANGES_PER_COMMAND` = 3: the command, one re-send after 6Cxx (the card names the
  right Le), one GET RESPONSE after 61xx (a short answer, at most 256 bytes, fits in one);
- `RESPONSE_BYTES` = 256: the data of one short answer (Le = 00 asks for 256), plus the
  two status bytes of every exchange.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sscard.spec import Spec
    from sscard.spec.pboc import Pboc

DEFAULT_TIMEOUT = 20.0  # seconds for one operation; a real read takes 0.5-3 s at 9600 bit/s
EXCHANGES_PER_COMMAND = 3  # command, one re-send after 6Cxx, one GET RESPONSE after 61xx
RESPONSE_BYTES = 256  # data of one short answer (ISO/IEC 7816-4: Le = 00 means 256)
SW_BYTES = 2

AUTHENTICATION_COMMANDS = 4  # INTERNAL AUTHENTICATE, 2 × GET CHALLENGE, EXTERNAL AUTHENTICATE
PIN_COMMANDS = 2  # the empty VERIFY (tries left), then one VERIFY or CHANGE PIN
LOG_RECORDS_MAX = 255  # a PBOC log entry (9F4D, DF4D) gives its record count in one byte
BANK_GET_DATA = 9  # ATC, last online ATC, PIN try counter, 4 e-cash amounts, 2 log formats


@dataclass(frozen=True)
class Budget:
    """The most a real card can make `what` cost."""

    what: str  # "an identity read", ... (for the error message)
    commands: int  # logical commands the operation can send

    @property
    def apdus(self) -> int:
        return self.commands * EXCHANGES_PER_COMMAND

    @property
    def bytes(self) -> int:
        """Bytes received: every command's answer data, and the SW of every exchange."""
        return self.commands * RESPONSE_BYTES + self.apdus * SW_BYTES

    def __add__(self, other: Budget) -> Budget:
        return Budget(f"{self.what} and {other.what}", self.commands + other.commands)


def ssse_budget(spec: Spec) -> Budget:
    """Any operation on the social security application: its SELECT (and the MF-level
    fallback's probe), for every file of the spec two SELECTs (P1 04, then P1 00) and a
    READ for every 256 bytes (transparent files), or one READ RECORD of the whole file and,
    if the card refuses it, one per item (record files), one card authentication and one
    PIN command with its tries query."""
    commands = 2 + AUTHENTICATION_COMMANDS + PIN_COMMANDS
    for ef in spec.ssse.files.values():
        commands += 2
        if ef.structure == "transparent":
            commands += math.ceil(ef.size / RESPONSE_BYTES)
        else:
            commands += 1 + len(ef.items)
    return Budget("the social security application", commands)


def bank_budget(pboc: Pboc) -> Budget:
    """The bank application: discovery (PSE and its directory records, PPSE, every listed
    AID with its next occurrences), the SELECT, the GET DATAs, both logs at their largest,
    one GET PROCESSING OPTIONS and the records its AFL may name."""
    from sscard.bank.afl import MAX_RECORDS
    from sscard.bank.reader import MAX_DIRECTORY_RECORDS, MAX_OCCURRENCES

    discovery = 1 + MAX_DIRECTORY_RECORDS + 1 + len(pboc.aids) * MAX_OCCURRENCES
    commands = discovery + 1 + BANK_GET_DATA + 2 * LOG_RECORDS_MAX + 1 + MAX_RECORDS
    return Budget("the bank application", commands)

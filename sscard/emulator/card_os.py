"""The emulated card's operating system: power, APDU dispatch, Le and T=0 handling.

Modelled on vsmartcard's emulated-card contract (an object with an ATR, power
control and `execute(bytes) -> bytes`), so any transport can drive it.  The
application (files, PIN, ...) lives in a subclass that fills `handlers`.
"""

from __future__ import annotations

from collections.abc import Callable

from sscard.codec.apdu import CommandApdu
from sscard.errors import DecodeError

SW_OK = 0x9000
INS_GET_RESPONSE = 0xC0
# plain and secure-messaging (low nibble 4) forms of the ISO and proprietary classes
CLASSES = frozenset({0x00, 0x80, 0x04, 0x84})
LE_ZERO_MODES = ("data", "6Cxx")

Handler = Callable[[CommandApdu], bytes]


class SwError(Exception):
    """Raised by a handler to answer with a bare status word."""

    def __init__(self, sw: int) -> None:
        super().__init__(f"SW {sw:04X}")
        self.sw = sw


def sw_bytes(sw: int) -> bytes:
    return sw.to_bytes(2, "big")


class CardOS:
    """Card OS contract: `execute` never raises, every failure is a status word.

    Volatile state (cleared by power_down/power_up/reset) is whatever
    `clear_volatile` clears; subclasses extend it.  Non-volatile state (PIN
    counters, ...) lives in ordinary attributes that these calls do not touch.
    """

    atr: bytes = b""

    def __init__(self, *, le_zero: str = "data", t0: bool = False) -> None:
        if le_zero not in LE_ZERO_MODES:
            raise ValueError(f"le_zero must be one of {LE_ZERO_MODES}")
        self.le_zero = le_zero
        self.t0 = bool(t0)
        self.apdu_count = 0
        self.handlers: dict[int, Handler] = {INS_GET_RESPONSE: self.get_response}
        self.powered = False
        self._pending = b""  # T=0 response data waiting for GET RESPONSE
        self.power_up()

    # --- power --------------------------------------------------------------------

    def power_up(self) -> bytes:
        """Power the card (a cold reset); returns the ATR."""
        self.clear_volatile()
        self.powered = True
        return self.atr

    def power_down(self) -> None:
        self.clear_volatile()
        self.powered = False

    def reset(self) -> bytes:
        """Warm reset: same effect on state as a power cycle; returns the ATR."""
        self.power_down()
        return self.power_up()

    def clear_volatile(self) -> None:
        self._pending = b""

    # --- dispatch -----------------------------------------------------------------

    def execute(self, apdu: bytes) -> bytes:
        """Response data + SW1 SW2 for one command APDU; never raises.

        A command sent to a powered-down card powers it up first (as a reader
        does before the first exchange), so callers need not track power.
        """
        self.apdu_count += 1
        if not self.powered:
            self.power_up()
        try:
            return self.process(bytes(apdu))
        except SwError as e:
            return sw_bytes(e.sw)
        except Exception:  # an emulator bug must look like a card fault, not crash the host
            return sw_bytes(0x6F00)

    def process(self, raw: bytes) -> bytes:
        self.check_state()
        if len(raw) < 2 or raw[1] != INS_GET_RESPONSE:
            self._pending = b""  # any command but GET RESPONSE discards pending data
        try:
            apdu = CommandApdu.parse(raw)
        except DecodeError:
            raise SwError(0x6700) from None
        if apdu.cla not in CLASSES:
            raise SwError(0x6E00)
        handler = self.handlers.get(apdu.ins)
        if handler is None:
            raise SwError(0x6D00)
        return handler(apdu)

    def check_state(self) -> None:
        """Hook run before every command (e.g. a blocked card refuses all)."""

    # --- Le and T=0 ---------------------------------------------------------------

    def respond(self, apdu: CommandApdu, data: bytes, sw: int = SW_OK) -> bytes:
        """Answer a command that returns `data` (with `sw`, 9000 or a warning such as 6283),
        honouring its Le and the T=0 rules."""
        if apdu.data:
            # On T=0 a command with a data field cannot also carry response data
            # (the TPDU has a single P3): announce it with 61xx.  Case 3 and 4
            # are the same bytes on the T=0 wire, so both are treated alike.
            if self.t0 and data:
                self._pending = data
                if sw != SW_OK:
                    # case 4 with a warning (EMV Book 1 / JR/T 0025.3 annex A.7): the warning
                    # comes first; GET RESPONSE then hands out the data with 9000
                    return sw_bytes(sw)
                return sw_bytes(0x6100 | (len(data) & 0xFF))
            if apdu.le is None:  # case 3 on T=1: real cards still return the FCI
                return data + sw_bytes(sw)
        return self._fit_le(apdu.le, data, sw)

    def _fit_le(self, le: int | None, data: bytes, sw: int) -> bytes:
        if le == 0 and self.le_zero == "data":  # gen-3 cards: 00 = "whatever there is"
            return data + sw_bytes(sw)
        if le is not None and (le or 256) == len(data):
            return data + sw_bytes(sw)
        # absent Le, Le 00 in strict mode, or a wrong Le: tell the right one
        raise SwError(0x6C00 | (len(data) & 0xFF))

    def get_response(self, apdu: CommandApdu) -> bytes:
        """GET RESPONSE (00 C0 00 00 Le): hand out data announced by 61xx."""
        if apdu.p1 or apdu.p2:
            raise SwError(0x6A86)
        if apdu.data or apdu.le is None:
            raise SwError(0x6700)
        if not self._pending:
            raise SwError(0x6985)
        pending = self._pending
        wanted = apdu.le or 256
        if apdu.le == 0 and self.le_zero == "data":
            wanted = min(wanted, len(pending))
        if wanted > len(pending):
            raise SwError(0x6C00 | (len(pending) & 0xFF))  # keep the data for the retry
        self._pending = pending[wanted:]
        if self._pending:
            return pending[:wanted] + sw_bytes(0x6100 | (len(self._pending) & 0xFF))
        return pending[:wanted] + sw_bytes(SW_OK)

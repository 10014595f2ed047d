"""ISO 7816-4 short command APDUs: bytes <-> (CLA, INS, P1, P2, data, Le)."""

from __future__ import annotations

from typing import NamedTuple

from sscard.errors import DecodeError


class CommandApdu(NamedTuple):  # a NamedTuple: built for every APDU, so cheap to create
    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes = b""
    le: int | None = None  # Le byte as sent (0 = up to 256); None = absent

    @property
    def case(self) -> int:
        if self.data:
            return 3 if self.le is None else 4
        return 1 if self.le is None else 2

    def to_bytes(self) -> bytes:
        if len(self.data) > 255:
            raise DecodeError(f"command data of {len(self.data)} bytes needs an extended APDU")
        out = bytes((self.cla, self.ins, self.p1, self.p2))
        if self.data:
            out += bytes((len(self.data),)) + self.data
        if self.le is not None:
            out += bytes((self.le,))
        return out

    @classmethod
    def parse(cls, apdu: bytes) -> CommandApdu:
        """Parse a short APDU; `00200000 00` (5 bytes) reads as case 2 with Le 0."""
        if len(apdu) < 4:
            raise DecodeError(
                f"command APDU of {len(apdu)} bytes is shorter than its header", offset=len(apdu)
            )
        cla, ins, p1, p2 = apdu[:4]
        if len(apdu) == 4:
            return cls(cla, ins, p1, p2)
        if len(apdu) == 5:
            return cls(cla, ins, p1, p2, le=apdu[4])
        lc = apdu[4]
        if lc == 0:
            raise DecodeError("extended-length APDUs are not supported", offset=4)
        data = apdu[5 : 5 + lc]
        if len(apdu) == 5 + lc:
            return cls(cla, ins, p1, p2, data)
        if len(apdu) == 6 + lc:
            return cls(cla, ins, p1, p2, data, apdu[-1])
        raise DecodeError(f"Lc {lc} does not match the {len(apdu) - 5} bytes after it", offset=4)


def split_response(response: bytes) -> tuple[bytes, int]:
    """Split a response APDU into data and SW (SW1 << 8 | SW2)."""
    if len(response) < 2:
        from sscard.errors import TruncatedResponse

        raise TruncatedResponse(f"response of {len(response)} bytes has no status word")
    return response[:-2], (response[-2] << 8) | response[-1]

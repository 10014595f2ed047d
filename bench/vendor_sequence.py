"""The vendors' identity read as published (17 APDUs), as a plain pyscard script.

    python bench/vendor_sequence.py [READER]

SELECT SSSE, SELECT EF05, READ RECORD of tags 01..07 by identifier with their exact Le,
SELECT EF06 and READ RECORD of 08, 09, 4E, 0A..0D (docs/card-facts.md#identity-read-sequence:
TRACE-SC, TRACE-CD, U-YuanTu).  A generation-3 card's EF06 needs a key this script does not have:
it stops after EF05, as the vendor readers do without a PSAM.  No decoding, no checks
beyond the status words: the baseline of bench/wire_bench.py.
"""

from __future__ import annotations

import sys

SELECT_SSSE = bytes.fromhex("00A404000F7378312E73682EC9E7BBE1B1A3D5CF00")
EF05 = [
    bytes.fromhex(h)
    for h in (
        "00A4020002EF05",
        "00B2010012",
        "00B2020003",
        "00B2030006",
        "00B204000E",
        "00B2050006",
        "00B2060006",
        "00B207000B",
    )
]
EF06 = [
    bytes.fromhex(h)
    for h in (
        "00A4020002EF06",
        "00B2080014",
        "00B2090020",
        "00B24E0016",
        "00B20A0003",
        "00B20B0003",
        "00B20C0005",
        "00B20D0006",
    )
]


def transmit(connection, apdu: bytes, log: list) -> tuple[bytes, int]:
    """One command; 61xx is fetched with GET RESPONSE (T=0), as every reader does."""
    data, sw1, sw2 = connection.transmit(list(apdu))
    log.append((apdu, bytes(data) + bytes((sw1, sw2))))
    if sw1 == 0x61:
        return transmit(connection, bytes((0x00, 0xC0, 0x00, 0x00, sw2)), log)
    return bytes(data), sw1 << 8 | sw2


def read(connection) -> list[tuple[bytes, bytes]]:
    """The exchanges of one identity read; raises RuntimeError on an unexpected SW."""
    log: list[tuple[bytes, bytes]] = []
    answers = [_checked(connection, apdu, log) for apdu in [SELECT_SSSE] + EF05]
    if answers[3 + 1][2:3] != b"3":  # record 03, the spec version: 3.xx needs RKSSSE for EF06
        for apdu in EF06:
            _checked(connection, apdu, log)
    return log


def _checked(connection, apdu: bytes, log: list) -> bytes:
    data, sw = transmit(connection, apdu, log)
    if sw != 0x9000:
        raise RuntimeError(f"{apdu.hex().upper()}: SW {sw:04X}")
    return data


def main() -> None:
    from smartcard.System import readers

    available = readers()
    wanted = sys.argv[1] if len(sys.argv) > 1 else None
    reader = next(r for r in available if wanted is None or wanted in str(r))
    connection = reader.createConnection()
    connection.connect()
    try:
        for apdu, response in read(connection):
            print(
                apdu.hex().upper(),
                "->",
                f"[{len(response) - 2} bytes]",
                response[-2:].hex().upper(),
            )
    finally:
        connection.disconnect()


if __name__ == "__main__":
    main()

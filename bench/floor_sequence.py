"""The floor of an identity read (3 APDUs), as a plain pyscard script.

    python bench/floor_sequence.py [READER]

SELECT SSSE, then READ RECORD of all records from the first by SFI: EF05 (`00B2012D40`)
and, unless the card is generation 3 (EF06 needs a key), EF06 (`00B201355B`), Le = the
file sizes of the specification.  Nothing can read an identity in fewer exchanges; no
decoding, no checks beyond the status words: the floor of bench/wire_bench.py.  A card
that refuses the range form (6A86 and the like) has no such floor: RuntimeError.
"""

from __future__ import annotations

import sys

from vendor_sequence import SELECT_SSSE, transmit

EF05_ALL = bytes.fromhex("00B2012D40")
EF06_ALL = bytes.fromhex("00B201355B")


def read(connection) -> list[tuple[bytes, bytes]]:
    log: list[tuple[bytes, bytes]] = []
    ef05 = b""
    for apdu in (SELECT_SSSE, EF05_ALL):
        ef05, sw = transmit(connection, apdu, log)
        if sw != 0x9000:
            raise RuntimeError(f"{apdu.hex().upper()}: SW {sw:04X}")
    if ef05[18 + 3 + 2 : 18 + 3 + 3] != b"3":  # record 03 (spec version) follows 01 and 02
        _, sw = transmit(connection, EF06_ALL, log)
        if sw != 0x9000:
            raise RuntimeError(f"{EF06_ALL.hex().upper()}: SW {sw:04X}")
    return log


def main() -> None:
    from smartcard.System import readers

    wanted = sys.argv[1] if len(sys.argv) > 1 else None
    reader = next(r for r in readers() if wanted is None or wanted in str(r))
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

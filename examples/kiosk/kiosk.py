#!/usr/bin/env python3
"""A tiny kiosk program: the template of what the sscard bench tests (it does not use sscard).

It waits for a card in the card reader, checks that a PSAM sits in the PSAM reader, reads the
social security card number and expiry date (SELECT SSSE, SELECT EF05, two READ RECORDs) and
looks at the UnionPay debit application.  Every exchange has a deadline: a card that stops
answering must not freeze the kiosk.  It prints one JSON object and exits with:

  0 read   2 no card   3 card not answering   4 card removed   5 no PSAM   6 not a social
  security card

Usage: kiosk.py CARD_READER PSAM_READER    (environment: KIOSK_APDU_TIMEOUT, seconds, default 3)
"""

import json
import os
import sys
import threading

from smartcard.CardRequest import CardRequest
from smartcard.CardType import AnyCardType
from smartcard.Exceptions import CardRequestTimeoutException, NoCardException, SmartcardException
from smartcard.System import readers

SELECT_SSSE = "00A404000F7378312E73682EC9E7BBE1B1A3D5CF00"
SELECT_EF05 = "00A4020002EF05"
READ_CARD_NUMBER = "00B2070000"  # EF05 record 07: 07 09 <9 characters>
READ_EXPIRY = "00B2060000"  # EF05 record 06: 06 04 <YYYYMMDD, BCD>
SELECT_DEBIT = "00A4040008A00000033301010100"
APDU_TIMEOUT = float(os.environ.get("KIOSK_APDU_TIMEOUT", "3"))


def finish(code, **result):
    print(json.dumps(result, ensure_ascii=False), flush=True)
    os._exit(code)  # a card that never answers leaves a thread blocked in the PC/SC library


def transmit(connection, apdu_hex):
    """(data, SW) within APDU_TIMEOUT seconds, or finish: not answering / removed."""
    outcome = {}

    def exchange():
        try:
            data, sw1, sw2 = connection.transmit(list(bytes.fromhex(apdu_hex)))
            outcome["answer"] = (bytes(data), (sw1 << 8) | sw2)
        except SmartcardException as e:
            outcome["error"] = e

    worker = threading.Thread(target=exchange, daemon=True)
    worker.start()
    worker.join(APDU_TIMEOUT)
    if worker.is_alive():
        finish(3, result="card not answering", apdu=apdu_hex[:8])
    if "error" in outcome:
        finish(4, result="card removed", apdu=apdu_hex[:8])
    return outcome["answer"]


def main(card_reader, psam_reader):
    if not any(str(r) == psam_reader for r in readers()):
        finish(5, result="no PSAM reader")
    try:
        psam = next(r for r in readers() if str(r) == psam_reader).createConnection()
        psam.connect()
        psam.disconnect()
    except (NoCardException, SmartcardException):
        finish(5, result="no PSAM")
    try:
        service = CardRequest(
            timeout=10, readers=[card_reader], cardType=AnyCardType()
        ).waitforcard()
        connection = service.connection
        connection.connect()
    except CardRequestTimeoutException:
        finish(2, result="no card")
    except SmartcardException:
        finish(4, result="card removed")
    _, sw = transmit(connection, SELECT_SSSE)
    if sw != 0x9000:
        finish(6, result="not a social security card", sw=f"{sw:04X}")
    transmit(connection, SELECT_EF05)
    number, sw = transmit(connection, READ_CARD_NUMBER)
    expiry, sw2 = transmit(connection, READ_EXPIRY)
    if sw != 0x9000 or sw2 != 0x9000 or len(number) != 11 or len(expiry) != 6:
        finish(6, result="unreadable card", sw=f"{sw:04X}")
    _, bank_sw = transmit(connection, SELECT_DEBIT)
    bank = {0x9000: "usable", 0x6283: "blocked", 0x6A82: "none"}.get(bank_sw, f"sw {bank_sw:04X}")
    finish(
        0, result="read", card_number=number[2:].decode("ascii"), expiry=expiry[2:].hex(), bank=bank
    )


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])

"""`sscard status` through a real PC/SC stack (a private pcscd + vpcd), in a child process
with its own pcscd so that it never shares libpcsclite state with other test modules
(pcsc_stack.own_pcscd and run_in_child say why).

The child inserts the emulated card, reads the status without and with --bank-records (one
GPO: the ATC goes up by exactly one), then inserts it again and pulls it out at the first bank
APDU; the parent compares with the in-process reads.
"""

from __future__ import annotations

import json

from helpers import TODAY
from pcsc_stack import run_in_child

from sscard.card import Card
from sscard.emulator import SocialSecurityCard
from sscard.transport.emulated import EmulatorTransport

CHILD = r"""
import json, sys, datetime
import sscard
from sscard import errors
from sscard.emulator import SocialSecurityCard
from sscard.emulator.vpcd import VpcdLink

port, persona, today = int(sys.argv[1]), sys.argv[2], datetime.date.fromisoformat(sys.argv[3])
out = {}
sent = []
emulated = SocialSecurityCard.from_persona(persona)
link = VpcdLink(emulated, port=port, on_apdu=lambda i, apdu: sent.append(apdu))
link.insert()
counter = wait_state(READERS[0], True)
with sscard.open(READERS[0]) as card:
    plain = card.read_status(today=today)
    out["plain"] = {"ssse": plain.ssse.state.value, "bank": plain.bank.state.value,
                    "atc": plain.bank.counters.atc, "transactions": len(plain.bank.transactions)}
    out["gpo_plain"] = sum(1 for a in sent if a[:2] == b"\x80\xA8")
    full = card.read_status(bank_records=True, today=today)
    out["full"] = {"pan": full.bank.records.pan if full.bank.records else None,
                   "checks": {c.item: c.outcome for c in full.cross_checks}}
    out["gpo_full"] = sum(1 for a in sent if a[:2] == b"\x80\xA8")
    out["atc_after"] = card.read_bank(today=today).counters.atc
link.remove()
counter = wait_state(READERS[0], False, after=counter)

# a second card, pulled out at its first bank APDU: the SSSE was read, the bank never is
def on_apdu(i, apdu):
    if b"1PAY.SYS.DDF01" in apdu:
        link2.remove()
link2 = VpcdLink(SocialSecurityCard.from_persona(persona), port=port, on_apdu=on_apdu)
link2.insert()
wait_state(READERS[0], True, after=counter)
try:
    with sscard.open(READERS[0]) as card:
        card.read_status(today=today)
    out["removed"] = "no error"
except errors.SscardError as e:
    out["removed"] = type(e).__name__
print(json.dumps(out))
"""


def test_status_through_pcscd(daemon):
    persona = "bank-used"
    child = json.loads(
        run_in_child(daemon, CHILD, str(daemon.port), persona, TODAY.isoformat(), timeout=120)
    )

    local = Card(EmulatorTransport(SocialSecurityCard.from_persona(persona)))
    plain = local.read_status(today=TODAY)
    full = local.read_status(bank_records=True, today=TODAY)
    assert child["plain"] == {
        "ssse": plain.ssse.state.value,
        "bank": plain.bank.state.value,
        "atc": plain.bank.counters.atc,
        "transactions": len(plain.bank.transactions),
    }
    assert child["full"] == {
        "pan": full.bank.records.pan,
        "checks": {c.item: c.outcome for c in full.cross_checks},
    }
    assert child["gpo_plain"] == 0 and child["gpo_full"] == 1
    assert child["atc_after"] == plain.bank.counters.atc + 1
    assert child["removed"] == "CardRemoved"  # pcscd is asked: a pull-out is a removal

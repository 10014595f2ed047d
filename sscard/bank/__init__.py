"""The bank (UnionPay PBOC) application of the social security card: discovery, FCI, GET
DATA, logs, and — only when asked, because it changes the card — GPO and the AFL records.

    with sscard.open_emulator("gen2") as card:
        bank = card.read_bank()                    # no GPO: nothing on the card changes
        bank = card.read_bank(records=True)        # one GPO (ATC + 1): PAN, dates, name, ID
"""

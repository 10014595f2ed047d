"""`sscard emulate`: put an emulated card into pcscd's vpcd virtual reader."""

from __future__ import annotations

import click


@click.command()
@click.argument("persona")
@click.option("--slot", type=click.IntRange(0, 1), default=0, show_default=True,
              help="vpcd slot: 0 = 'Virtual PCD 00 00', 1 = 'Virtual PCD 00 01'.")
@click.option("--port", type=click.IntRange(1, 65534), default=35963, show_default=True,
              help="vpcd's base TCP port (reader.conf.d/vpcd); slot N uses PORT + N.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Where pcscd/vpcd runs.")
@click.option("--seconds", type=click.FloatRange(min=0), help="Remove the card after SECONDS.")
def emulate(persona, slot, port, host, seconds) -> int:
    """Insert the emulated card PERSONA into vpcd, where any PC/SC program sees it.

    Needs pcscd running with vsmartcard-vpcd.  The card stays inserted until
    Ctrl-C, SIGTERM or --seconds; stopping removes it.
    """
    import signal
    import threading
    import time

    from sscard.emulator import SocialSecurityCard
    from sscard.emulator.vpcd import VpcdLink

    card = SocialSecurityCard.from_persona(persona)
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *a: stop.set())
    deadline = None if seconds is None else time.monotonic() + seconds
    closed_by_vpcd = False
    try:
        link = VpcdLink(card, host=host, port=port + slot).insert()
        click.echo(f"card '{persona}' inserted in vpcd slot {slot} ({host}:{port + slot}, reader "
                   f"'Virtual PCD 00 {slot:02d}'), ATR {card.atr.hex().upper()}; Ctrl-C removes it "
                   "/ 模拟卡已插入", err=True)
        try:
            while not stop.is_set():
                if not link.connected:
                    closed_by_vpcd = True
                    break
                if deadline is not None and time.monotonic() >= deadline:
                    break
                stop.wait(0.2)
        except KeyboardInterrupt:
            pass
        finally:
            link.remove()
    finally:
        signal.signal(signal.SIGTERM, previous)
    if closed_by_vpcd:
        click.echo("vpcd closed the connection (pcscd stopped?) / 连接已断开", err=True)
    return 0

"""`sscard emulate`: put an emulated card (and, if asked, the software PSAM) into pcscd's
vpcd virtual reader."""

from __future__ import annotations

import click

PSAM = "psam"  # the name under which `emulate` serves the software PSAM


@click.command()
@click.argument("persona")
@click.option("--slot", type=click.IntRange(0, 1), default=0, show_default=True,
              help="vpcd slot: 0 = 'Virtual PCD 00 00', 1 = 'Virtual PCD 00 01'.")
@click.option("--psam", "with_psam", is_flag=True,
              help="Also insert the software PSAM (published test keys) in the other slot, as "
                   "a kiosk has one next to the card reader.")
@click.option("--port", type=click.IntRange(1, 65534), default=35963, show_default=True,
              help="vpcd's base TCP port (reader.conf.d/vpcd); slot N uses PORT + N.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Where pcscd/vpcd runs.")
@click.option("--seconds", type=click.FloatRange(min=0), help="Remove the card after SECONDS.")
def emulate(persona, slot, with_psam, port, host, seconds) -> int:
    """Insert the emulated card PERSONA into vpcd, where any PC/SC program sees it.

    PERSONA 'psam' is the software social security PSAM instead of a user card.  Needs
    pcscd running with vsmartcard-vpcd.  The cards stay inserted until Ctrl-C, SIGTERM
    or --seconds; stopping removes them.
    """
    import signal
    import threading
    import time

    from sscard.emulator.vpcd import VpcdLink

    if with_psam and persona == PSAM:
        from sscard.cli.main import UsageError
        raise UsageError("--psam inserts the PSAM next to a user card: give a persona",
                         "--psam 把 PSAM 卡插在用户卡旁边：请指定一张模拟卡")
    cards = [(_card(persona), persona, slot)]
    if with_psam:
        cards.append((_card(PSAM), PSAM, 1 - slot))
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *a: stop.set())
    deadline = None if seconds is None else time.monotonic() + seconds
    closed_by_vpcd = False
    links = []
    try:
        for card, name, number in cards:
            links.append(VpcdLink(card, host=host, port=port + number).insert())
            click.echo(f"card '{name}' inserted in vpcd slot {number} ({host}:{port + number}, "
                       f"reader 'Virtual PCD 00 {number:02d}'), ATR {card.atr.hex().upper()}; "
                       "Ctrl-C removes it / 模拟卡已插入", err=True)
        try:
            while not stop.is_set():
                if not all(link.connected for link in links):
                    closed_by_vpcd = True
                    break
                if deadline is not None and time.monotonic() >= deadline:
                    break
                stop.wait(0.2)
        except KeyboardInterrupt:
            pass
    finally:
        for link in links:
            link.remove()
        signal.signal(signal.SIGTERM, previous)
    if closed_by_vpcd:
        click.echo("vpcd closed the connection (pcscd stopped?) / 连接已断开", err=True)
    return 0


def _card(name: str):
    if name == PSAM:
        from sscard.emulator.psam_card import PsamCard
        return PsamCard.from_file()
    from sscard.emulator import SocialSecurityCard
    return SocialSecurityCard.from_persona(name)


def command(reader_options, debug_option) -> click.Command:
    """The command as sscard.cli.main registers it (the shared options are not used here)."""
    return emulate

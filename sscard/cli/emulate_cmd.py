"""`sscard emulate`: put emulated cards into pcscd's vpcd virtual readers — one card until
Ctrl-C, or a test bench (scenario steps, faults on cue, a private pcscd, a control channel)."""

from __future__ import annotations

import click

from sscard.cli.options import UsageError

PSAM = "psam"  # the name under which `emulate` serves the software PSAM
SYSTEM_SLOTS = 2  # vpcd's slots in the system pcscd's default reader.conf.d


@click.command()
@click.argument("persona", required=False)
@click.option(
    "--slot",
    type=click.IntRange(0, 15),
    default=0,
    show_default=True,
    help="vpcd slot for PERSONA: 0 = 'Virtual PCD 00 00', 1 = 'Virtual PCD 00 01'.",
)
@click.option(
    "--psam",
    "with_psam",
    is_flag=True,
    help="Also insert the software PSAM (published test keys) in the next slot, as "
    "a kiosk has one next to the card reader.",
)
@click.option(
    "--port",
    type=click.IntRange(1, 65534),
    default=35963,
    show_default=True,
    help="vpcd's base TCP port (reader.conf.d/vpcd); slot N uses PORT + N.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Where pcscd/vpcd runs.")
@click.option("--seconds", type=click.FloatRange(min=0), help="Remove the card after SECONDS.")
@click.option(
    "--scenario",
    type=click.Path(dir_okay=False),
    metavar="FILE",
    help="Run the steps of a scenario file (TOML); one JSON event per line on stdout.",
)
@click.option(
    "--slots",
    type=click.IntRange(1, 16),
    metavar="N",
    help="Start a private pcscd with N vpcd readers (the system's pcscd is not "
    "touched); programs find it with PCSCLITE_CSOCK_NAME.",
)
@click.option(
    "--socket",
    "socket_path",
    type=click.Path(dir_okay=False),
    metavar="PATH",
    help="With --slots: where the private pcscd's socket goes (default: a temp dir).",
)
@click.option(
    "--control",
    "control_port",
    type=click.IntRange(0, 65535),
    metavar="PORT",
    help="Accept steps as JSON lines on 127.0.0.1:PORT (0 = any free port) and stay "
    "until a 'stop' step, SIGTERM or Ctrl-C.",
)
@click.option(
    "--ready-timeout",
    type=click.FloatRange(min=0.1),
    default=10.0,
    show_default=True,
    metavar="SECONDS",
    help="How long to wait for pcscd to see the card before giving up (a slot held "
    "by another card never takes it).",
)
def emulate(
    persona,
    slot,
    with_psam,
    port,
    host,
    seconds,
    scenario,
    slots,
    socket_path,
    control_port,
    ready_timeout,
) -> int:
    """Insert the emulated card PERSONA into vpcd, where any PC/SC program sees it.

    PERSONA 'psam' is the software social security PSAM instead of a user card.  Needs
    pcscd running with vsmartcard-vpcd, or --slots N for a private one.  The line "card …
    inserted" (stderr) comes only once pcscd shows the card in the reader, so scripts can
    wait for it; a slot another card holds is an error (exit 1).  The cards stay inserted
    until SIGTERM or --seconds (exit 0) or Ctrl-C (exit 130); stopping removes them.

    As a test bench (--scenario, --slots, --control) it prints one JSON object per line:
    ready, inserted, removed, apdu (count and header), armed, fault, mark, done or error.
    """
    if with_psam and persona == PSAM:
        raise UsageError(
            "--psam inserts the PSAM next to a user card: give a persona",
            "--psam 把 PSAM 卡插在用户卡旁边：请指定一张模拟卡",
        )
    if socket_path and not slots:
        raise UsageError(
            "--socket names the private pcscd's socket: give --slots",
            "--socket 是私有 pcscd 的套接字：请同时指定 --slots",
        )
    if scenario is None and slots is None and control_port is None:
        if persona is None:
            raise UsageError(
                "give a PERSONA, or --scenario, --slots or --control",
                "请指定模拟卡，或 --scenario、--slots、--control",
            )
        return _single(persona, slot, with_psam, port, host, seconds, ready_timeout)
    if seconds is not None:
        raise UsageError(
            "--seconds is for a single card; a scenario waits with its steps",
            "--seconds 只用于单张卡；测试场景用 wait 步骤等待",
        )
    from sscard.cli.bench_run import run_bench

    return run_bench(
        persona=persona,
        slot=slot,
        with_psam=with_psam,
        port=port,
        host=host,
        scenario_path=scenario,
        slots=slots,
        socket_path=socket_path,
        control_port=control_port,
    )


def _single(persona, slot, with_psam, port, host, seconds, ready_timeout) -> int:
    import signal
    import threading
    import time

    from sscard.emulator.vpcd import VpcdLink

    if slot >= SYSTEM_SLOTS:
        raise UsageError(
            "--slot is 0 or 1 with the system's pcscd (--slots N for more)",
            "使用系统 pcscd 时 --slot 只能是 0 或 1（更多读卡器请用 --slots N）",
        )
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
            link = VpcdLink(card, host=host, port=port + number).insert()
            links.append(link)
            _await_presence(link, card, number, host, port + number, ready_timeout)
            click.echo(
                f"card '{name}' inserted in vpcd slot {number} ({host}:{port + number}, "
                f"reader 'Virtual PCD 00 {number:02d}'), ATR {card.atr.hex().upper()}; "
                "Ctrl-C removes it / 模拟卡已插入",
                err=True,
            )
        while not stop.is_set():
            if not all(link.connected for link in links):
                closed_by_vpcd = True
                break
            if deadline is not None and time.monotonic() >= deadline:
                break
            stop.wait(0.2)
    finally:  # Ctrl-C too (exit 130, as every command): the cards come out first
        for link in links:
            link.remove()
        signal.signal(signal.SIGTERM, previous)
    if closed_by_vpcd:
        click.echo("vpcd closed the connection (pcscd stopped?) / 连接已断开", err=True)
    return 0


def _await_presence(link, card, slot: int, host: str, port: int, timeout: float) -> None:
    """Return only when the card is really in the reader: vpcd powered it up (a slot held by
    another card never does) and, for a local pcscd, the reader shows this card's ATR."""
    import time

    from sscard import errors

    if not link.wait_powered(timeout):  # pcscd polls vpcd every 0.4 s
        raise errors.VpcdSlotTaken(
            f"vpcd slot {slot} ({host}:{port}) did not take the card within "
            f"{timeout:g} s: another card is inserted there (another `sscard "
            "emulate`?), or that port is not vpcd's",
            zh=f"vpcd 卡槽 {slot}（{host}:{port}）未接受模拟卡：该卡槽已有其他卡"
            "（另一个 `sscard emulate`？），或该端口不是 vpcd",
        )
    if host not in ("127.0.0.1", "localhost", "::1"):
        return  # a remote pcscd: its readers are not ours to list
    reader = f"Virtual PCD 00 {slot:02d}"
    from sscard.transport.pcsc import list_readers

    deadline = time.monotonic() + timeout
    while True:
        try:
            state = next((r for r in list_readers() if r.name == reader), None)
        except errors.SscardError:
            return  # no PC/SC client access here: vpcd's power-up is the evidence
        if state is None:
            return  # vpcd under another reader name: likewise
        if state.card_present and state.atr == card.atr:
            return
        if time.monotonic() >= deadline:
            shown = state.atr.hex().upper() if state.atr else "none"
            raise errors.VpcdSlotTaken(
                f"reader '{reader}' still shows ATR {shown}, not the emulated card's "
                f"{card.atr.hex().upper()}: the slot is taken",
                zh=f"读卡器 '{reader}' 的 ATR 未变为模拟卡的 ATR：卡槽已被占用",
            )
        time.sleep(0.05)


def _card(name: str):
    if name == PSAM:
        from sscard.emulator.psam_card import PsamCard

        return PsamCard.from_file()
    from sscard.emulator import SocialSecurityCard

    return SocialSecurityCard.from_persona(name)

"""End to end through the real PC/SC stack: a private pcscd, the vpcd driver, our emulator.

Skipped where pcscd or vsmartcard-vpcd is not installed; CI installs both (and fails
instead of skipping when they are missing there).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from contextlib import ExitStack

import pytest
from helpers import TODAY
from pcsc_stack import (
    READERS,
    PrivatePcscd,
    reader_state,
    require_stack,
    stack_available,
    wait_state,
)

from sscard import errors
from sscard.emulator import SocialSecurityCard
from sscard.emulator.persona import list_personas
from sscard.emulator.vpcd import POWER_OFF, POWER_ON, RESET, VpcdLink
from sscard.testing.pcscd import card_inserted

SLOT0, SLOT1 = READERS
# an identity read: SELECT SSSE + one READ RECORD range per file; a card refusing the range
# form: that one refused APDU + the 17 of the per-item read
IDENTITY_APDUS = {"gen2": 3, "gen2-no-range": 18}
SELECT_SSSE = "00A404000F7378312E73682EC9E7BBE1B1A3D5CF00"
PER_ITEM = [
    "00A4020002EF05",
    "00B2010012",
    "00B2020003",
    "00B2030006",
    "00B204000E",
    "00B2050006",
    "00B2060006",
    "00B207000B",
    "00A4020002EF06",
    "00B2080014",
    "00B2090020",
    "00B24E0016",
    "00B20A0003",
    "00B20B0003",
    "00B20C0005",
    "00B20D0006",
]


@pytest.fixture(scope="session")
def pcscd():
    require_stack()
    daemon = PrivatePcscd().start()
    daemon.use_in_this_process()  # before this process's first PC/SC call
    try:
        daemon.wait_readers()
        yield daemon
    finally:
        assert daemon.stop() == 0
        daemon.cleanup()


@pytest.fixture
def insert(pcscd):
    """insert(persona, slot=0, **link options): the card in the slot (pcscd has seen it), taken
    out after the test (pcscd has seen that too)."""
    with ExitStack() as cards:

        def insert_card(persona: str, slot: int = 0, **kwargs) -> VpcdLink:
            card = SocialSecurityCard.from_persona(persona)
            link = VpcdLink(card, port=pcscd.port + slot, **kwargs)
            return cards.enter_context(card_inserted(link, READERS[slot]))

        yield insert_card


def _read_both_ways(persona: str):
    import sscard

    try:
        with sscard.open(SLOT0) as card:
            through_pcscd = card.read_identity(today=TODAY)
    except errors.SscardError as e:
        through_pcscd = type(e)
    try:
        with sscard.open_emulator(persona) as card:
            in_process = card.read_identity(today=TODAY)
    except errors.SscardError as e:
        in_process = type(e)
    return through_pcscd, in_process


@pytest.mark.parametrize("persona", list_personas())
def test_every_persona_reads_the_same_through_pcscd(insert, persona):
    insert(persona)
    through_pcscd, in_process = _read_both_ways(persona)
    assert through_pcscd == in_process


def test_cli_reads_a_reader_like_the_emulator(insert, capsys):
    from sscard.cli.main import run

    insert("gen2")
    assert run(["read", "-r", SLOT0, "--json", "--reveal"]) == 0
    real = json.loads(capsys.readouterr().out)
    assert run(["read", "--emulator", "gen2", "--json", "--reveal"]) == 0
    emulated = json.loads(capsys.readouterr().out)
    assert real["source"] == {"kind": "reader", "name": SLOT0, "description": SLOT0}
    real.pop("source"), emulated.pop("source")
    assert real == emulated
    # by index and by ATR prefix too
    assert run(["read", "-r", "0", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["holder"]["name"] == "测**"
    assert run(["read", "-r", real["card"]["atr"][:12], "--json"]) == 0
    capsys.readouterr()
    for prefix in ("3B6D", "3b 6d 00", real["card"]["atr"][:2]):  # any even-length prefix
        assert run(["read", "-r", prefix, "--json"]) == 0, capsys.readouterr().err
        assert json.loads(capsys.readouterr().out)["card"]["atr"] == real["card"]["atr"]
    assert run(["read", "-r", "3B6E"]) == errors.ExitCode.USAGE
    err = capsys.readouterr().err
    assert f"0: {SLOT0} (ATR {real['card']['atr']})" in err and f"1: {SLOT1} (no card" in err


def test_readers_command_probes_cards(insert, capsys):
    from sscard.cli.main import run

    insert("gen2", slot=0)
    insert("ssse-blocked", slot=1)
    assert run(["readers", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["reader"] for r in rows] == list(READERS)
    assert rows[0]["card"] and rows[0]["atr"].startswith("3B6D0000")
    assert rows[0]["social_security_card"] == "yes"
    assert rows[1]["social_security_card"] == "blocked"


def test_empty_reader_and_missing_reader(pcscd, capsys):
    import sscard
    from sscard.cli.main import run

    with pytest.raises(errors.NoCard):
        sscard.open(SLOT0)
    with pytest.raises(errors.InvalidArgument, match="Virtual PCD 00 01"):
        sscard.open("no such reader")
    assert run(["read", "-r", SLOT0]) == errors.ExitCode.NO_CARD
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1


def test_wait_for_a_card(pcscd):
    import sscard

    started = time.monotonic()
    with pytest.raises(errors.NoCard):
        sscard.open(SLOT0, wait=0.5)
    assert time.monotonic() - started >= 0.5
    link = VpcdLink(SocialSecurityCard.from_persona("gen1"), port=pcscd.port)
    timer = threading.Timer(0.3, link.insert)
    timer.start()
    try:
        with sscard.open(SLOT0, wait=10) as card:
            assert card.read_identity().generation == 1
    finally:
        timer.join()
        counter = reader_state(SLOT0)[1]
        link.remove()
        wait_state(SLOT0, False, after=counter)


def test_vpcd_power_and_removal(insert):
    import sscard

    link = insert("gen2")
    with sscard.open(SLOT0) as card:
        card.probe()
    assert link.controls[POWER_ON] >= 1 and link.apdus >= 1
    counter = reader_state(SLOT0)[1]
    link.remove()
    wait_state(SLOT0, False, after=counter)


@pytest.mark.parametrize(
    "persona,sequence",
    [
        ("gen2", [SELECT_SSSE, "00B2012D40", "00B201355B"]),
        ("gen2-t0", [SELECT_SSSE, "00C000001E", "00B2012D40", "00B201355B"]),  # 611E first
        ("gen1", [SELECT_SSSE, "00B2012D40", "00B2013545"]),  # no 4E: 69 bytes
        ("gen3", [SELECT_SSSE, "00B2012D40"]),  # EF06 locked: nothing sent for it
        ("gen2-no-range", [SELECT_SSSE, "00B2012D40"] + PER_ITEM),  # 6A86, once
    ],
)
def test_identity_apdus_at_the_card_through_pcscd(insert, persona, sequence):
    import sscard

    seen = []
    insert(persona, on_apdu=lambda i, apdu: seen.append(apdu.hex().upper()))
    with sscard.open(SLOT0) as card:
        identity = card.read_identity(today=TODAY)
        assert card.session.apdu_count == len(sequence)
    assert seen == sequence
    with sscard.open_emulator(persona) as card:  # nothing read differently
        per_item = card.read_identity(today=TODAY)
    assert identity == per_item


def test_range_refusal_is_remembered_for_the_whole_connection(insert):
    import sscard

    seen = []
    insert("gen2-no-range", on_apdu=lambda i, apdu: seen.append(apdu.hex().upper()))
    with sscard.open(SLOT0) as card:
        first = card.read_identity(today=TODAY)
        second = card.read_identity(today=TODAY)
    assert first == second and seen.count("00B2012D40") == 1 and "00B201355B" not in seen
    assert len(seen) == 18 + 17


def _apdus(persona: str, operation: str) -> int:
    """How many APDUs `operation` sends to `persona` (the in-process emulator, same card)."""
    import sscard

    with sscard.open_emulator(persona) as card:
        getattr(card, operation)()
        return card.session.apdu_count


REMOVALS = [
    (persona, operation, i)
    for persona, operation in [
        ("gen2", "read_identity"),
        ("gen2-no-range", "read_identity"),
        ("gen2", "read_status"),
        ("gen2", "pin_tries"),
    ]
    for i in range(_apdus(persona, operation))
]


@pytest.mark.parametrize("persona,operation,index", REMOVALS)
def test_card_removed_at_every_apdu_is_reported_as_removed(insert, persona, operation, index):
    # pcscd + vpcd answer the interrupted exchange with nothing and still call the card
    # present until their next presence poll: only asking the reader tells a removal
    import sscard

    holder = {}

    def pull(i, apdu):
        if i == index:
            holder["link"].remove()

    holder["link"] = insert(persona, on_apdu=pull)
    with pytest.raises(errors.SscardError) as info:
        with sscard.open(SLOT0) as card:
            getattr(card, operation)()
    assert type(info.value) is errors.CardRemoved, info.value
    assert holder["link"].apdus == index + 1  # the removal came where it was meant to


@pytest.mark.parametrize("command", [["read"], ["status"], ["pin", "tries"]])
def test_cli_exits_8_when_the_card_is_pulled_out(insert, capsys, command):
    from sscard.cli.main import run

    holder = {}

    def pull(i, apdu):
        if i == 1:
            holder["link"].remove()

    holder["link"] = insert("gen2", on_apdu=pull)
    assert run([*command, "-r", SLOT0]) == errors.ExitCode.CARD_REMOVED
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "removed" in err


def test_reset_by_another_program_is_recovered_once(insert):
    from smartcard.pcsc.PCSCReader import PCSCReader
    from smartcard.scard import SCARD_RESET_CARD, SCARD_SHARE_SHARED

    import sscard

    insert("gen2")
    with sscard.open(SLOT0, shared=True) as card:
        first = card.read_identity(today=TODAY)
        other = PCSCReader(SLOT0).createConnection()
        other.connect(mode=SCARD_SHARE_SHARED)
        other.reconnect(mode=SCARD_SHARE_SHARED, disposition=SCARD_RESET_CARD)
        other.disconnect()
        second = card.read_identity(today=TODAY)  # sees the reset, reconnects, reads again
    assert first == second


def _other_program_reads_ef06() -> int:
    """What a program without keys gets when it asks for the social security number in EF06
    without selecting the application again (that would drop any security state): the SW
    of its READ RECORD, or of the SELECT EF06 that failed.  It leaves the card as it found it."""
    from smartcard.pcsc.PCSCReader import PCSCReader
    from smartcard.scard import SCARD_LEAVE_CARD, SCARD_SHARE_SHARED

    other = PCSCReader(SLOT0).createConnection()
    other.connect(mode=SCARD_SHARE_SHARED, disposition=SCARD_LEAVE_CARD)
    try:
        for apdu in ("00A4020002EF06", "00B2080014"):  # SELECT EF06, READ RECORD tag 08
            *_, sw1, sw2 = other.transmit(list(bytes.fromhex(apdu)))
            if (sw1, sw2) != (0x90, 0x00):
                break
        return sw1 << 8 | sw2
    finally:
        other.disconnect()


def _counted(condition, bound: float = 5.0) -> bool:
    """Whether `condition()` holds within `bound` seconds (a bounded wait, not a timing)."""
    deadline = time.monotonic() + bound
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def _reset_by_another_program() -> None:
    from smartcard.pcsc.PCSCReader import PCSCReader
    from smartcard.scard import SCARD_LEAVE_CARD, SCARD_RESET_CARD, SCARD_SHARE_SHARED

    other = PCSCReader(SLOT0).createConnection()
    other.connect(mode=SCARD_SHARE_SHARED, disposition=SCARD_LEAVE_CARD)
    other.reconnect(mode=SCARD_SHARE_SHARED, disposition=SCARD_RESET_CARD)
    other.component.disposition = SCARD_LEAVE_CARD
    other.disconnect()


@pytest.mark.parametrize("recovered", [False, True])
def test_closing_powers_the_card_down_even_after_a_reset_recovery(insert, recovered):
    """An authenticated read opens EF06 (RKSSSE); once sscard closes the card, a second
    program without keys must find it powered down and read nothing — also when a reset
    recovery reconnected during the session (pyscard then keeps SCARD_LEAVE_CARD)."""
    import sscard
    from sscard.auth.keysource import load_keys

    link = insert("gen3")
    with sscard.open(SLOT0, shared=True) as card:
        if recovered:
            card.read_identity(today=TODAY)
            _reset_by_another_program()
            card.read_identity(today=TODAY)  # sees the reset, reconnects, reads again
            assert link.controls[RESET] >= 1 and card.transport  # recovered, not reopened
        identity = card.read_identity(today=TODAY, keys=load_keys("test"))
        assert identity.holder_status.value == "read"
        # while sscard holds it the card stays authenticated: the probe does see that
        assert _other_program_reads_ef06() == 0x9000
        powered_off = link.controls[POWER_OFF]
    # vpcd's power-off message has no answer: pcscd returns before the emulator has counted it
    assert _counted(lambda: link.controls[POWER_OFF] > powered_off)
    assert _other_program_reads_ef06() != 0x9000


def test_card_held_exclusively_by_another_process(insert, pcscd):
    import sscard

    insert("gen2")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from smartcard.pcsc.PCSCReader import PCSCReader\n"
            "from smartcard.scard import SCARD_SHARE_EXCLUSIVE\n"
            f"c = PCSCReader({SLOT0!r}).createConnection(); c.connect(mode=SCARD_SHARE_EXCLUSIVE)\n"
            "print('ready', flush=True); sys.stdin.read()\n",
        ],
        env=pcscd.client_env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        with pytest.raises(errors.CardBusy, match="another program"):
            sscard.open(SLOT0)
        from sscard.cli.main import run

        assert run(["read", "-r", SLOT0]) == errors.ExitCode.CARD_BUSY == 18
    finally:
        holder.stdin.close()
        holder.wait(10)
    with sscard.open(SLOT0) as card:  # free again
        assert card.probe() == "yes"


def test_emulate_command_and_other_pcsc_programs(pcscd, tmp_path):
    env = pcscd.client_env()
    emulate = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sscard.cli.main",
            "emulate",
            "gen2",
            "--port",
            str(pcscd.port),
            "--slot",
            "1",
            "--seconds",
            "60",
        ],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert "inserted" in emulate.stderr.readline()
        counter = wait_state(SLOT1, True)
        result = subprocess.run(
            [sys.executable, "-m", "sscard.cli.main", "read", "-r", SLOT1, "--json", "--reveal"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        doc = json.loads(result.stdout)
        assert doc["holder"]["social_security_number"] == "110101199003071233"
        if os.path.exists("/usr/bin/pcsc_scan"):
            scan = subprocess.run(
                ["pcsc_scan", "-n", "-t", "2"], env=env, capture_output=True, text=True, timeout=30
            )
            assert SLOT1 in scan.stdout and doc["card"]["atr"][:8] in scan.stdout.replace(" ", "")
    finally:
        emulate.terminate()
        assert emulate.wait(10) == 0
    wait_state(SLOT1, False, after=counter)


def test_emulate_into_a_taken_slot_fails_and_says_so(pcscd):
    """A second `sscard emulate` into a slot another card holds: vpcd never takes it (the
    same persona, so the ATR alone could not tell), the command fails clearly and never
    prints the readiness line; the first card stays in."""
    env = pcscd.client_env()
    base = [
        sys.executable,
        "-m",
        "sscard.cli.main",
        "emulate",
        "gen2",
        "--port",
        str(pcscd.port),
        "--slot",
        "1",
    ]
    first = subprocess.Popen([*base, "--seconds", "60"], env=env, stderr=subprocess.PIPE, text=True)
    try:
        ready = first.stderr.readline()
        assert "inserted in vpcd slot 1" in ready
        present, counter = reader_state(SLOT1)  # the readiness line means the card is there
        assert present
        second = subprocess.run(
            [*base, "--ready-timeout", "2"], env=env, capture_output=True, text=True, timeout=60
        )
        assert second.returncode == errors.ExitCode.FAILURE
        assert "inserted in vpcd" not in second.stderr and second.stderr.count("\n") == 1
        assert second.stderr.startswith("error: vpcd slot 1") and "卡槽" in second.stderr
        assert reader_state(SLOT1) == (True, counter)  # the first card was never disturbed
        import sscard

        with sscard.open(SLOT1) as card:
            assert card.probe() == "yes"
    finally:
        first.terminate()
        assert first.wait(10) == 0
    wait_state(SLOT1, False, after=counter)


def test_emulate_readiness_line_only_when_the_reader_shows_the_card(pcscd):
    env = pcscd.client_env()
    emulate = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sscard.cli.main",
            "emulate",
            "gen3",
            "--port",
            str(pcscd.port),
            "--slot",
            "0",
        ],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = emulate.stderr.readline()
        assert "inserted in vpcd slot 0" in line
        present, counter = reader_state(SLOT0)  # checked at once, no waiting
        assert present
        emulate.send_signal(signal.SIGINT)
        assert emulate.wait(10) == errors.ExitCode.INTERRUPTED
        assert emulate.stderr.read() == "error: interrupted / 已中断\n"
    finally:
        if emulate.poll() is None:
            emulate.kill()
    wait_state(SLOT0, False, after=counter)


@pytest.mark.parametrize("fmt", ["text", "ireadcardbas"])
def test_ctrl_c_while_waiting_for_a_card_exits_130(pcscd, fmt):
    """A real SIGINT to `sscard read --wait` blocked on an empty reader."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sscard.cli.main",
            "-d",
            "read",
            "--wait",
            "30",
            "-r",
            SLOT1,
            "--format",
            fmt,
        ],
        env=pcscd.client_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        while "waiting for a card" not in (line := proc.stderr.readline()):
            assert line, "sscard ended before waiting"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == errors.ExitCode.INTERRUPTED
    assert err.splitlines()[-1] == "error: interrupted / 已中断" and "Traceback" not in err
    assert out == ("-31|用户取消|\n" if fmt == "ireadcardbas" else "")


def test_watch_survives_a_pcscd_restart():
    """`sscard watch` in a subprocess, against a pcscd of its own that we restart."""
    if not stack_available():
        pytest.skip("pcscd and vsmartcard-vpcd are not installed")
    daemon = PrivatePcscd().start()
    watch = None
    link = None
    try:
        env = daemon.client_env()
        watch = subprocess.Popen(
            [sys.executable, "-m", "sscard.cli.main", "watch", "--json", "--seconds", "60"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        events = _line_reader(watch)

        def next_event(kinds, timeout=15):
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                try:
                    line = events.pop(0)
                except IndexError:
                    time.sleep(0.05)
                    continue
                doc = json.loads(line)
                if doc["event"] in kinds:
                    return doc
            raise AssertionError(f"no {kinds} event")

        link = VpcdLink(SocialSecurityCard.from_persona("gen2"), port=daemon.port).insert(
            timeout=10
        )
        inserted = next_event({"inserted"})
        assert inserted["reader"] == SLOT0
        read = next_event({"read"})
        assert read["reader"] == SLOT0 and read["atr"] == inserted["atr"]
        assert read["identity"]["holder"]["social_security_number"] == "110***********1233"
        link.remove()
        next_event({"removed"})
        daemon.stop()
        next_event({"service_lost"})
        daemon.start()
        next_event({"service_restored"}, timeout=20)
        link = VpcdLink(SocialSecurityCard.from_persona("gen3"), port=daemon.port).insert(
            timeout=10
        )
        next_event({"inserted"})
        again = next_event({"read"})
        assert again["identity"]["holder_status"] == "locked"
    finally:
        if link is not None:
            link.remove()
        if watch is not None:
            watch.terminate()
            watch.wait(10)
        daemon.stop()
        daemon.cleanup()


def _line_reader(process) -> list[str]:
    lines: list[str] = []

    def pump():
        for line in process.stdout:
            lines.append(line)

    threading.Thread(target=pump, daemon=True).start()
    return lines


def test_card_swapped_between_two_reads_is_never_read_as_the_first(pcscd):
    import sscard

    first = VpcdLink(SocialSecurityCard.from_persona("gen2"), port=pcscd.port).insert()
    counter = wait_state(SLOT0, True)
    second = None
    try:
        with sscard.open(SLOT0) as card:
            assert card.read_identity(today=TODAY).holder.name == "测试甲"
            first.remove()
            counter = wait_state(SLOT0, False, after=counter)
            second = VpcdLink(SocialSecurityCard.from_persona("gen1"), port=pcscd.port).insert()
            counter = wait_state(SLOT0, True, after=counter)
            with pytest.raises(errors.CardError) as info:
                card.read_identity(today=TODAY)
            assert isinstance(info.value, (errors.CardRemoved, errors.CardReset))
        with sscard.open(SLOT0) as card:  # a new connection reads the new card
            assert card.read_identity(today=TODAY).generation == 1
    finally:
        first.remove()
        if second is not None:
            second.remove()
            wait_state(SLOT0, False, after=counter)


def test_a_contactless_gen3_card_authenticates_through_pcscd(insert, capsys):
    """Its PC/SC ATR announces T=1 and ends with TCK: historical bytes and card factor come
    from the parsed ATR, so the card proves itself and EF06 opens."""
    from sscard.cli.main import run

    insert("gen3-contactless")
    assert run(["read", "-r", SLOT0, "--keys", "test", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    atr = doc["card"]["atr"]
    assert atr.startswith("3B8D8001") and doc["card"]["historical_bytes"] == atr[8:-2]
    assert doc["card"]["authentic"] == "yes" and doc["holder_status"] == "read"
    assert run(["read", "-r", SLOT0, "--keys", "test", "--format", "ireadcardbas"]) == 0
    assert capsys.readouterr().out.split("|")[5] == atr[8:-2]


# --- a card that stops answering (issue: every card operation has a deadline) -----------------


@pytest.fixture
def mute_card(insert):
    """insert(persona) whose card stops answering from APDU `index` on, until the test ends."""
    release = threading.Event()

    def make(
        index: int, persona: str = "gen2", delay: float | None = None, slot: int = 0
    ) -> VpcdLink:
        def hang(i, apdu):
            if delay is not None:
                time.sleep(delay)  # a card that answers, slowly
            elif i >= index:
                release.wait(60)

        return insert(persona, slot=slot, on_apdu=hang)

    yield make
    release.set()  # before `insert` removes the card: the blocked exchange ends


def _bounded(fn, limit: float = 30.0):
    """Run fn on a thread and fail (instead of hanging the suite) if it never returns."""
    outcome = {}

    def run():
        try:
            outcome["value"] = fn()
        except BaseException as e:
            outcome["error"] = e

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(limit)
    assert not worker.is_alive(), "the call hung"
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


@pytest.mark.parametrize("operation", ["read_identity", "read_status", "pin_tries"])
def test_a_mute_card_ends_in_card_mute_not_a_hang(mute_card, operation):
    import sscard

    link = mute_card(index=1)

    def attempt():
        with sscard.open(SLOT0, timeout=0.5) as card:
            getattr(card, operation)()

    with pytest.raises(errors.CardMute, match="within 0.5 s") as info:
        _bounded(attempt)
    assert info.value.exit_code == errors.ExitCode.CARD_MUTE == 20
    assert link.connected  # mute, not pulled out: this is not a removal


def test_the_deadline_covers_the_whole_operation(mute_card):
    import sscard

    mute_card(index=0, delay=0.25)  # every answer comes, each well within the deadline

    def attempt():
        with sscard.open(SLOT0, timeout=1.0) as card:
            card.read_status()

    with pytest.raises(errors.CardMute, match="complete the operation within 1 s"):
        _bounded(attempt)


@pytest.mark.parametrize("command", [["read"], ["status"], ["pin", "tries"]])
def test_cli_gives_up_on_a_mute_card_with_exit_20(mute_card, capsys, command):
    from sscard.cli.main import run

    mute_card(index=1)
    assert _bounded(lambda: run([*command, "-r", SLOT0, "--timeout", "0.5"])) == 20
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "0.5 s" in err


def test_the_sscard_process_exits_despite_the_blocked_exchange(mute_card, pcscd):
    # the abandoned SCardTransmit still blocks a thread (and its PC/SC context) at exit
    mute_card(index=2)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "sscard.cli.main",
            "read",
            "-r",
            SLOT0,
            "--timeout",
            "0.5",
            "--format",
            "ireadcardbas",
        ],
        env=pcscd.client_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 20, done.stderr
    assert done.stdout.startswith("-4|")
    assert "Traceback" not in done.stderr


def test_watch_reads_each_reader_on_its_own_so_a_mute_card_delays_no_other(
    mute_card, insert, pcscd
):
    """A mute card in slot 0, then a good card in slot 1: slot 1's insertion and read are
    reported while slot 0's read still waits; slot 0's read ends at its deadline (exit 20)."""
    watch = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sscard.cli.main",
            "watch",
            "--json",
            "--reveal",
            "--timeout",
            "5",
            "--count",
            "2",
            "--seconds",
            "60",
        ],
        env=pcscd.client_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        events = _line_reader(watch)
        mute_card(index=0, slot=0)
        assert _next_line(events)["event"] == "inserted"  # reported before any read
        insert("gen2", slot=1)
        seen = []
        while not any(e["event"] == "read" and e["reader"] == SLOT1 for e in seen):
            event = _next_line(events, timeout=20)
            assert event is not None, f"slot 1 was not read: {seen}"
            seen.append(event)
        assert [(e["event"], e["reader"]) for e in seen] == [("inserted", SLOT1), ("read", SLOT1)]
        assert seen[1]["identity"]["holder"]["social_security_number"] == "110101199003071233"
        late = _next_line(events, timeout=30)
        assert (late["event"], late["reader"], late["exit_code"]) == ("read", SLOT0, 20)
        assert watch.wait(30) == 0  # --count 2: both reads reported
    finally:
        if watch.poll() is None:
            watch.terminate()
            watch.wait(10)


def _next_line(lines: list[str], timeout: float = 1.5):
    """The next JSON line of a _line_reader, or None when none came within `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if lines:
            return json.loads(lines.pop(0))
        time.sleep(0.05)
    return None


def test_a_transaction_another_program_never_ends_is_a_busy_card_not_a_hang(
    insert, pcscd, monkeypatch
):
    # shared mode: SCardBeginTransaction waits, without any deadline of its own, while
    # another program holds a transaction on the card
    import sscard
    from sscard.transport import pcsc

    monkeypatch.setattr(pcsc, "BEGIN_TIMEOUT", 0.5)
    insert("gen2")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys\n"
            "from smartcard.pcsc.PCSCReader import PCSCReader\n"
            "from smartcard.scard import SCARD_SHARE_SHARED, SCardBeginTransaction\n"
            f"c = PCSCReader({SLOT0!r}).createConnection(); c.connect(mode=SCARD_SHARE_SHARED)\n"
            "assert SCardBeginTransaction(c.component.hcard) == 0\n"
            "print('ready', flush=True); sys.stdin.read()\n",
        ],
        env=pcscd.client_env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    outcome: list = []

    def read() -> None:
        try:
            with sscard.open(SLOT0, shared=True) as card:
                outcome.append(card.read_identity(today=TODAY))
        except Exception as e:  # noqa: BLE001 - judged below
            outcome.append(e)

    try:
        assert holder.stdout.readline().strip() == "ready"
        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        reader.join(60)  # a generous bound: before the fix this waited for ever
        assert not reader.is_alive(), "the read hangs on another program's transaction"
        assert len(outcome) == 1 and isinstance(outcome[0], errors.CardBusy), outcome
        assert outcome[0].exit_code == errors.ExitCode.CARD_BUSY
    finally:
        holder.stdin.close()
        holder.wait(10)

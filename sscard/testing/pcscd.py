"""A private pcscd with N vpcd virtual readers, beside (never instead of) the system's pcscd.

pcscd 1.9.9 ignores PCSCLITE_CSOCK_NAME (only the client library honours it) and refuses
to start next to another pcscd, but it accepts an already listening socket the systemd way
(fd 3, LISTEN_FDS=1, LISTEN_PID = its own pid).  So we bind a socket in a temp dir, hand it
over through a bash wrapper (dash cannot move file descriptors above 9), give vpcd its own
ports in a private reader.conf.d, and point clients at the socket with PCSCLITE_CSOCK_NAME.
Nothing needs root and nothing of the system's pcscd is touched.  Stopped by PID, never by name.

vpcd offers two slots per reader.conf entry, each entry on its own port pair (P, P+1); pcscd
names the slots "<FRIENDLYNAME> 00 00" and "… 00 01".  Entries with the same friendly name get
the same reader names, so entry k > 0 is called "Virtual PCD k".

A process that makes its PC/SC calls itself (a benchmark, a test's child process) waits here for
the readers (`await_readers`) and for pcscd to register an insertion or a removal
(`wait_state`, `card_inserted`); `in_this_process` is the whole start-up and shut-down.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import IO, Protocol

PCSCD = "/usr/sbin/pcscd"
VPCD_DRIVER = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so"
MAX_SLOTS = 16
SOCKET_ENV = "PCSCLITE_CSOCK_NAME"

_WRAPPER = (
    'if [ "$PCSC_LISTEN_FD" != 3 ]; then exec 3<&"$PCSC_LISTEN_FD"; '
    'eval "exec $PCSC_LISTEN_FD<&-"; fi; unset PCSC_LISTEN_FD; '
    'export LISTEN_PID=$$ LISTEN_FDS=1; exec "$@"'
)


def stack_available() -> bool:
    return os.path.exists(PCSCD) and os.path.exists(VPCD_DRIVER)


def missing_reason() -> str:
    """Why a private stack cannot start here ('' when it can)."""
    missing = [
        what
        for path, what in ((PCSCD, "pcscd"), (VPCD_DRIVER, "vsmartcard-vpcd"))
        if not os.path.exists(path)
    ]
    if not missing:
        return ""
    return (
        f"{' and '.join(missing)} not installed ({', '.join((PCSCD, VPCD_DRIVER))}); "
        "on Debian: apt-get install pcscd vsmartcard-vpcd"
    )


def reader_name(slot: int) -> str:
    """pcscd's name of vpcd slot `slot` in a PrivatePcscd.

    Slots 0 and 1 keep vpcd's usual names."""
    pair, within = divmod(slot, 2)
    return f"{_friendly_name(pair)} 00 {within:02d}"


def _friendly_name(pair: int) -> str:
    return "Virtual PCD" if pair == 0 else f"Virtual PCD {pair}"


def _port_pair_free(port: int) -> bool:
    try:
        with socket.socket() as a, socket.socket() as b:
            a.bind(("", port))
            b.bind(("", port + 1))
        return True
    except OSError:
        return False


def free_port_pair(taken: frozenset[int] = frozenset()) -> int:
    """A port P with P and P+1 free on all interfaces (vpcd binds 0.0.0.0)."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("", 0))
            port = s.getsockname()[1]
        if port >= 65535 or {port, port + 1} & taken:
            continue
        if _port_pair_free(port):
            return port
    raise RuntimeError("no free port pair")


class PrivatePcscd:
    """pcscd on a socket of its own with `slots` vpcd readers.

    `port` fixes the first port pair (slots 0 and 1); the other pairs are picked free.
    `socket_path` puts pcscd's socket where the programs under test expect it.
    """

    def __init__(
        self,
        port: int | None = None,
        debug: bool = False,
        slots: int = 2,
        socket_path: str | None = None,
    ) -> None:
        if not 1 <= slots <= MAX_SLOTS:
            raise ValueError(f"slots must be 1 to {MAX_SLOTS}")
        self.slots = slots
        ports = [port or free_port_pair()]
        while len(ports) * 2 < slots:
            ports.append(free_port_pair(frozenset(p + i for p in ports for i in (0, 1))))
        self.pair_ports = tuple(ports)
        self.port = ports[0]
        self.debug = debug
        self.dir = tempfile.mkdtemp(prefix="sscard-pcscd-")
        self.sock_path = os.path.abspath(socket_path or os.path.join(self.dir, "pcscd.comm"))
        self.conf_dir = os.path.join(self.dir, "reader.conf.d")
        self.log_path = os.path.join(self.dir, "pcscd.log")
        self.proc: subprocess.Popen | None = None
        self._log: IO[bytes] | None = None

    @property
    def readers(self) -> tuple[str, ...]:
        """pcscd's reader name of each slot."""
        return tuple(reader_name(s) for s in range(self.slots))

    def slot_port(self, slot: int) -> int:
        """The TCP port on which vpcd waits for the card of `slot`."""
        if not 0 <= slot < self.slots:
            raise ValueError(f"slot must be 0 to {self.slots - 1}")
        return self.pair_ports[slot // 2] + slot % 2

    def start(self) -> PrivatePcscd:
        os.makedirs(self.conf_dir, exist_ok=True)
        with open(os.path.join(self.conf_dir, "vpcd"), "w") as f:
            for pair, port in enumerate(self.pair_ports):
                f.write(
                    f'FRIENDLYNAME "{_friendly_name(pair)}"\n'
                    f"DEVICENAME   /dev/null:{port}\n"
                    f"LIBPATH      {self._driver(pair)}\n"
                    f"CHANNELID    {port}\n\n"
                )
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        if os.path.exists(self.sock_path):
            os.unlink(self.sock_path)
        listener.bind(self.sock_path)
        os.chmod(self.sock_path, 0o666)
        listener.listen(64)
        args = [PCSCD, "--foreground", "--config", self.conf_dir]
        if self.debug:
            args.append("--debug")
        env = dict(os.environ, PCSC_LISTEN_FD=str(listener.fileno()))
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            ["/bin/bash", "-c", _WRAPPER, "pcscd-wrapper", *args],
            env=env,
            pass_fds=(listener.fileno(),),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        listener.close()  # pcscd holds its own copy
        return self

    def _driver(self, pair: int) -> str:
        """vpcd keeps its slots in static variables, so a second reader entry on the same
        library shares (and breaks) the first one's; a copy of the library is a separate
        instance for dlopen."""
        if pair == 0:
            return VPCD_DRIVER
        copy = os.path.join(self.dir, f"libifdvpcd-{pair}.so")
        if not os.path.exists(copy):
            shutil.copyfile(VPCD_DRIVER, copy)
        return copy

    def client_env(self, base: dict | None = None) -> dict:
        """The environment for a PC/SC program that should see this pcscd."""
        return dict(os.environ if base is None else base, **{SOCKET_ENV: self.sock_path})

    def use_in_this_process(self) -> None:
        """libpcsclite reads PCSCLITE_CSOCK_NAME once, at the first PC/SC call of a process."""
        os.environ[SOCKET_ENV] = self.sock_path

    def wait_readers(self, timeout: float = 15.0) -> None:
        """Wait in this process (bound to this pcscd) until pcscd lists every slot's reader."""
        await_readers(self.readers, timeout, self.check_running)

    def check_running(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            code = None if self.proc is None else self.proc.returncode
            raise RuntimeError(f"pcscd exited ({code}); see {self.log_path}")

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM by PID, then SIGKILL; the socket file goes with pcscd."""
        rc = None
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    rc = self.proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    rc = self.proc.wait(5)
            else:
                rc = self.proc.returncode
            self.proc = None
        if self._log is not None:
            self._log.close()
            self._log = None
        return rc

    def restart(self) -> None:
        """Stop and start again on the same socket path and vpcd ports."""
        self.stop()
        self.start()

    def cleanup(self) -> None:
        """Remove the temp dir, and the socket where it was put outside it (pcscd leaves it)."""
        if os.path.dirname(self.sock_path) != self.dir and os.path.exists(self.sock_path):
            os.unlink(self.sock_path)
        shutil.rmtree(self.dir, ignore_errors=True)


# --- waiting in a process whose PC/SC calls go to the private pcscd ----------------------------


def await_readers(
    readers: Sequence[str], timeout: float = 15.0, check_daemon: Callable[[], None] = lambda: None
) -> None:
    """Wait until pcscd lists every one of `readers`; `check_daemon` raises if pcscd is gone."""
    from smartcard.System import readers as listed

    deadline = time.monotonic() + timeout
    while True:
        check_daemon()
        try:
            if set(readers) <= {str(r) for r in listed()}:
                return
        except Exception:  # pcscd not answering yet
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"the vpcd readers did not appear: {', '.join(readers)}")
        time.sleep(0.05)


def reader_state(reader: str) -> tuple[bool, int]:
    """(card present, pcscd's event counter) — the counter (high 16 bits of the state)
    moves only when pcscd's own event thread has registered an insertion or removal."""
    from smartcard import scard

    from sscard.transport.pcsc import Context

    with Context() as ctx:
        _, states = scard.SCardGetStatusChange(ctx.handle, 0, [(reader, scard.SCARD_STATE_UNAWARE)])
    flags = states[0][1]
    return bool(flags & scard.SCARD_STATE_PRESENT), flags >> 16


def wait_state(reader: str, present: bool, after: int | None = None, timeout: float = 10.0) -> int:
    """Wait until the card is (not) present and, if `after` is given, pcscd's event counter has
    moved past it.  A card pulled out during an exchange is reported absent at once, but pcscd
    registers the removal only at its next presence poll (0.4 s); a card inserted before that
    would be taken for the old one, so removals wait for the counter."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        is_present, counter = reader_state(reader)
        if is_present == present and (after is None or counter != after):
            return counter
        time.sleep(0.05)
    raise AssertionError(f"{reader}: card {'not ' if present else ''}present after {timeout} s")


class _Link(Protocol):  # sscard.emulator.vpcd.VpcdLink
    def insert(self) -> None: ...
    def remove(self) -> None: ...


@contextmanager
def card_inserted(link: _Link, reader: str) -> Iterator[_Link]:
    """The card of `link` in `reader` for the duration of a block: pcscd has registered the
    insertion when the block starts, and the removal when it ends (see wait_state)."""
    link.insert()
    counter = wait_state(reader, True)
    try:
        yield link
    finally:
        link.remove()
        wait_state(reader, False, after=counter)


@contextmanager
def in_this_process(**options) -> Iterator[PrivatePcscd]:
    """A PrivatePcscd(**options) that this process's PC/SC calls go to, its readers listed;
    stopped and removed afterwards.  Call it before the process's first PC/SC call."""
    reason = missing_reason()
    if reason:
        raise RuntimeError(reason)
    daemon = PrivatePcscd(**options).start()
    try:
        daemon.use_in_this_process()
        daemon.wait_readers()
        yield daemon
    finally:
        daemon.stop()
        daemon.cleanup()

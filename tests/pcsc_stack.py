"""A private pcscd with the vpcd virtual reader driver, for tests and benchmarks.

pcscd 1.9.9 ignores PCSCLITE_CSOCK_NAME (only the client library honours it) and
refuses to start next to another pcscd, but it accepts an already listening socket
the systemd way (fd 3, LISTEN_FDS=1, LISTEN_PID = its own pid).  So we bind a
socket in a temp dir, hand it over through a bash wrapper (dash cannot move file
descriptors above 9), give vpcd its own port pair in a private reader.conf.d, and
point clients at the socket with PCSCLITE_CSOCK_NAME.  Stopped by PID, never pkill.

A test module that wants a pcscd of its own makes its PC/SC calls in child processes
(`own_pcscd`, `run_in_child`): libpcsclite reads PCSCLITE_CSOCK_NAME once, at the first
PC/SC call of a process, and stays bound to that socket; test_pcsc_e2e's session pcscd may
already own the pytest process, and a module's pcscd must not take it from it either.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

PCSCD = "/usr/sbin/pcscd"
VPCD_DRIVER = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so"
READERS = ("Virtual PCD 00 00", "Virtual PCD 00 01")
TESTS = os.path.dirname(os.path.abspath(__file__))

_WRAPPER = ('if [ "$PCSC_LISTEN_FD" != 3 ]; then exec 3<&"$PCSC_LISTEN_FD"; '
            'eval "exec $PCSC_LISTEN_FD<&-"; fi; unset PCSC_LISTEN_FD; '
            'export LISTEN_PID=$$ LISTEN_FDS=1; exec "$@"')


def stack_available() -> bool:
    return os.path.exists(PCSCD) and os.path.exists(VPCD_DRIVER)


def require_stack() -> None:
    """Skip a test without pcscd and vpcd, but fail on CI, which must have installed them."""
    import pytest  # here, so that benchmarks and child processes need no pytest
    if not stack_available():
        if os.environ.get("CI"):
            pytest.fail("CI must install pcscd and vsmartcard-vpcd (.ci/setup.sh)")
        pytest.skip("pcscd and vsmartcard-vpcd are not installed")


def await_readers(timeout: float = 15.0, check_daemon=lambda: None) -> None:
    """Wait in this process until pcscd lists both vpcd readers."""
    from smartcard.System import readers
    deadline = time.monotonic() + timeout
    while True:
        check_daemon()
        try:
            if set(READERS) <= {str(r) for r in readers()}:
                return
        except Exception:  # pcscd not answering yet
            pass
        if time.monotonic() > deadline:
            raise TimeoutError("the vpcd readers did not appear")
        time.sleep(0.05)


def free_port_pair() -> int:
    """A port P with P and P+1 free on all interfaces (vpcd binds 0.0.0.0)."""
    for _ in range(100):
        with socket.socket() as s:
            s.bind(("", 0))
            port = s.getsockname()[1]
        if port >= 65535:
            continue
        try:
            with socket.socket() as a, socket.socket() as b:
                a.bind(("", port))
                b.bind(("", port + 1))
            return port
        except OSError:
            continue
    raise RuntimeError("no free port pair")


class PrivatePcscd:
    def __init__(self, port: int | None = None, debug: bool = False) -> None:
        self.port = port or free_port_pair()
        self.debug = debug
        self.dir = tempfile.mkdtemp(prefix="sscard-pcscd-")
        self.sock_path = os.path.join(self.dir, "pcscd.comm")
        self.conf_dir = os.path.join(self.dir, "reader.conf.d")
        self.log_path = os.path.join(self.dir, "pcscd.log")
        self.proc: subprocess.Popen | None = None
        self._log = None

    def start(self) -> PrivatePcscd:
        os.makedirs(self.conf_dir, exist_ok=True)
        with open(os.path.join(self.conf_dir, "vpcd"), "w") as f:
            f.write('FRIENDLYNAME "Virtual PCD"\n'
                    f"DEVICENAME   /dev/null:{self.port}\n"
                    f"LIBPATH      {VPCD_DRIVER}\n"
                    f"CHANNELID    {self.port}\n")
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
        self.proc = subprocess.Popen(["/bin/bash", "-c", _WRAPPER, "pcscd-wrapper", *args],
                                     env=env, pass_fds=(listener.fileno(),),
                                     stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        listener.close()  # pcscd holds its own copy
        return self

    def client_env(self) -> dict:
        return dict(os.environ, PCSCLITE_CSOCK_NAME=self.sock_path)

    def use_in_this_process(self) -> None:
        """libpcsclite reads PCSCLITE_CSOCK_NAME once, at the first PC/SC call of a process."""
        os.environ["PCSCLITE_CSOCK_NAME"] = self.sock_path

    def wait_readers(self, timeout: float = 15.0) -> None:
        def check_daemon() -> None:
            if self.proc.poll() is not None:
                raise RuntimeError(f"pcscd exited ({self.proc.returncode}); see {self.log_path}")
        await_readers(timeout, check_daemon)

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
        shutil.rmtree(self.dir, ignore_errors=True)


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


# --- a module's own pcscd, every PC/SC call in a child process (see the module docstring) ---

_CHILD_PRELUDE = (f"import sys; sys.path.insert(0, {TESTS!r})\n"
                  "from pcsc_stack import READERS, await_readers, wait_state\n")


def run_in_child(daemon: PrivatePcscd, code: str, *args: str, timeout: float = 60) -> str:
    """Run `code` (with READERS, await_readers and wait_state imported, `args` in sys.argv[1:])
    in a fresh Python bound to `daemon`; its stripped standard output.  Fails the test if the
    child fails."""
    done = subprocess.run([sys.executable, "-c", _CHILD_PRELUDE + code, *args],
                          env=daemon.client_env(), capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{done.stderr} (pcscd log: {daemon.log_path})"
    return done.stdout.strip()


def wait_readers_in_child(daemon: PrivatePcscd) -> None:
    run_in_child(daemon, "await_readers()")


def wait_state_in_child(daemon: PrivatePcscd, reader: str, present: bool,
                        after: int | None = None) -> int:
    """`wait_state` against `daemon`, from a child process: pcscd's event counter."""
    return int(run_in_child(daemon, f"print(wait_state({reader!r}, {present!r}, {after!r}))"))


def own_pcscd():
    """The body of a module-scoped fixture: `yield from own_pcscd()` gives a started pcscd
    whose vpcd readers are listed, and stops it by PID afterwards (it must exit cleanly)."""
    require_stack()
    daemon = PrivatePcscd().start()
    try:
        wait_readers_in_child(daemon)
        yield daemon
    finally:
        assert daemon.stop() == 0
        daemon.cleanup()

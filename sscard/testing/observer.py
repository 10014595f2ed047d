"""Watch pcscd's readers from a child process: which slots hold a card, and pcscd's event counter.

libpcsclite binds a process to one pcscd socket at its first PC/SC call (PCSCLITE_CSOCK_NAME is
read once), so a harness that may run beside other PC/SC users in the same process (a test
suite, the program under test in-process) makes no PC/SC call itself: this module's `main`
runs in a child bound to the private pcscd and prints one JSON line per reader state change;
`PcscObserver` reads them on a thread and answers "wait until the card is seen" questions.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Mapping

POLL_MS = 250  # SCardGetStatusChange timeout: how often the reader list is refreshed


class PcscObserver:
    """The reader states of the pcscd that `env` points at, kept current by a child process."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._cond = threading.Condition()
        self._states: dict[str, tuple[bool, int]] = {}
        self._error = ""
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "sscard.testing.observer"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._thread = threading.Thread(target=self._read, name="pcsc-observer", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self._proc.stdout is not None  # Popen(stdout=PIPE)
        for line in self._proc.stdout:
            try:
                message = json.loads(line)
            except ValueError:
                continue
            with self._cond:
                if "error" in message:
                    self._error = message["error"]
                else:
                    self._states[message["reader"]] = (message["present"], message["counter"])
                self._cond.notify_all()
        with self._cond:
            self._error = self._error or "the PC/SC observer exited"
            self._cond.notify_all()

    def state(self, reader: str) -> tuple[bool, int] | None:
        """(card present, pcscd's event counter), None for a reader pcscd does not list."""
        with self._cond:
            return self._states.get(reader)

    def _wait(self, ready, what: str, timeout: float):
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                result = ready()
                if result is not None:
                    return result
                if self._error:
                    raise RuntimeError(f"cannot watch pcscd: {self._error}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(what)
                self._cond.wait(left)

    def wait_readers(self, readers, timeout: float = 15.0) -> None:
        wanted = set(readers)
        self._wait(
            lambda: True if wanted <= set(self._states) else None,
            f"pcscd did not list the readers {sorted(wanted - set(self._states))}",
            timeout,
        )

    def wait_state(
        self, reader: str, present: bool, after: int | None = None, timeout: float = 10.0
    ) -> int:
        """Wait until the card is (not) present and, if `after` is given, pcscd's event counter
        has moved past it; the counter.  A card pulled out is absent at once, but pcscd registers
        the removal at its next presence poll (0.4 s): a card inserted before that would be taken
        for the old one, so a removal waits for the counter."""

        def ready():
            state = self._states.get(reader)
            if state and state[0] == present and (after is None or state[1] != after):
                return state[1]
            return None

        return self._wait(
            ready,
            f"{reader}: card {'not ' if present else ''}seen by pcscd after {timeout:g} s",
            timeout,
        )

    def close(self) -> None:
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(5)
        for stream in (self._proc.stdout, self._proc.stderr):
            if stream is not None:
                stream.close()
        self._thread.join(5)


def main() -> None:  # runs in the child
    from smartcard import scard

    def say(**message) -> None:
        sys.stdout.write(json.dumps(message) + "\n")
        sys.stdout.flush()

    deadline = time.monotonic() + 15
    while True:
        rc, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
        if rc == scard.SCARD_S_SUCCESS:
            break
        if time.monotonic() > deadline:
            say(error=f"pcscd does not answer ({scard.SCardGetErrorMessage(rc)})")
            return
        time.sleep(0.05)
    known: dict[str, int] = {}
    while True:
        rc, names = scard.SCardListReaders(context, [])
        if rc not in (scard.SCARD_S_SUCCESS, scard.SCARD_E_NO_READERS_AVAILABLE):
            say(error=f"pcscd went away ({scard.SCardGetErrorMessage(rc)})")
            return
        names = list(names or [])
        if not names:
            time.sleep(POLL_MS / 1000)
            continue
        current = [(n, known.get(n, scard.SCARD_STATE_UNAWARE)) for n in names]
        rc, states = scard.SCardGetStatusChange(context, POLL_MS, current)
        if rc == scard.SCARD_E_TIMEOUT:
            continue
        if rc != scard.SCARD_S_SUCCESS:
            if rc in (scard.SCARD_E_UNKNOWN_READER, scard.SCARD_E_READER_UNAVAILABLE):
                known.clear()
                continue
            say(error=f"pcscd went away ({scard.SCardGetErrorMessage(rc)})")
            return
        for name, flags, _atr in states:
            flags &= ~scard.SCARD_STATE_CHANGED
            if known.get(name) != flags:
                known[name] = flags
                say(
                    reader=name,
                    present=bool(flags & scard.SCARD_STATE_PRESENT),
                    counter=flags >> 16,
                )


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass

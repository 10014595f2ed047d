"""Serve an emulated card to vpcd, the vsmartcard virtual reader driver inside pcscd.

Then pcscd presents it as a card in "Virtual PCD 00 <slot>", visible to every PC/SC
program.  Wire protocol (vsmartcard's vpcd): TCP, vpcd listens on port P (slot 0)
and P+1 (slot 1), the card connects = inserted, closes = removed.  Every message
in both directions is a 2-byte big-endian length and the payload; a 1-byte
payload from vpcd is a control byte (00 power off, 01 power on, 02 reset, 04 get
ATR — only 04 is answered), a longer one is a command APDU, answered with
response data + SW.
"""

from __future__ import annotations

import logging
import socket
import struct
import threading
import time
from collections.abc import Callable

from sscard.errors import ServiceUnavailable

DEFAULT_PORT = 35963  # vpcd's default (reader.conf.d/vpcd: 0x8C7B)
POWER_OFF, POWER_ON, RESET, GET_ATR = 0x00, 0x01, 0x02, 0x04
_QUICKACK = getattr(socket, "TCP_QUICKACK", None)

log = logging.getLogger(__name__)


class VpcdLink:
    """One emulated card inserted into one vpcd slot, served on a thread.

    `on_apdu(index, apdu)` is called before each APDU is executed (tests use it to
    pull the card out at exactly that APDU: call `remove()` there and the APDU gets
    no answer).  `wire` (sscard.emulator.wire.WireModel) holds each answer back as long
    as that exchange takes on a real card's wire.
    """

    def __init__(
        self,
        card,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        on_apdu: Callable[[int, bytes], None] | None = None,
        wire=None,
    ) -> None:
        self.card = card
        self.host = host
        self.port = port
        self.on_apdu = on_apdu
        self.wire = wire
        self.apdus = 0
        self.controls = {POWER_OFF: 0, POWER_ON: 0, RESET: 0, GET_ATR: 0}
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._removed = threading.Event()
        self._powered = threading.Event()  # vpcd powered the card: pcscd holds it

    def insert(self, timeout: float = 5.0) -> VpcdLink:
        """Connect to vpcd (= insert the card); vpcd accepts on its next presence poll."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                sock = socket.create_connection((self.host, self.port), timeout=2.0)
                break
            except OSError:
                if time.monotonic() >= deadline:
                    raise ServiceUnavailable(
                        f"vpcd is not listening on {self.host}:{self.port} (is pcscd with "
                        "vsmartcard-vpcd running?)"
                    ) from None
                time.sleep(0.05)
        sock.settimeout(None)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock = sock
        self._removed.clear()
        self._powered.clear()
        self._thread = threading.Thread(target=self._serve, name="vpcd-card", daemon=True)
        self._thread.start()
        return self

    def remove(self) -> None:
        """Close the connection (= pull the card out)."""
        self._removed.set()
        sock, self._sock = self._sock, None
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)  # wakes the serving thread's recv
            except OSError:
                pass
            sock.close()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(5)
            self._thread = None

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the link closes (removed, or vpcd/pcscd went away)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            return not thread.is_alive()
        return True

    def wait_powered(self, timeout: float) -> bool:
        """Whether vpcd powered the card up within `timeout` seconds.  vpcd serves one card
        per slot: while another card holds the slot, this connection only waits in its
        listen queue and is never powered, so False means the slot is taken (or pcscd is
        not polling it)."""
        return self._powered.wait(timeout)

    @property
    def connected(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def __enter__(self) -> VpcdLink:
        return self.insert()

    def __exit__(self, *exc) -> None:
        self.remove()

    # --- serving ------------------------------------------------------------------------

    def _serve(self) -> None:
        sock = self._sock
        try:
            while sock is not None and not self._removed.is_set():
                head = _recv_exact(sock, 2)
                if head is None:
                    break
                (length,) = struct.unpack(">H", head)
                message = _recv_exact(sock, length) if length else b""
                if message is None:
                    break
                if length == 1:
                    self._control(sock, message[0])
                elif length > 1:
                    index = self.apdus
                    self.apdus += 1
                    if self.on_apdu is not None:
                        self.on_apdu(index, message)
                    if self._removed.is_set():
                        break  # removed at this APDU: it gets no answer
                    started = _now()
                    response = self.card.execute(message)
                    if self.wire is not None:
                        _sleep_until(started + self.wire.seconds(message, response))
                    _send(sock, response)
        except OSError:
            pass  # the connection went away: that is a removal
        finally:
            log.debug("vpcd link on port %d closed", self.port)

    def _control(self, sock: socket.socket, byte: int) -> None:
        if byte in self.controls:
            self.controls[byte] += 1
        if byte == GET_ATR:
            _send(sock, self.card.atr)
        elif byte == POWER_ON:
            self.card.power_up()
            self._powered.set()
        elif byte == POWER_OFF:
            self.card.power_down()
        elif byte == RESET:
            self.card.reset()
        else:
            log.debug("unknown vpcd control byte %02X", byte)


_now = time.perf_counter  # the clock of the wire model


def _sleep_until(deadline: float) -> None:
    # sleep() may wake early by a fraction of a millisecond; the model is a lower bound
    while (left := deadline - _now()) > 0:
        time.sleep(left)


def _recv_exact(sock: socket.socket, n: int) -> bytes | None:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
        if _QUICKACK is not None:
            # vpcd 3.3 sends the length and the payload in two writes; with Nagle on its
            # side and delayed ACK on ours each APDU would stall ~40 ms.  Linux clears
            # QUICKACK after use, so it is re-armed after every read.
            sock.setsockopt(socket.IPPROTO_TCP, _QUICKACK, 1)
    return bytes(buf)


def _send(sock: socket.socket, payload: bytes) -> None:
    sock.sendall(struct.pack(">H", len(payload)) + payload)

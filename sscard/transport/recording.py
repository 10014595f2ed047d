"""Record the exchanges of a session as a replayable trace (sscard.transport.replay).

The body of every command the spec marks sensitive (VERIFY, CHANGE PIN, EXTERNAL
AUTHENTICATE) is written as "*" wildcards: a PIN or a cryptogram never reaches the
file; so is the answer of a command marked secret_response (INTERNAL AUTHENTICATE: a
cryptogram), including the GET RESPONSEs that fetch it.  Other responses are recorded
as they came, so a recording of an identity read holds that person's data: treat the
file like the card.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
from pathlib import Path

from sscard.codec.apdu import CommandApdu
from sscard.errors import DecodeError, RecordingFailed
from sscard.spec import Spec, load_spec


class RecordingTransport:
    def __init__(self, inner, spec: Spec | None = None) -> None:
        self.inner = inner
        self.spec = spec or load_spec()
        self.description = inner.description
        self.exchanges: list[tuple[str, str]] = []
        self.command: dict | None = None  # {"name": "status", "bank_records": true}
        self._secret_pending = False  # a secret answer is still coming through 61xx
        if hasattr(inner, "transmit_within"):  # a transport that can hang keeps its deadline
            self.transmit_within = self._transmit_within

    def _transmit_within(self, apdu: bytes, seconds: float) -> bytes:
        return self._record(apdu, self.inner.transmit_within(apdu, seconds))

    @property
    def atr(self) -> bytes:
        return self.inner.atr

    def transmit(self, apdu: bytes) -> bytes:
        return self._record(apdu, self.inner.transmit(apdu))

    def _record(self, apdu: bytes, response: bytes) -> bytes:
        pattern, secret = self._pattern(apdu)
        answer = response.hex().upper()
        if secret and len(response) >= 2:
            answer = "*" * (len(answer) - 4) + answer[-4:]
            self._secret_pending = response[-2] == 0x61
        elif secret is False:
            self._secret_pending = False
        self.exchanges.append((pattern, answer))
        return response

    def _pattern(self, apdu: bytes) -> tuple[str, bool]:
        """The command as recorded, and whether its answer is secret (a GET RESPONSE is
        when it continues a secret answer; an unknown command is, by default)."""
        text = apdu.hex().upper()
        try:
            parsed = CommandApdu.parse(apdu)
        except DecodeError:
            return text[:8] + "*" * (len(text) - 8), True  # unknown shape: header only
        found = self.spec.commands.identify(parsed)
        if found is not None and found[0].name == "get_response":
            secret = self._secret_pending
        else:
            secret = found is None or found[0].secret_response
        if parsed.data and (found is None or found[0].sensitive):
            start = 10  # header + Lc
            end = start + 2 * len(parsed.data)
            text = text[:start] + "*" * (end - start) + text[end:]
        return text, secret

    def transaction(self):
        return self.inner.transaction()

    def recover_from_reset(self) -> bytes:
        return self.inner.recover_from_reset()

    def close(self) -> None:
        self.inner.close()

    def save(self, path: str | Path, *, overwrite: bool = False) -> None:
        """Write the trace to `path`, readable by its owner only (0600: it holds the card's
        data).  An existing regular file is replaced only with `overwrite`; a device or a
        pipe is written to.  A failed write leaves no partial file behind."""
        doc: dict[str, object] = {
            "format": "sscard.trace/1",
            "atr": self.atr.hex().upper(),
            "exchanges": [{"command": c, "response": r} for c, r in self.exchanges],
        }
        if self.command is not None:  # which CLI command made it, for `sscard replay`
            doc["sscard_command"] = self.command
        write_private(path, (json.dumps(doc, indent=1) + "\n").encode(), overwrite=overwrite)


def write_private(path: str | Path, data: bytes, *, overwrite: bool = False) -> None:
    """Create `path` with mode 0600 and write `data`, or RecordingFailed."""
    path = os.fspath(path)
    try:
        existing = os.stat(path)
    except FileNotFoundError:
        existing = None
    except OSError as e:
        raise _failed(path, e) from None
    regular = existing is None or stat.S_ISREG(existing.st_mode)
    if existing is not None and regular and not overwrite:
        raise RecordingFailed(
            f"cannot write the recording: {path} exists (not overwritten)",
            zh=f"无法写入 APDU 记录文件：{path} 已存在（未覆盖）",
        )
    if existing is None:  # O_EXCL: never through a symlink or a file created meanwhile
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    elif regular:
        flags = os.O_WRONLY | os.O_TRUNC | os.O_NOFOLLOW
    else:
        flags = os.O_WRONLY
    try:
        fd = os.open(path, flags, 0o600)
    except OSError as e:
        raise _failed(path, e) from None
    try:
        if regular:
            os.fchmod(fd, 0o600)  # an overwritten file loses wider permissions too
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    except OSError as e:
        os.close(fd)
        if regular:
            with contextlib.suppress(OSError):
                os.unlink(path)  # a truncated trace would replay as a shorter session
        raise _failed(path, e) from None
    os.close(fd)


def _failed(path: str, e: OSError) -> RecordingFailed:
    reason = e.strerror or type(e).__name__
    return RecordingFailed(
        f"cannot write the recording to {path}: {reason}",
        zh=f"无法写入 APDU 记录文件 {path}（{reason}）",
    )

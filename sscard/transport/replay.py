"""Replay a recorded list of exchanges; any command that was not recorded next is an error.

Recordings are JSON (written by sscard.transport.recording, `sscard read --record`):
{"format": "sscard.trace/1", "atr": hex, "exchanges": [{"command": hex, "response": hex}, ...],
"sscard_command": {"name": "read | status", "bank_records": bool, "logs": bool}}
(the last: which CLI command made it, for `sscard replay`; absent in recordings made by the
library).
A command recorded as a pattern with "*" bytes (e.g. a VERIFY body, never recorded in clear)
matches any byte at those positions.  A response recorded with "*" bytes (a cryptogram, e.g.
the answer to INTERNAL AUTHENTICATE) cannot be played back: reaching it is an error.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from sscard import errors

MAX_RECORDING = 16 * 1024 * 1024  # far above a status read with bank records (~50 KB)


def _parse_hex(text: str, where: str) -> bytes:
    try:
        return bytes.fromhex(text)
    except (TypeError, ValueError):
        raise errors.InvalidArgument(f"recording: {where} is not hex") from None


def _parse_response(text: str, where: str) -> bytes | None:
    """The recorded answer; None for one recorded without its (secret) data."""
    if isinstance(text, str) and "*" in text:
        _parse_hex(text.replace("*", "0"), where)  # the shape must still be hex
        return None
    return _parse_hex(text, where)


class ReplayTransport:
    def __init__(
        self, atr: bytes, exchanges: list[tuple[str, bytes | None]], description: str = "replay"
    ) -> None:
        self._atr = atr
        self._exchanges = list(exchanges)
        self.position = 0
        self.description = description
        self.command: dict | None = None  # the recorded CLI command (sscard_command)

    @classmethod
    def from_file(cls, path: str | Path) -> ReplayTransport:
        """A recording: a regular file of at most MAX_RECORDING bytes (never a FIFO or a
        device), any failure an InvalidArgument."""
        from sscard import inputs

        text = inputs.read_text_file(path, limit=MAX_RECORDING, what="the recording")
        doc = inputs.parse_json(text, "the recording")
        try:
            atr = _parse_hex(doc["atr"], "atr")
            items = [
                (
                    str(e["command"]).upper().replace(" ", ""),
                    _parse_response(e["response"], f"response {n}"),
                )
                for n, e in enumerate(doc["exchanges"])
            ]
            command = doc.get("sscard_command")
            if command is not None and not (
                isinstance(command, dict) and isinstance(command.get("name"), str)
            ):
                raise ValueError("sscard_command")
        except (ValueError, KeyError, TypeError, AttributeError):
            raise errors.InvalidArgument("recording is not a valid sscard trace") from None
        replay = cls(atr, items, f"replay: {Path(path).name}")
        replay.command = command
        return replay

    @property
    def atr(self) -> bytes:
        return self._atr

    @property
    def finished(self) -> bool:
        return self.position == len(self._exchanges)

    @property
    def remaining(self) -> int:
        return len(self._exchanges) - self.position

    def transmit(self, apdu: bytes) -> bytes:
        if self.position >= len(self._exchanges):
            raise errors.UnexpectedCommand(
                f"command {self.position + 1} was not recorded (the recording has "
                f"{len(self._exchanges)} exchanges)"
            )
        expected, response = self._exchanges[self.position]
        if not _matches(expected, apdu.hex().upper()):
            raise errors.UnexpectedCommand(
                f"command {self.position + 1} differs from the recording"
            )
        self.position += 1
        if response is None:
            raise errors.UnexpectedCommand(
                f"the answer to command {self.position} was not recorded (a cryptogram): "
                "this recording cannot be replayed past it"
            )
        return response

    def transaction(self):
        return contextlib.nullcontext()

    def recover_from_reset(self) -> bytes:
        raise errors.UnexpectedCommand("a recording cannot be reset")

    def close(self) -> None:
        pass


def _matches(pattern: str, actual: str) -> bool:
    if len(pattern) != len(actual):
        return False
    return all(p == a or p == "*" for p, a in zip(pattern, actual, strict=False))
